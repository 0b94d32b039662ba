// Package filecopy copies regular files between host paths. It is shared by the build
// library and the engine, which both stage private copies of context files for RUN steps;
// it never follows or recreates owners, links or directories, which callers handle.
package filecopy

import (
	"io"
	"io/fs"
	"os"
)

// Regular copies the regular file src to dst, created (or truncated) with perm.
func Regular(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
