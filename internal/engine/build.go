package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/berth-project/berth/build"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/internal/state"
	"github.com/berth-project/berth/libimage"
)

// buildBackend is the engine's [build.Backend]: images from the store (pulled when missing),
// RUN steps in berth's own runtime on an overlay of the parent, commits into the store, and
// the layer cache in the state database. Every image a step produces is recorded as an
// intermediate, hidden from `images` until it is a build's result.
type buildBackend struct {
	e     *Engine
	store *libimage.Store
	cache state.BuildCache
	// network is the default for RUN steps whose spec names none.
	network string
	// devices and cdiDevices are given to every RUN step (build --device).
	devices    []Device
	cdiDevices []string
	// userNS holds the RUN steps' --userns and id maps (build --userns, --uidmap, --gidmap).
	userNS CreateOptions

	mu       sync.Mutex
	produced map[string]bool
}

var _ build.Backend = (*buildBackend)(nil)

// newBuildBackend opens what a build needs: the store and the database.
func (e *Engine) newBuildBackend(ctx context.Context, network string) (*buildBackend, error) {
	switch network {
	case "", "default", "host", "none":
	default:
		return nil, errdefs.Newf(errdefs.ErrInvalid, "network mode %q not supported for build: want default, host or none", network)
	}
	store, db, err := e.storeAndDB(ctx)
	if err != nil {
		return nil, err
	}
	if network == "default" {
		network = ""
	}
	e.sweepBuilds(ctx, store)
	return &buildBackend{e: e, store: store, cache: db.BuildCache(), network: network, produced: map[string]bool{}}, nil
}

func toBuildImage(img *libimage.Image) build.Image {
	return build.Image{ID: img.ID, Config: *img.Config}
}

// image looks up a build image in the store; scratch (no ID) is nil.
func (b *buildBackend) image(ctx context.Context, img build.Image) (*libimage.Image, error) {
	if img.ID == "" {
		return nil, nil
	}
	return b.store.Lookup(ctx, img.ID)
}

