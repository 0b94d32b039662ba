// Package kube translates Kubernetes YAML to and from berth's engine options. Play decodes
// k8s.io/api objects (Pod, Deployment, DaemonSet, Job, ConfigMap, Secret,
// PersistentVolumeClaim, Service, List) into a [Plan] of pods, containers and volumes and a
// report of every kind or field berth does not apply; generate turns container and pod records
// back into objects that strict-decode into the same types. Both directions are pure functions
// of their input; applying a plan to an engine lives in apply.go and writes ConfigMap and Secret
// files only beneath berth's own directory, never through a symlink.
package kube
