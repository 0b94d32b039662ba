package build

import (
	"io/fs"
	"syscall"
)

// fileOwner returns the uid and gid a file has on disk.
func fileOwner(fi fs.FileInfo) (int, int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}