// Pull resolves ref in the store, pulling it when it is missing or when pull is set.
func (b *buildBackend) Pull(ctx context.Context, ref string, pull bool) (build.Image, error) {
	if !pull {
		img, err := b.store.Lookup(ctx, ref)
		if err == nil {
			return toBuildImage(img), nil
		}
		if !errors.Is(err, errdefs.ErrNotFound) {
			return build.Image{}, err
		}
	}
	img, err := b.store.Pull(ctx, ref, nil)
	if err != nil {
		return build.Image{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	return toBuildImage(img), nil
}

// Commit stores parent plus layer (nil: config only) as a new intermediate image.
func (b *buildBackend) Commit(ctx context.Context, parent build.Image, layer io.Reader, c build.CommitOptions) (build.Image, error) {
	p, err := b.image(ctx, parent)
	if err != nil {
		return build.Image{}, err
	}
	img, err := b.store.CommitLayer(ctx, p, layer, &libimage.LayerCommit{Config: c.Config, History: c.History, Created: c.Created, Epoch: c.Epoch})
	if err != nil {
		return build.Image{}, err
	}
	if err := b.markProduced(ctx, img.ID); err != nil {
		return build.Image{}, err
	}
	return toBuildImage(img), nil
}

func (b *buildBackend) markProduced(ctx context.Context, id string) error {
	b.mu.Lock()
	seen := b.produced[id]
	b.produced[id] = true
	b.mu.Unlock()
	if seen {
		return nil
	}
	return b.cache.MarkIntermediate(ctx, id)
}

// CacheGet returns the image a step with key produced; an entry whose image was removed is
// a miss.
func (b *buildBackend) CacheGet(ctx context.Context, key string) (build.Image, bool, error) {
	id, err := b.cache.Get(ctx, key)
	if err != nil || id == "" {
		return build.Image{}, false, err
	}
	img, err := b.store.Lookup(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return build.Image{}, false, nil
	}
	if err != nil {
		return build.Image{}, false, err
	}
	return toBuildImage(img), true, nil
}

// CachePut records that the step with key produced img.
func (b *buildBackend) CachePut(ctx context.Context, key string, img build.Image) error {
	if img.ID == "" {
		return nil
	}
	return b.cache.Put(ctx, key, img.ID)
}

// Tag names the build's result, which stops being an intermediate.
func (b *buildBackend) Tag(ctx context.Context, img build.Image, names []string) error {
	if img.ID == "" {
		return errdefs.Newf(errdefs.ErrInvalid, "cannot tag an empty scratch image")
	}
	if err := b.cache.UnmarkIntermediate(ctx, img.ID); err != nil {
		return err
	}
	for _, n := range names {
		if err := b.store.Tag(ctx, img.ID, n); err != nil {
			return fmt.Errorf("tag %s: %w", n, err)
		}
	}
	return nil
}

// IntermediateImages returns the IDs of images that are only a build's intermediate steps;
// `images` hides them unless -a is given.
func (e *Engine) IntermediateImages(ctx context.Context) (map[string]bool, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	return db.BuildCache().Intermediates(ctx)
}

// BuilderPruneOptions tune PruneBuilder.
type BuilderPruneOptions struct {
	// All removes every cache entry's image and the cache mounts, not only intermediates.
	All bool
}

// PruneBuilder removes the build cache: intermediate images no container uses (with All,
// the cache mounts too) and cache entries whose images are gone. It returns what it removed.
func (e *Engine) PruneBuilder(ctx context.Context, o BuilderPruneOptions) ([]string, error) {
	held, err := lock.Acquire(ctx, e.buildsLockPath())
	if err != nil {
		return nil, fmt.Errorf("builder prune: wait for running builds: %w", err)
	}
	defer held.Release()
	store, db, err := e.storeAndDB(ctx)
	if err != nil {
		return nil, err
	}
	inter, err := db.BuildCache().Intermediates(ctx)
	if err != nil {
		return nil, err
	}
	imgs, err := store.List(ctx)
	if err != nil {
		return nil, err
	}
	used, err := e.imagesInUse(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, img := range imgs {
		if !inter[img.ID] || len(img.Names) > 0 || used[img.ID] {
			continue
		}
		lines, err := store.Remove(ctx, img.ID, &libimage.RemoveOptions{Force: true})
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return out, err
		}
		out = append(out, lines...)
	}
	if _, err := db.BuildCache().Forget(ctx); err != nil {
		return out, err
	}
	if o.All {
		removed, err := e.removeCacheMounts(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, removed...)
	}
	return out, nil
}

// imagesInUse returns the IDs of the images containers were made from.
func (e *Engine) imagesInUse(ctx context.Context) (map[string]bool, error) {
	cs, err := e.Containers(ctx)
	if err != nil {
		return nil, err
	}
	used := make(map[string]bool, len(cs))
	for _, c := range cs {
		used[c.ImageID] = true
	}
	return used, nil
}

// buildsLockPath is a lock every running build holds shared and PruneBuilder exclusively: a
// build may take any cached intermediate image as a step's parent until it ends, and the
// cache records no per-build use, so prune waits until no build runs rather than remove an
// image under one.
func (e *Engine) buildsLockPath() string {
	return filepath.Join(e.Config.RunRoot, "build.lock")
}

// BuildError is a build that failed in a RUN step: docker build exits 1 then, whatever the
// step's own status, and prints the step's message.
type BuildError struct{ Err error }

func (e *BuildError) Error() string { return e.Err.Error() }
func (e *BuildError) Unwrap() error { return e.Err }

// ExitCode is docker build's status for a failed step.
func (e *BuildError) ExitCode() int { return 1 }

// Build runs the Dockerfile build o describes and returns the result's image ID. Intermediate
// images stay in the store as the layer cache, hidden from `images`; the result is tagged
// (by the builder) only when every step succeeded.
func (e *Engine) Build(ctx context.Context, o *build.Options) (string, error) {
	lowerBuildPriority()
	releaseSlot, err := e.acquireSlot(ctx, "build-workers", buildSlots())
	if err != nil {
		return "", fmt.Errorf("build: wait for a free build slot: %w", err)
	}
	defer releaseSlot()
	held, err := lock.AcquireShared(ctx, e.buildsLockPath())
	if err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	defer held.Release()
	be, err := e.newBuildBackend(ctx, o.Network)
	if err != nil {
		return "", err
	}
	if be.devices, be.cdiDevices, err = e.parseDevices(o.Devices); err != nil {
		return "", err
	}
	if be.userNS, err = e.buildUserNS(ctx, o.UserNS, o.UIDMaps, o.GIDMaps); err != nil {
		return "", err
	}
	img, err := build.Build(ctx, be, o)
	if err != nil {
		var re *RunError
		if errors.As(err, &re) {
			return "", &BuildError{Err: err}
		}
		return "", err
	}
	if err := be.cache.UnmarkIntermediate(ctx, img.ID); err != nil {
		return "", err
	}
	if built, err := be.store.Lookup(ctx, img.ID); err == nil {
		e.imageEvent("build", built, "")
	}
	return img.ID, nil
}

// storeAndDB opens the two things every build call needs: the image store and the database.
func (e *Engine) storeAndDB(ctx context.Context) (*libimage.Store, *state.DB, error) {
	store, err := e.Images(ctx)
	if err != nil {
		return nil, nil, err
	}
	db, err := e.DB(ctx)
	if err != nil {
		return nil, nil, err
	}
	return store, db, nil
}
