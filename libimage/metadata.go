package libimage

import (
	"context"
	"time"
)

// LayerRecord describes one unpacked layer.
type LayerRecord struct {
	ChainID string // "sha256:..." chain ID per the OCI image spec; the driver id is its hex
	DiffID  string
	Parent  string // parent chain ID, "" for a base layer
	Size    int64  // uncompressed content bytes
}

// ImageRecord is what the store keeps about one image.
type ImageRecord struct {
	ID             string // config digest, "sha256:..."
	ManifestDigest string
	TopLayer       string // chain ID of the top layer, "" for an image with no layers
	Size           int64
	Created        time.Time
	Added          time.Time
	Names          []string // fully qualified "registry/repo:tag"
	Digests        []string // fully qualified "registry/repo@sha256:..."
}

// Metadata persists the store's records. internal/state implements it over SQLite; every
// method is one short transaction.
type Metadata interface {
	Layer(ctx context.Context, chainID string) (*LayerRecord, error) // nil, nil when absent
	Layers(ctx context.Context) ([]LayerRecord, error)
	PutLayer(ctx context.Context, l LayerRecord) error
	DeleteLayer(ctx context.Context, chainID string) error

	Images(ctx context.Context) ([]ImageRecord, error)
	// PutImage inserts or updates img; its names and digests move to it from any other image.
	PutImage(ctx context.Context, img ImageRecord) error
	// SetNames replaces an image's names; each name moves to it from any other image.
	SetNames(ctx context.Context, id string, names []string) error
	DeleteImage(ctx context.Context, id string) error
}
