package build

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// maxSymlinks bounds symlink resolution, as the kernel's MAXSYMLINKS does.
const maxSymlinks = 40

// resolveInRoot resolves p (slash path) inside root the way a chroot would: symlinks are
// followed with root as "/", ".." never climbs above it. The final component is followed
// only when followLast is set. Components that do not exist are kept as written. The result
// is an absolute slash path relative to root.
func resolveInRoot(root, p string, followLast bool) (string, error) {
	parts := splitPath(p)
	done := "/"
	links := 0
	for len(parts) > 0 {
		c := parts[0]
		parts = parts[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			done = path.Dir(done)
			continue
		}
		next := path.Join(done, c)
		if len(parts) == 0 && !followLast {
			return next, nil
		}
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(next)))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) || isNotDir(err) {
			return path.Join(append([]string{next}, parts...)...), nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = next
			continue
		}
		links++
		if links > maxSymlinks {
			return "", errdefs.Newf(errdefs.ErrInvalid, "resolve %s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(filepath.Join(root, filepath.FromSlash(next)))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			done = "/"
		}
		parts = append(splitPath(target), parts...)
	}
	return done, nil
}

func splitPath(p string) []string {
	return strings.Split(filepath.ToSlash(p), "/")
}

func isNotDir(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "not a directory")
}

// checkInside refuses a source path that climbs out of the context.
func checkInside(src string) error {
	clean := path.Clean(filepath.ToSlash(src))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return errdefs.Newf(errdefs.ErrInvalid, "forbidden path outside the build context: %s", src)
	}
	return nil
}
