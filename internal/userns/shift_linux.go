package userns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// HostOf maps id through maps (container to host), and says whether maps cover it.
func HostOf(maps []IDMap, id int) (int, bool) {
	for _, m := range maps {
		if id >= m.Container && id < m.Container+m.Size {
			return m.Host + id - m.Container, true
		}
	}
	return 0, false
}

// ShiftTree gives every file under root the owner that shows as its current owner inside a
// user namespace with these maps: a file of uid u becomes HostOf(uids, u)'s, so a container
// whose root is not ours still sees its image's owners (what podman's storage does by
// copying, without idmapped mounts, which overlay in a user namespace lacks). Ids the maps
// do not cover are left. chown clears setuid and setgid bits and file capabilities; both are
// put back. It does not cross into other mounts.
func ShiftTree(root string, uids, gids []IDMap) error {
	var rootDev uint64
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		if p == root {
			rootDev = st.Dev
		} else if st.Dev != rootDev {
			return filepath.SkipDir
		}
		u, uok := HostOf(uids, int(st.Uid))
		g, gok := HostOf(gids, int(st.Gid))
		if !uok {
			u = int(st.Uid)
		}
		if !gok {
			g = int(st.Gid)
		}
		if u == int(st.Uid) && g == int(st.Gid) {
			return nil
		}
		isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
		var caps []byte
		if !isLink {
			if sz, err := unix.Lgetxattr(p, "security.capability", nil); err == nil && sz > 0 {
				caps = make([]byte, sz)
				if n, err := unix.Lgetxattr(p, "security.capability", caps); err == nil {
					caps = caps[:n]
				} else {
					caps = nil
				}
			}
		}
		if err := unix.Lchown(p, u, g); err != nil {
			return &os.PathError{Op: fmt.Sprintf("lchown %d:%d", u, g), Path: p, Err: err}
		}
		if isLink {
			return nil
		}
		if st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
			if err := unix.Chmod(p, st.Mode&07777); err != nil {
				return &os.PathError{Op: "chmod", Path: p, Err: err}
			}
		}
		if caps != nil {
			if err := unix.Lsetxattr(p, "security.capability", caps, 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
				return &os.PathError{Op: "restore security.capability", Path: p, Err: err}
			}
		}
		return nil
	})
}
