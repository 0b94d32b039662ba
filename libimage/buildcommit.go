package libimage

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// LayerCommit describes an image a build step makes on top of its parent.
type LayerCommit struct {
	Config v1.Config
	// History is appended to the parent's: config-only steps (EmptyLayer set) and, when a
	// layer is added, the entry describing it.
	History []v1.History
	Created time.Time
	// Epoch, when set, clamps every time in the layer to it, so that the same input gives
	// the same diff ID, blob digest and image ID (SOURCE_DATE_EPOCH).
	Epoch *time.Time
}

// CreateBuildLayer makes a writable layer id over parent (nil: scratch) for a build step or
// a throwaway read-only view.
func (s *Store) CreateBuildLayer(ctx context.Context, id string, parent *Image) error {
	top := ""
	if parent != nil {
		top = hexOf(parent.TopLayer)
	}
	if err := s.drv.CreateRW(id, top); err != nil {
		return fmt.Errorf("create build layer %s: %w", id, err)
	}
	return nil
}

// CommitLayer stores parent (nil: scratch) plus layer, an uncompressed layer tar (nil: a
// config-only step), as a new unnamed image. The tar is streamed once: its times are clamped
// to o.Epoch, its diff ID hashed, and it is gzipped into the blob store; nothing is held in
// memory. The layer is then unpacked once like a pulled one.
func (s *Store) CommitLayer(ctx context.Context, parent *Image, layer io.Reader, o *LayerCommit) (*Image, error) {
	// Shared with other writers; it keeps GC from taking the new blob before its image exists.
	sl, err := s.storeLock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer sl.Release()
	var base v1.Image = empty.Image
	var cf *v1.ConfigFile
	if parent != nil {
		var err error
		if base, err = s.V1(parent); err != nil {
			return nil, fmt.Errorf("commit on %s: %w", parent.ID, err)
		}
		cf = parent.Config.DeepCopy()
	} else {
		cf = &v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}}
	}
	img := base
	if layer != nil {
		mt := types.DockerLayer
		if m, err := base.MediaType(); err == nil && m == types.OCIManifestSchema1 {
			mt = types.OCILayer
		}
		l, err := s.storeLayerBlob(ctx, layer, o.Epoch, mt)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.Append(base, mutate.Addendum{Layer: l}); err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		cf.RootFS.Type = "layers"
		cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, l.diffID)
	}
	cf.History = append(cf.History, o.History...)
	cf.Config = o.Config
	cf.Created = v1.Time{Time: o.Created.UTC()}
	if cf.OS == "" {
		cf.OS = "linux"
	}
	if cf.Architecture == "" {
		cf.Architecture = runtime.GOARCH
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return s.write(ctx, img, writeOptions{})
}

// storeLayerBlob streams a layer tar into the blob store as gzip and returns it as a layer.
func (s *Store) storeLayerBlob(ctx context.Context, layer io.Reader, epoch *time.Time, mt types.MediaType) (_ *blobLayer, retErr error) {
	dir := filepath.Join(s.blobs.dir, "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("commit layer: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return nil, fmt.Errorf("commit layer: %w", err)
	}
	defer func() {
		f.Close()
		if retErr != nil {
			os.Remove(f.Name())
		}
	}()
	digest := sha256.New()
	counter := &countWriter{w: io.MultiWriter(f, digest)}
	gz, err := gzip.NewWriterLevel(counter, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	diffID := sha256.New()
	if err := clampTar(ctx, layer, io.MultiWriter(gz, diffID), epoch); err != nil {
		return nil, fmt.Errorf("commit layer: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("commit layer: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("commit layer: %w", err)
	}
	l := &blobLayer{s: s, digest: hashOf(digest), diffID: hashOf(diffID), size: counter.n, mt: mt}
	if err := os.Rename(f.Name(), s.blobs.path(l.digest)); err != nil {
		return nil, fmt.Errorf("commit layer: %w", err)
	}
	return l, nil
}

func hashOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// clampTar copies a tar stream, clamping modification times to epoch (when set) and dropping
// access and change times, which would otherwise make every build's layer differ.
func clampTar(ctx context.Context, r io.Reader, w io.Writer, epoch *time.Time) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		for _, k := range []string{"atime", "ctime", "mtime"} {
			delete(hdr.PAXRecords, k)
		}
		if epoch != nil && hdr.ModTime.After(*epoch) {
			hdr.ModTime = *epoch
		}
		hdr.ModTime = hdr.ModTime.Truncate(time.Second)
		if hdr.Format == tar.FormatUnknown || hdr.Format == tar.FormatGNU {
			hdr.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write %s: %w", hdr.Name, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("write %s: %w", hdr.Name, err)
		}
	}
	return tw.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// blobLayer is a gzipped layer already in the blob store, with its digests known.
type blobLayer struct {
	s              *Store
	digest, diffID v1.Hash
	size           int64
	mt             types.MediaType
}

var _ v1.Layer = (*blobLayer)(nil)

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *blobLayer) Size() (int64, error)                { return l.size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)  { return l.s.blobs.open(l.digest) }
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := l.s.blobs.open(l.digest)
	if err != nil {
		return nil, err
	}
	r, err := decompress(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &closeBoth{r, f}, nil
}

type closeBoth struct {
	io.ReadCloser
	f *os.File
}

func (c *closeBoth) Close() error {
	c.ReadCloser.Close()
	return c.f.Close()
}
