package kube

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// WriteFiles writes the ConfigMap or Secret volume fs beneath root, berth's own kube
// directory, which fs.Dir must lie in. Podman's CVE-2025-9566 came from re-playing over a
// volume where a symlink had been planted: its write followed the link onto the host. Here
// every path is resolved with openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS from an open root,
// every file is created O_EXCL|O_NOFOLLOW in a fresh directory, and that directory is then
// exchanged with the old one in one rename, so nothing is ever written through a link and a
// container never sees a half-written volume.
func WriteFiles(root string, fs FileSet) (retErr error) {
	rel, err := beneath(root, fs.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("write volume %s: %w", fs.Dir, err)
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("write volume %s: open %s: %w", fs.Dir, root, err)
	}
	defer unix.Close(rootFd)
	parentRel, name := filepath.Split(rel)
	parent, err := mkdirAllAt(rootFd, parentRel, 0o700)
	if err != nil {
		return fmt.Errorf("write volume %s: %w", fs.Dir, err)
	}
	defer unix.Close(parent)
	tmp := ".tmp-" + name + "-" + randomHex()
	if err := unix.Mkdirat(parent, tmp, 0o755); err != nil {
		return fmt.Errorf("write volume %s: %w", fs.Dir, &os.PathError{Op: "mkdirat", Path: tmp, Err: err})
	}
	defer func() {
		if tmp != "" {
			os.RemoveAll(filepath.Join(root, parentRel, tmp)) // RemoveAll never follows links
		}
	}()
	dir, err := openBeneath(parent, tmp, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("write volume %s: %w", fs.Dir, err)
	}
	defer unix.Close(dir)
	for _, f := range fs.Files {
		if err := writeFileAt(dir, f); err != nil {
			return fmt.Errorf("write volume %s: %w", fs.Dir, err)
		}
	}
	// Swap the new directory in: an exchange when an old one (or anything else) is there,
	// else a rename that refuses to replace what appears meanwhile.
	err = unix.Renameat2(parent, tmp, parent, name, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOENT) {
		err = unix.Renameat2(parent, tmp, parent, name, unix.RENAME_NOREPLACE)
		if err == nil {
			tmp = ""
		}
	}
	if err != nil {
		return fmt.Errorf("write volume %s: %w", fs.Dir, &os.PathError{Op: "rename", Path: name, Err: err})
	}
	return nil // the deferred RemoveAll takes the old directory, now named tmp
}

// RemoveFiles removes what WriteFiles wrote for pod beneath root.
func RemoveFiles(root, pod string) error {
	if !validName(pod) {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid pod name %q", pod)
	}
	if err := os.RemoveAll(filepath.Join(root, pod)); err != nil {
		return fmt.Errorf("remove volume files of pod %s: %w", pod, err)
	}
	return nil
}

// beneath returns dir relative to root, refusing anything that is not strictly inside it.
func beneath(root, dir string) (string, error) {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) || !filepath.IsAbs(root) {
		return "", errdefs.Newf(errdefs.ErrInvalid, "volume directory %s is not beneath %s", dir, root)
	}
	return rel, nil
}

func openBeneath(dirfd int, p string, flags uint64, mode uint64) (int, error) {
	fd, err := unix.Openat2(dirfd, p, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC | unix.O_NOFOLLOW, Mode: mode,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	for errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
		fd, err = unix.Openat2(dirfd, p, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC | unix.O_NOFOLLOW, Mode: mode,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	}
	if err != nil {
		return -1, &os.PathError{Op: "openat2", Path: p, Err: err}
	}
	return fd, nil
}

// mkdirAllAt creates each directory of rel below dirfd (none may be a link) and returns the
// last one opened as an O_PATH descriptor.
func mkdirAllAt(dirfd int, rel string, mode uint32) (int, error) {
	cur, err := unix.Dup(dirfd)
	if err != nil {
		return -1, err
	}
	for _, part := range strings.Split(filepath.Clean(rel), "/") {
		if part == "" || part == "." {
			continue
		}
		if part == ".." {
			unix.Close(cur)
			return -1, errdefs.Newf(errdefs.ErrInvalid, "path %q leaves its directory", rel)
		}
		if err := unix.Mkdirat(cur, part, mode); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(cur)
			return -1, &os.PathError{Op: "mkdirat", Path: part, Err: err}
		}
		next, err := openBeneath(cur, part, unix.O_PATH|unix.O_DIRECTORY, 0)
		unix.Close(cur)
		if err != nil {
			return -1, err
		}
		cur = next
	}
	return cur, nil
}

// writeFileAt creates f (and its directories) below dirfd: a new file, never a link's target.
func writeFileAt(dirfd int, f File) error {
	d, name := filepath.Split(f.Path)
	parent, err := mkdirAllAt(dirfd, d, 0o755)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	fd, err := openBeneath(parent, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, uint64(f.Mode.Perm()))
	if err != nil {
		return err
	}
	file := os.NewFile(uintptr(fd), f.Path)
	defer file.Close()
	if _, err := file.Write(f.Data); err != nil {
		return err
	}
	if err := file.Chmod(f.Mode.Perm()); err != nil { // the umask narrowed the mode at create
		return err
	}
	return file.Close()
}

func randomHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
