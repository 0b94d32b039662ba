//go:build !linux

package cgroups

// Mode is the host's cgroup layout.
type Mode string

// DetectMode reports that cgroups are unavailable off Linux.
func DetectMode() Mode { return "none" }
