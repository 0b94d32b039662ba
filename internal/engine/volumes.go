package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/libimage/archive"
)

// Volume is a named volume: a directory under the root that outlives containers.
type Volume struct {
	Name       string
	Driver     string
	Mountpoint string
	CreatedAt  time.Time
	Labels     map[string]string
	Options    map[string]string
	Scope      string
}

// Anonymous says the volume was made for one container (-v /dst, an image VOLUME).
func (v *Volume) Anonymous() bool { return v.Labels["berth.anonymous"] == "true" }

func (e *Engine) volumeDir(name string) string { return filepath.Join(e.Config.Root, "volumes", name) }

// CreateVolume creates a named volume; an empty name makes one up, as Docker does for -v /dst.
func (e *Engine) CreateVolume(ctx context.Context, name string, labels map[string]string) (*Volume, error) {
	if name == "" {
		name = randomID()
	} else if !validName(name) {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid volume name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	if labels == nil {
		labels = map[string]string{}
	}
	v := &Volume{Name: name, Driver: "local", Mountpoint: filepath.Join(e.volumeDir(name), "_data"),
		CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: labels, Options: map[string]string{}, Scope: "local"}
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	if err := db.Volumes().Insert(ctx, name, v.CreatedAt.UnixNano(), v); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(v.Mountpoint, 0o755); err != nil {
		_ = db.Volumes().Delete(ctx, name)
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	e.volumeEvent("create", v)
	return v, nil
}

// Volume loads one volume.
func (e *Engine) Volume(ctx context.Context, name string) (*Volume, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var v Volume
	return &v, db.Volumes().Get(ctx, name, &v)
}

// Volumes lists every volume by name.
func (e *Engine) Volumes(ctx context.Context) ([]*Volume, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Volume
	return out, db.Volumes().List(ctx, func(b []byte) error {
		var v Volume
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		out = append(out, &v)
		return nil
	})
}

// VolumeUsers returns the names of the containers that mount the volume.
func (e *Engine) VolumeUsers(ctx context.Context, name string) ([]string, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var users []string
	err = db.Containers().List(ctx, func(b []byte) error {
		var c Container
		if err := json.Unmarshal(b, &c); err != nil {
			return err
		}
		for _, m := range c.Options.Mounts {
			if m.Type == "volume" && m.Source == name {
				users = append(users, c.Name)
				break
			}
		}
		return nil
	})
	return users, err
}

// RemoveVolume removes a volume that no container uses; force removes it even then.
func (e *Engine) RemoveVolume(ctx context.Context, name string, force bool) error {
	v, err := e.Volume(ctx, name)
	if err != nil {
		return err
	}
	if !force {
		users, err := e.VolumeUsers(ctx, name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return errdefs.Newf(errdefs.ErrInUse, "remove %s: volume is in use by container %s", name, users[0])
		}
	}
	if err := os.RemoveAll(e.volumeDir(v.Name)); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	if err := db.Volumes().Delete(ctx, name); err != nil {
		return err
	}
	e.volumeEvent("destroy", v)
	return nil
}

// PruneVolumes removes every volume f matches that no container uses (only anonymous ones
// unless all, or the filter's all=true) and returns their names.
// It also returns the bytes they held, and records Docker's volume prune event.
func (e *Engine) PruneVolumes(ctx context.Context, all bool, f PruneFilter) ([]string, int64, error) {
	if f.All != nil {
		all = all || *f.All
	}
	vs, err := e.Volumes(ctx)
	if err != nil {
		return nil, 0, err
	}
	var out []string
	var reclaimed int64
	for _, v := range vs {
		if (!all && !v.Anonymous()) || !f.Match(v.Labels, v.CreatedAt) {
			continue
		}
		size := dirSize(v.Mountpoint)
		err := e.RemoveVolume(ctx, v.Name, false)
		if errors.Is(err, errdefs.ErrInUse) || errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, reclaimed, err
		}
		out = append(out, v.Name)
		reclaimed += size
	}
	e.pruneEvent(events.Volume, reclaimed)
	return out, reclaimed, nil
}

// seedVolume copies the image's content at the mount point into a new, empty volume, as
// Docker does; a volume is seeded once.
func (e *Engine) seedVolume(ctx context.Context, v *Volume, rootfs, target string) error {
	marker := filepath.Join(e.volumeDir(v.Name), ".seeded")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	defer os.WriteFile(marker, nil, 0o600)
	if ents, err := os.ReadDir(v.Mountpoint); err != nil || len(ents) > 0 {
		return err
	}
	src, err := secureJoin(rootfs, target)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return nil // nothing to copy
	}
	return copyTree(ctx, src, v.Mountpoint)
}

// copyTree copies a directory's content with owners, modes and times, through a tar stream.
func copyTree(ctx context.Context, src, dst string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Tar(ctx, src, pw, nil)) }()
	_, err := archive.Unpack(ctx, pr, dst, &archive.UnpackOptions{Whiteouts: archive.WhiteoutApply})
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}
