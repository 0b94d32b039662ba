package cgroups

import (
	"fmt"
	"os"
)

// hostHierarchies lists the cgroup hierarchies mounted at /sys/fs/cgroup or directly under it.
func hostHierarchies() ([]Hierarchy, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return ParseMountinfo(string(b), root), nil
}

// OwnViews returns, for every hierarchy the host mounts, the host directory of the calling
// process's own cgroup: what its container may see. Read it before entering a new cgroup
// namespace, whose /proc/self/cgroup and mountinfo show paths relative to the namespace.
func OwnViews() ([]View, error) {
	hs, err := hostHierarchies()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroup: %w", err)
	}
	return Views(hs, ParseProcCgroup(string(b))), nil
}
