package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/logs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/libimage"
	"github.com/berth-project/berth/libimage/driver"
)

type imageStore struct {
	once  sync.Once
	store *libimage.Store
	err   error
}

// Images opens the image store on first use.
func (e *Engine) Images(ctx context.Context) (*libimage.Store, error) {
	e.images.once.Do(func() {
		db, err := e.DB(ctx)
		if err != nil {
			e.images.err = err
			return
		}
		drv, err := driver.New(e.Config.StorageDriver, filepath.Join(e.Config.Root, "storage"))
		if err != nil {
			e.images.err = err
			return
		}
		s, err := libimage.NewStore(filepath.Join(e.Config.Root, "images"), filepath.Join(e.Config.RunRoot, "locks", "images"), drv, db.Images())
		if err != nil {
			e.images.err = err
			return
		}
		s.Registries = libimage.RegistryConfig{
			Insecure: e.Config.Registries.Insecure,
			Mirrors:  e.Config.Registries.Mirrors,
			AuthFile: e.Config.Registries.AuthFile,
		}
		s.Events = e.imageEvent
		if logrus.IsLevelEnabled(logrus.DebugLevel) {
			logs.Debug.SetOutput(logrus.StandardLogger().WriterLevel(logrus.DebugLevel))
		}
		e.images.store = s
	})
	return e.images.store, e.images.err
}

// ImageInspect is `docker image inspect`'s shape.
type ImageInspect struct {
	ID            string   `json:"Id"`
	RepoTags      []string `json:"RepoTags"`
	RepoDigests   []string `json:"RepoDigests"`
	Digest        string   `json:",omitempty"` // Podman's: the image's manifest digest
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Config        v1.Config
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Size          int64
	GraphDriver   struct {
		Name string
		Data map[string]string
	}
	RootFS struct {
		Type   string
		Layers []string
	}
	Metadata struct {
		LastTagTime string
	}
}

// InspectImage describes img as docker does.
func (e *Engine) InspectImage(img *libimage.Image) ImageInspect {
	cf := img.Config
	i := ImageInspect{ID: img.ID, RepoTags: []string{}, RepoDigests: []string{},
		Created: cf.Created.Time.UTC().Format(time.RFC3339Nano), DockerVersion: cf.DockerVersion, Author: cf.Author,
		Config: cf.Config, Architecture: cf.Architecture, Variant: cf.Variant, Os: cf.OS, Size: img.Size}
	for _, n := range img.Names {
		i.RepoTags = append(i.RepoTags, libimage.FamiliarName(n))
	}
	for _, d := range img.Digests {
		i.RepoDigests = append(i.RepoDigests, libimage.FamiliarName(d))
	}
	i.Digest = img.ManifestDigest
	if len(cf.History) > 0 {
		i.Comment = cf.History[len(cf.History)-1].Comment
	}
	if store, err := e.Images(context.Background()); err == nil {
		i.GraphDriver.Name, i.GraphDriver.Data = store.LayerData(img.TopLayer)
	}
	i.RootFS.Type = "layers"
	for _, d := range cf.RootFS.DiffIDs {
		i.RootFS.Layers = append(i.RootFS.Layers, d.String())
	}
	i.Metadata.LastTagTime = img.Added.UTC().Format(time.RFC3339Nano)
	return i
}

// PruneImages removes the images no container was made from: dangling ones, or with all
// every such image, of those f matches. It waits for running builds, as [Engine.PruneBuilder]
// does, because a build's intermediate images are dangling until it ends.
// It also returns the bytes of the layers that went, and records Docker's image prune event.
func (e *Engine) PruneImages(ctx context.Context, all bool, f PruneFilter) ([]string, int64, error) {
	held, err := lock.Acquire(ctx, e.buildsLockPath())
	if err != nil {
		return nil, 0, fmt.Errorf("image prune: wait for running builds: %w", err)
	}
	defer held.Release()
	store, err := e.Images(ctx)
	if err != nil {
		return nil, 0, err
	}
	used, err := e.imagesInUse(ctx)
	if err != nil {
		return nil, 0, err
	}
	imgs, err := store.List(ctx)
	if err != nil {
		return nil, 0, err
	}
	for _, img := range imgs {
		if !f.Match(img.Config.Config.Labels, img.Created) {
			used[img.ID] = true // kept as if in use
		}
	}
	before, err := store.LayerSizes(ctx)
	if err != nil {
		return nil, 0, err
	}
	lines, err := store.Prune(ctx, all, func(_ context.Context, id string) (bool, error) { return used[id], nil })
	var reclaimed int64
	if after, aerr := store.LayerSizes(ctx); aerr == nil {
		for ch, size := range before {
			if _, ok := after[ch]; !ok {
				reclaimed += size
			}
		}
	}
	if err != nil {
		return lines, reclaimed, err
	}
	e.pruneEvent(events.Image, reclaimed)
	return lines, reclaimed, nil
}

// RemoveImage removes (or untags) an image as `rmi` does, refusing one a container was made
// from.
func (e *Engine) RemoveImage(ctx context.Context, ref string, force bool) ([]string, error) {
	store, err := e.Images(ctx)
	if err != nil {
		return nil, err
	}
	inUse := func(ctx context.Context, id string) (bool, error) {
		used, err := e.imagesInUse(ctx)
		return used[id], err
	}
	return store.Remove(ctx, ref, &libimage.RemoveOptions{Force: force, InUse: inUse})
}
