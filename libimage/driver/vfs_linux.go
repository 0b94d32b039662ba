package driver

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/libimage/archive"
)

// vfs keeps every layer as a full copy of its tree: slow and large, but it works on any
// filesystem and needs no mount privileges.
type vfs struct{ home string }

var _ Driver = (*vfs)(nil)

func newVFS(home string) (*vfs, error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("vfs driver: %w", err)
	}
	cleanStale(home)
	return &vfs{home: home}, nil
}

func (d *vfs) Name() string          { return "vfs" }
func (d *vfs) dir(id string) string  { return filepath.Join(d.home, id) }
func (d *vfs) root(id string) string { return filepath.Join(d.home, id, "root") }
func (d *vfs) Exists(id string) bool {
	_, err := os.Stat(d.root(id))
	return validID(id) == nil && err == nil
}
func (d *vfs) Mount(id string) (string, error) {
	if !d.Exists(id) {
		return "", fmt.Errorf("mount layer %s: %w", id, os.ErrNotExist)
	}
	return d.root(id), nil
}
func (d *vfs) Unmount(id string) error { return nil }

// create stages a copy of parent, lets fill change it, and renames it into place.
func (d *vfs) create(ctx context.Context, id, parent string, fill func(root string) error) (retErr error) {
	if err := validID(id); err != nil {
		return err
	}
	tmp, err := tempDir(d.home)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(tmp)
		}
	}()
	root := filepath.Join(tmp, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	if parent != "" {
		if !d.Exists(parent) {
			return fmt.Errorf("parent layer %s: %w", parent, os.ErrNotExist)
		}
		if err := copyTree(ctx, d.root(parent), root); err != nil {
			return fmt.Errorf("copy parent %s: %w", parent, err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "parent"), []byte(parent), 0o600); err != nil {
		return err
	}
	if fill != nil {
		if err := fill(root); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, d.dir(id)); err != nil {
		return fmt.Errorf("commit layer %s: %w", id, err)
	}
	return nil
}

// copyTree copies src into dst through a tar stream, which keeps owners, modes, xattrs,
// hard links and devices exactly as extraction does.
func copyTree(ctx context.Context, src, dst string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Tar(ctx, src, pw, nil)) }()
	_, err := archive.Unpack(ctx, pr, dst, &archive.UnpackOptions{Whiteouts: archive.WhiteoutApply})
	pr.CloseWithError(err)
	return err
}

func (d *vfs) ApplyLayer(ctx context.Context, id, parent string, r io.Reader) (int64, error) {
	var n int64
	err := d.create(ctx, id, parent, func(root string) error {
		var err error
		n, err = archive.Unpack(ctx, r, root, &archive.UnpackOptions{Whiteouts: archive.WhiteoutApply, SkipDevices: os.Geteuid() != 0})
		return drain(r, err)
	})
	if err != nil {
		return 0, fmt.Errorf("apply layer %s: %w", id, err)
	}
	return n, nil
}

func (d *vfs) CreateRW(id, parent string) error {
	return d.create(context.Background(), id, parent, nil)
}

func (d *vfs) Diff(ctx context.Context, id string, w io.Writer) error {
	if !d.Exists(id) {
		return fmt.Errorf("diff layer %s: %w", id, os.ErrNotExist)
	}
	parent := readParent(d.dir(id))
	if parent == "" {
		return archive.Tar(ctx, d.root(id), w, nil)
	}
	return archive.DiffDirs(ctx, d.root(parent), d.root(id), w, nil)
}

func (d *vfs) Remove(id string) error {
	if err := validID(id); err != nil {
		return err
	}
	// Rename first so a half-removed layer never looks complete.
	tmp := filepath.Join(d.home, fmt.Sprintf(".tmp-%d-rm-%s", os.Getpid(), id))
	if err := os.Rename(d.dir(id), tmp); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("remove layer %s: %w", id, err)
	}
	return os.RemoveAll(tmp)
}
