package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libimage"
)

// DiskUsage is what `system df` reports: every image, container, volume and build cache
// entry with the bytes it holds.
type DiskUsage struct {
	Images     []ImageUsage
	Containers []ContainerUsage
	Volumes    []VolumeUsage
	BuildCache []BuildCacheUsage
	// LayersSize counts every image layer once, however many images share it.
	LayersSize int64
	// LayerSizes is the size of each image layer by chain ID.
	LayerSizes map[string]int64
}

// ImageUsage is one image: its size, the part it shares with other images, and how many
// containers were made from it.
type ImageUsage struct {
	Image      *libimage.Image
	Layers     []string // chain IDs, bottom first
	Size       int64
	SharedSize int64
	Containers int
}

// ContainerUsage is one container and the bytes of its writable layer.
type ContainerUsage struct {
	Container *Container
	Size      int64
}

// VolumeUsage is one volume, the bytes in it, and how many containers mount it.
type VolumeUsage struct {
	Volume *Volume
	Size   int64
	Links  int
}

// BuildCacheUsage is one build cache entry: an intermediate image or a cache mount.
type BuildCacheUsage struct {
	ID, Type string
	Size     int64
	InUse    bool
}

// DiskUsage measures what this root holds.
func (e *Engine) DiskUsage(ctx context.Context) (*DiskUsage, error) {
	store, err := e.Images(ctx)
	if err != nil {
		return nil, err
	}
	imgs, err := store.List(ctx)
	if err != nil {
		return nil, err
	}
	sizes, err := store.LayerSizes(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := e.Containers(ctx)
	if err != nil {
		return nil, err
	}
	inter, err := e.IntermediateImages(ctx)
	if err != nil {
		return nil, err
	}
	du := &DiskUsage{LayerSizes: sizes}
	for _, s := range sizes {
		du.LayersSize += s
	}
	users := map[string]int{} // image ID -> containers
	for _, c := range cs {
		users[c.ImageID]++
		du.Containers = append(du.Containers, ContainerUsage{Container: c, Size: e.writableSize(ctx, store, c)})
	}
	layerImages := map[string]int{} // chain ID -> images holding it
	for _, img := range imgs {
		for _, ch := range libimage.ChainIDs(img) {
			layerImages[ch]++
		}
	}
	for _, img := range imgs {
		if inter[img.ID] && len(img.Names) == 0 {
			du.BuildCache = append(du.BuildCache, BuildCacheUsage{ID: img.ID, Type: "regular", Size: img.Size, InUse: users[img.ID] > 0})
			continue
		}
		u := ImageUsage{Image: img, Layers: libimage.ChainIDs(img), Size: img.Size, Containers: users[img.ID]}
		for _, ch := range u.Layers {
			if layerImages[ch] > 1 {
				u.SharedSize += sizes[ch]
			}
		}
		du.Images = append(du.Images, u)
	}
	vs, err := e.Volumes(ctx)
	if err != nil {
		return nil, err
	}
	links := map[string]int{}
	for _, c := range cs {
		for _, m := range c.Options.Mounts {
			if m.Type == "volume" {
				links[m.Source]++
			}
		}
	}
	for _, v := range vs {
		du.Volumes = append(du.Volumes, VolumeUsage{Volume: v, Size: dirSize(v.Mountpoint), Links: links[v.Name]})
	}
	if ents, err := os.ReadDir(e.cacheDir()); err == nil {
		for _, en := range ents {
			if en.IsDir() {
				du.BuildCache = append(du.BuildCache, BuildCacheUsage{ID: en.Name(), Type: "exec.cachemount", Size: dirSize(filepath.Join(e.cacheDir(), en.Name()))})
			}
		}
	}
	return du, nil
}

// writableSize is the bytes in a container's writable layer: the driver's upper directory
// when it names one, else the size of the layer's diff.
func (e *Engine) writableSize(ctx context.Context, store *libimage.Store, c *Container) int64 {
	if _, data := store.LayerData(c.ID); data["UpperDir"] != "" {
		return dirSize(data["UpperDir"])
	}
	rw, _, err := e.ContainerSize(ctx, c)
	if err != nil {
		return 0
	}
	return rw
}

// dirSize adds up the sizes of the regular files under dir; what it cannot read counts 0.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// SystemPruneOptions are `system prune`'s flags.
type SystemPruneOptions struct {
	All     bool // every unused image, not only dangling ones; the whole build cache
	Volumes bool // unused anonymous volumes too
	Filter  PruneFilter
}

// SystemPruneReport is what each part of a system prune removed, and the bytes that freed.
type SystemPruneReport struct {
	Containers, Networks, Volumes, Images, BuildCache []string
	Reclaimed                                         int64
}

// SystemPrune removes stopped containers, unused networks, dangling (with All, unused)
// images and the build cache, and with Volumes unused anonymous volumes, in Docker's order.
// It returns what it removed up to the first failure.
func (e *Engine) SystemPrune(ctx context.Context, o SystemPruneOptions) (*SystemPruneReport, error) {
	r := &SystemPruneReport{}
	var err error
	var n int64
	if r.Containers, n, err = e.PruneContainers(ctx, o.Filter); err != nil {
		return r, fmt.Errorf("system prune: containers: %w", err)
	}
	r.Reclaimed += n
	if r.Networks, err = e.PruneNetworks(ctx, o.Filter); err != nil {
		return r, fmt.Errorf("system prune: networks: %w", err)
	}
	if o.Volumes {
		if r.Volumes, n, err = e.PruneVolumes(ctx, false, o.Filter); err != nil {
			return r, fmt.Errorf("system prune: volumes: %w", err)
		}
		r.Reclaimed += n
	}
	// The build cache's intermediate images are layers too: measure both parts together.
	store, err := e.Images(ctx)
	if err != nil {
		return r, err
	}
	before, err := store.LayerSizes(ctx)
	if err != nil {
		return r, err
	}
	if r.Images, _, err = e.PruneImages(ctx, o.All, o.Filter); err != nil {
		return r, fmt.Errorf("system prune: images: %w", err)
	}
	mounts := e.cacheMountsSize()
	if r.BuildCache, err = e.PruneBuilder(ctx, BuilderPruneOptions{All: o.All}); err != nil {
		return r, fmt.Errorf("system prune: build cache: %w", err)
	}
	r.Reclaimed += mounts - e.cacheMountsSize()
	if after, err := store.LayerSizes(ctx); err == nil {
		for ch, size := range before {
			if _, ok := after[ch]; !ok {
				r.Reclaimed += size
			}
		}
	}
	return r, nil
}

// Reset removes every container (killing running ones), network, volume, image and the
// build cache, then the storage and runtime roots themselves, as `podman system reset`
// does. The next command starts from an empty root.
func (e *Engine) Reset(ctx context.Context) error {
	cs, err := e.Containers(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := e.RemoveContainer(ctx, c.ID, RemoveOptions{Force: true, Volumes: true}); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("reset: %w", err)
		}
	}
	ns, err := e.Networks(ctx)
	if err != nil {
		return err
	}
	for _, n := range ns {
		if err := e.RemoveNetwork(ctx, n.Name, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrInvalid) {
			return fmt.Errorf("reset: %w", err)
		}
	}
	if err := e.pruneNetworkLeftovers(ctx); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if _, err := e.PruneBuilder(ctx, BuilderPruneOptions{All: true}); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if _, _, err := e.PruneImages(ctx, true, PruneFilter{}); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if err := e.Close(); err != nil {
		return fmt.Errorf("reset: close the database: %w", err)
	}
	for _, dir := range []string{e.Config.Root, e.Config.RunRoot} {
		if err := removeContents(dir); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	return nil
}

// cacheMountsSize is the bytes the build's cache mounts hold.
func (e *Engine) cacheMountsSize() int64 { return dirSize(e.cacheDir()) }

// removeContents empties dir, leaving dir itself (it may be a mount point or be made by the
// administrator with its own mode).
func removeContents(dir string) error {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, en := range ents {
		if err := os.RemoveAll(filepath.Join(dir, en.Name())); err != nil {
			return err
		}
	}
	return nil
}

// Total is every byte the usage counts: image layers once each, writable layers, volumes and
// cache mounts (intermediate images are among the layers).
func (du *DiskUsage) Total() int64 {
	n := du.LayersSize
	for _, u := range du.Containers {
		n += u.Size
	}
	for _, u := range du.Volumes {
		n += u.Size
	}
	for _, u := range du.BuildCache {
		if u.Type != "regular" {
			n += u.Size
		}
	}
	return n
}
