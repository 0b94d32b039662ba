package cgroups

import (
	"os"

	"golang.org/x/sys/unix"
)

// Mode is the host's cgroup layout.
type Mode string

const (
	Legacy  Mode = "v1"     // only cgroup v1 hierarchies
	Hybrid  Mode = "hybrid" // v1 controllers, with a v2 hierarchy at /sys/fs/cgroup/unified
	Unified Mode = "v2"     // pure cgroup v2
)

// DetectMode reads the layout of /sys/fs/cgroup.
func DetectMode() Mode {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Unified
	}
	if err := unix.Statfs("/sys/fs/cgroup/unified", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Hybrid
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err == nil {
		return Legacy
	}
	return Hybrid
}
