package libimage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/libimage/driver"
)

// Store is an image store rooted at one directory.
type Store struct {
	root    string
	lockDir string
	drv     driver.Driver
	meta    Metadata
	blobs   blobs
	// Registries configures registry access for pull and push.
	Registries RegistryConfig
	// Events, when set, is told of each change to the store's images, by Docker's image
	// event actions: pull, push and tag (ref is the reference), untag, delete, save, load
	// and import (ref is "").
	Events func(action string, img *Image, ref string)
}

// event tells s.Events of action on img.
func (s *Store) event(action string, img *Image, ref string) {
	if s.Events != nil {
		s.Events(action, img, ref)
	}
}

// RegistryConfig is how the store reaches registries.
type RegistryConfig struct {
	Insecure []string            // hosts reached over HTTP or unverified TLS
	Mirrors  map[string][]string // registry host -> mirrors tried first
	AuthFile string              // Docker config.json format; "" means the default location
}

// NewStore opens the store under root, keeping its locks under lockDir.
func NewStore(root, lockDir string, d driver.Driver, meta Metadata) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("image store %s: %w", root, err)
	}
	return &Store{root: root, lockDir: lockDir, drv: d, meta: meta, blobs: blobs{dir: filepath.Join(root, "blobs")}}, nil
}

// Driver returns the store's storage driver.
func (s *Store) Driver() driver.Driver { return s.drv }

// Image is one stored image.
type Image struct {
	ImageRecord
	Config *v1.ConfigFile
}

// ShortID is the 12-hex-digit ID docker prints.
func (i *Image) ShortID() string { return hexOf(i.ID)[:12] }

// storeLock serializes layer garbage collection (exclusive) with writers (shared).
func (s *Store) storeLock(ctx context.Context, exclusive bool) (*lock.Lock, error) {
	p := filepath.Join(s.lockDir, "store.lock")
	if exclusive {
		return lock.Acquire(ctx, p)
	}
	return lock.AcquireShared(ctx, p)
}

func (s *Store) layerLock(ctx context.Context, chain string) (*lock.Lock, error) {
	return lock.Acquire(ctx, filepath.Join(s.lockDir, "layers", hexOf(chain)+".lock"))
}

// eventImage is the image of rec for an event: its config when it can be read (for its
// labels), else the record alone.
func (s *Store) eventImage(rec ImageRecord) *Image {
	if img, err := s.load(rec); err == nil {
		return img
	}
	return &Image{ImageRecord: rec}
}

func (s *Store) load(rec ImageRecord) (*Image, error) {
	f, err := s.blobs.open(mustHash(rec.ID))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", rec.ID, err)
	}
	defer f.Close()
	cf, err := v1.ParseConfigFile(f)
	if err != nil {
		return nil, fmt.Errorf("image %s config: %w", rec.ID, err)
	}
	return &Image{ImageRecord: rec, Config: cf}, nil
}

func mustHash(s string) v1.Hash {
	h, err := v1.NewHash(s)
	if err != nil {
		return v1.Hash{Algorithm: "sha256", Hex: hexOf(s)}
	}
	return h
}

// List returns every image, newest first.
func (s *Store) List(ctx context.Context) ([]*Image, error) {
	recs, err := s.meta.Images(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]*Image, 0, len(recs))
	for _, r := range recs {
		img, err := s.load(r)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// ErrImageNotFound is returned (wrapped) when a lookup matches nothing.
var ErrImageNotFound = errdefs.ErrNotFound

// Lookup finds an image by name (short or qualified), name@digest, full ID, or unique ID prefix.
func (s *Store) Lookup(ctx context.Context, nameOrID string) (*Image, error) {
	rec, err := s.lookupRecord(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	return s.load(*rec)
}

func (s *Store) lookupRecord(ctx context.Context, nameOrID string) (*ImageRecord, error) {
	recs, err := s.meta.Images(ctx)
	if err != nil {
		return nil, fmt.Errorf("look up image %s: %w", nameOrID, err)
	}
	if ref, err := ParseReference(nameOrID); err == nil {
		for i, r := range recs {
			if ref.Digest != "" {
				for _, d := range r.Digests {
					if d == ref.Repo()+"@"+ref.Digest {
						return &recs[i], nil
					}
				}
				if r.ManifestDigest == ref.Digest || r.ID == ref.Digest {
					return &recs[i], nil
				}
				continue
			}
			for _, n := range r.Names {
				if n == ref.TagName() {
					return &recs[i], nil
				}
			}
		}
	}
	id := strings.TrimPrefix(nameOrID, "sha256:")
	if len(id) >= 3 && isHex(id) {
		var found *ImageRecord
		for i, r := range recs {
			if strings.HasPrefix(hexOf(r.ID), id) {
				if found != nil {
					return nil, errdefs.Newf(errdefs.ErrInvalid, "image ID prefix %s is ambiguous", nameOrID)
				}
				found = &recs[i]
			}
		}
		if found != nil {
			return found, nil
		}
	}
	if _, err := ParseReference(nameOrID); err != nil && !isHex(id) {
		return nil, err
	}
	return nil, errdefs.Newf(ErrImageNotFound, "no such image: %s", nameOrID)
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// Tag adds target (a reference) as a name of the image nameOrID.
func (s *Store) Tag(ctx context.Context, nameOrID, target string) error {
	rec, err := s.lookupRecord(ctx, nameOrID)
	if err != nil {
		return err
	}
	ref, err := ParseReference(target)
	if err != nil {
		return err
	}
	if ref.Digest != "" {
		return errdefs.Newf(errdefs.ErrInvalid, "refusing to create a tag with a digest reference: %s", target)
	}
	if err := s.meta.SetNames(ctx, rec.ID, appendUnique(rec.Names, ref.TagName())); err != nil {
		return err
	}
	s.event("tag", s.eventImage(*rec), ref.TagName())
	return nil
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(append([]string(nil), list...), v)
}

// writeOptions are the names a written image gets and where progress goes.
type writeOptions struct {
	names    []string
	digests  []string
	progress ProgressFunc
}

// ProgressEvent reports one layer's state during a pull or load.
type ProgressEvent struct {
	Digest  string // compressed layer digest
	State   string // "exists", "downloading", "downloaded", "extracting", "complete"
	Current int64
	Total   int64
}

// ProgressFunc receives progress events; it may be called from several goroutines.
type ProgressFunc func(ProgressEvent)

func (p ProgressFunc) emit(e ProgressEvent) {
	if p != nil {
		p(e)
	}
}

var errNoLayers = errors.New("image has a different number of layers than its config has diff IDs")

// now is replaceable in tests.
var now = func() time.Time { return time.Now().UTC() }

// jsonMediaType reads the mediaType field of a manifest.
func jsonMediaType(raw []byte) string {
	var m struct {
		MediaType string `json:"mediaType"`
	}
	json.Unmarshal(raw, &m)
	return m.MediaType
}
