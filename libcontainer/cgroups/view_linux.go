package cgroups

import (
	"fmt"
	"os"
	"sync"
)

// hostHierarchies lists the cgroup hierarchies mounted at /sys/fs/cgroup or directly under it.
// It reads mountinfo once per process: that file grows with every mount on the host (each
// running container's root filesystem), and what is mounted under /sys/fs/cgroup does not
// change while one command runs (`rm -af` destroys a cgroup per container).
func hostHierarchies() ([]Hierarchy, error) {
	hierarchies.Lock()
	defer hierarchies.Unlock()
	if hierarchies.list != nil {
		return hierarchies.list, nil
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	hierarchies.list = ParseMountinfo(string(b), root)
	if hierarchies.list == nil {
		hierarchies.list = []Hierarchy{}
	}
	return hierarchies.list, nil
}

var hierarchies struct {
	sync.Mutex
	list []Hierarchy
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
