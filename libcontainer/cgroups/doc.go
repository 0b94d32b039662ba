// Package cgroups owns a container's cgroup: creating it, applying resource limits, freezing
// it, reading its stats and removing it, for cgroup v1, v2 and hybrid hosts.
package cgroups
