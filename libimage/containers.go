package libimage

import (
	"context"
	"fmt"
	"io"

	"github.com/berth-project/berth/libimage/driver"
)

// Writable layers of containers and build steps live in the same driver as image layers,
// under their own ids (which never look like chain IDs).

// CreateContainerLayer makes a writable layer id over the top layer of image imageID.
func (s *Store) CreateContainerLayer(ctx context.Context, id, imageID string) error {
	img, err := s.Lookup(ctx, imageID)
	if err != nil {
		return err
	}
	if err := s.drv.CreateRW(id, hexOf(img.TopLayer)); err != nil {
		return fmt.Errorf("create container layer %s: %w", id, err)
	}
	return nil
}

// MountContainerLayer mounts the writable layer id and returns its root filesystem.
func (s *Store) MountContainerLayer(ctx context.Context, id string) (string, error) {
	return s.drv.Mount(id)
}

// UnmountContainerLayer unmounts the writable layer id; it is idempotent.
func (s *Store) UnmountContainerLayer(ctx context.Context, id string) error {
	return s.drv.Unmount(id)
}

// RemoveContainerLayer deletes the writable layer id; it is idempotent.
func (s *Store) RemoveContainerLayer(ctx context.Context, id string) error {
	return s.drv.Remove(id)
}

// DiffContainerLayer streams the writable layer's changes as an OCI layer tar.
func (s *Store) DiffContainerLayer(ctx context.Context, id string, w io.Writer) error {
	return s.drv.Diff(ctx, id, w)
}

// LayerData is the storage driver's name and what it tells of layer id (a container's
// writable layer or an image's top layer, by chain ID), as inspect's GraphDriver shows them;
// a driver with nothing to tell gives nil data.
func (s *Store) LayerData(id string) (string, map[string]string) {
	d, ok := s.drv.(driver.Describer)
	if !ok {
		return s.drv.Name(), nil
	}
	data, err := d.Describe(hexOf(id))
	if err != nil {
		return s.drv.Name(), nil
	}
	return s.drv.Name(), data
}

// LayerSizes returns the uncompressed size of every stored image layer by chain ID.
func (s *Store) LayerSizes(ctx context.Context) (map[string]int64, error) {
	ls, err := s.meta.Layers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	out := make(map[string]int64, len(ls))
	for _, l := range ls {
		out[l.ChainID] = l.Size
	}
	return out, nil
}
