// Package driver stores layers on disk and assembles them into root filesystems. Layers are
// identified by chain ID (image layers) or by container/build ID (writable layers). Only this
// package touches layer directories.
package driver

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// Driver is what the image store needs from a storage driver.
type Driver interface {
	Name() string
	// ApplyLayer creates layer id over parent ("" for a base layer) from an uncompressed
	// layer tar. The layer appears under id only when complete.
	ApplyLayer(ctx context.Context, id, parent string, r io.Reader) (size int64, err error)
	// CreateRW creates an empty writable layer id over parent.
	CreateRW(id, parent string) error
	// Mount returns the merged root filesystem of id and its parents. Mounting a mounted
	// layer returns the same directory.
	Mount(id string) (dir string, err error)
	// Unmount undoes Mount; it is idempotent.
	Unmount(id string) error
	// Diff streams id's own changes as an OCI layer tar.
	Diff(ctx context.Context, id string, w io.Writer) error
	// Remove deletes layer id; it is idempotent.
	Remove(id string) error
	// Exists reports whether layer id is complete on disk.
	Exists(id string) bool
}

// New opens the driver name ("overlay", "vfs", or "" to choose) with its data under home.
func New(name, home string) (Driver, error) {
	switch name {
	case "vfs":
		return newVFS(filepath.Join(home, "vfs"))
	case "overlay", "overlay2":
		return newOverlay(filepath.Join(home, "overlay"), true)
	case "":
		if d, err := newOverlay(filepath.Join(home, "overlay"), false); err == nil {
			return d, nil
		}
		return newVFS(filepath.Join(home, "vfs"))
	}
	return nil, errdefs.Newf(errdefs.ErrInvalid, "unknown storage driver %q: want overlay or vfs", name)
}

// validID refuses ids that could name something outside the driver's home.
func validID(id string) error {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." || strings.HasPrefix(id, ".") {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid layer id %q", id)
	}
	return nil
}

// tempDir makes a staging directory named after this process, so a later New can tell a
// dead writer's leftovers from a live one's.
func tempDir(home string) (string, error) {
	return os.MkdirTemp(home, fmt.Sprintf(".tmp-%d-", os.Getpid()))
}

// cleanStale removes staging directories whose writer process is gone.
func cleanStale(home string) {
	entries, _ := os.ReadDir(home)
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, ".tmp-") {
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(n, ".tmp-"), "-", 2)[0])
		if err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			os.RemoveAll(filepath.Join(home, n))
		}
	}
}

func readParent(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "parent"))
	return strings.TrimSpace(string(b))
}

// drain reads what the tar reader left after the end-of-archive marker, so a verifying
// reader underneath sees EOF and can report a digest mismatch before the layer is committed.
func drain(r io.Reader, err error) error {
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, r)
	return err
}

// Describer is an optional ability: the paths of a layer as inspect's GraphDriver.Data shows
// them (Docker's overlay2 keys: LowerDir, UpperDir, MergedDir, WorkDir).
type Describer interface {
	Describe(id string) (map[string]string, error)
}
