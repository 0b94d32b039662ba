package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// hostMemInfo returns the host's total and available memory in bytes, from /proc/meminfo.
func hostMemInfo() (total, free int64) {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "MemTotal:":
			total = n * 1024
		case "MemAvailable:":
			free = n * 1024
		}
	}
	return total, free
}

// backingFilesystem names the filesystem holding dir (or its nearest existing parent) as
// Docker's info does ("extfs", "xfs", ...).
func backingFilesystem(dir string) string {
	var st unix.Statfs_t
	for {
		if err := unix.Statfs(dir, &st); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "<unknown>"
		}
		dir = parent
	}
	switch int64(st.Type) {
	case unix.EXT4_SUPER_MAGIC:
		return "extfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return "<unknown>"
}
