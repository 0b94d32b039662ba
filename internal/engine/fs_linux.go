package engine

import (
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// secureJoin resolves path inside root as the container would see it: symlinks and ".." stay
// within root (openat2 RESOLVE_IN_ROOT). A missing last element is joined unresolved.
func secureJoin(root, path string) (string, error) {
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(rootfd)
	rel := filepath.Clean("/" + path)
	fd, err := unix.Openat2(rootfd, rel, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err == unix.ENOENT && rel != "/" {
		dir, err := secureJoin(root, filepath.Dir(rel))
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, filepath.Base(rel)), nil
	}
	if err != nil {
		return "", &os.PathError{Op: "resolve", Path: path, Err: err}
	}
	defer unix.Close(fd)
	return os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
}
