// Package cdi gives containers devices described by Container Device Interface specs
// (tags.cncf.io/container-device-interface): it reads the specs from the configured
// directories, resolves fully-qualified names such as vendor.com/class=name, applies their
// container edits (device nodes with their cgroup rules, mounts, env, hooks) to an OCI spec,
// maps Docker's --gpus requests to NVIDIA CDI names, and writes an NVIDIA spec from what a
// host's driver installed.
//
// It never touches a container: the engine calls it where it builds the OCI spec.
package cdi
