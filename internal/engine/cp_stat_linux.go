package engine

import (
	"context"
	"os"
	"path"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// PathStat describes a path in a container, as the Engine API's archive endpoints report
// it (X-Docker-Container-Path-Stat).
type PathStat struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       os.FileMode `json:"mode"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget"`
}

// StatContainerPath stats p as the container sees it (without following a last symlink),
// for `docker cp` through the API.
func (e *Engine) StatContainerPath(ctx context.Context, ref, p string) (*PathStat, error) {
	var st *PathStat
	err := e.withPath(ctx, ref, p, false, func(c *Container, resolved, _ string) error {
		fi, err := os.Lstat(resolved)
		if err != nil {
			return errdefs.Newf(errdefs.ErrNotFound, "Could not find the file %s in container %s", p, c.Name)
		}
		st = &PathStat{Name: path.Base(path.Clean("/" + p)), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
		if fi.Mode()&os.ModeSymlink != 0 {
			st.LinkTarget, _ = os.Readlink(resolved)
		}
		return nil
	})
	return st, err
}
