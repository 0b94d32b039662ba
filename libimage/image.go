package libimage

import (
	"bytes"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// storedImage is the small core go-containerregistry derives a full v1.Image from
// (partial.CompressedToImage), so push and save read the exact stored blobs and a
// pulled-then-pushed image keeps its digest.
type storedImage struct {
	s        *Store
	rec      ImageRecord
	manifest []byte
	parsed   *v1.Manifest
}

var _ partial.CompressedImageCore = (*storedImage)(nil)

// V1 returns img as a go-containerregistry image backed by the store's blobs.
func (s *Store) V1(img *Image) (v1.Image, error) {
	f, err := s.blobs.open(mustHash(img.ManifestDigest))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image %s manifest: %w", img.ID, err)
	}
	return partial.CompressedToImage(&storedImage{s: s, rec: img.ImageRecord, manifest: raw, parsed: m})
}

func (i *storedImage) RawConfigFile() ([]byte, error) {
	return os.ReadFile(i.s.blobs.path(mustHash(i.rec.ID)))
}
func (i *storedImage) RawManifest() ([]byte, error) { return i.manifest, nil }
func (i *storedImage) MediaType() (types.MediaType, error) {
	if i.parsed.MediaType != "" {
		return i.parsed.MediaType, nil
	}
	return types.OCIManifestSchema1, nil
}

func (i *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, d := range i.parsed.Layers {
		if d.Digest == h {
			return &storedLayer{b: i.s.blobs, desc: d}, nil
		}
	}
	if i.parsed.Config.Digest == h {
		return &storedLayer{b: i.s.blobs, desc: i.parsed.Config}, nil
	}
	return nil, fmt.Errorf("image %s has no blob %s", i.rec.ID, h)
}

type storedLayer struct {
	b    blobs
	desc v1.Descriptor
}

func (l *storedLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *storedLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *storedLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *storedLayer) Compressed() (io.ReadCloser, error)  { return l.b.open(l.desc.Digest) }
