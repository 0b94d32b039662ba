package engine

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// secureJoin resolves p inside root as the container would see it: every symlink on the way
// is resolved against root and ".." stops at root, so the result never leaves root (like
// filepath-securejoin). root may be /proc/PID/root. Missing elements are joined unresolved.
func secureJoin(root, p string) (string, error) {
	resolved := "" // relative to root, free of symlinks
	rest := p
	for links := 0; rest != ""; {
		rest = strings.TrimLeft(rest, "/")
		elem, tail, _ := strings.Cut(rest, "/")
		rest = tail
		switch elem {
		case "", ".":
			continue
		case "..":
			if resolved = path.Dir(resolved); resolved == "." {
				resolved = ""
			}
			continue
		}
		next := path.Join(resolved, elem)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if links++; links > 255 {
			return "", errdefs.Newf(errdefs.ErrInvalid, "resolve %s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			resolved = ""
		}
		rest = target + "/" + rest
	}
	return filepath.Join(root, resolved), nil
}
