package libimage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// maxParallelDownloads bounds concurrent layer downloads per image.
const maxParallelDownloads = 4

// write stores img: missing blobs are fetched in parallel, each layer is unpacked once (in
// chain order, verified against its diff ID), and the image record is written last, in one
// transaction, so a killed writer never leaves a half image listed.
func (s *Store) write(ctx context.Context, img v1.Image, o writeOptions) (*Image, error) {
	sl, err := s.storeLock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer sl.Release()

	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	mdigest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	cfgName := m.Config.Digest
	rawConfig, err := s.blobs.read(cfgName)
	if err != nil {
		if rawConfig, err = img.RawConfigFile(); err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
	}
	if got, _, _ := v1.SHA256(bytes.NewReader(rawConfig)); got != cfgName {
		return nil, fmt.Errorf("config %s: digest mismatch (got %s)", cfgName, got)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, fmt.Errorf("parse config %s: %w", cfgName, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("read layers: %w", err)
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image %s: %w", cfgName, errNoLayers)
	}
	chains := make([]string, len(layers))
	parent := ""
	for i, d := range cf.RootFS.DiffIDs {
		chains[i] = chainID(parent, d)
		parent = chains[i]
	}

	// Fetch what is missing, in parallel; unpack in order as each becomes ready.
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxParallelDownloads)
	ready := make([]chan error, len(layers))
	for i, l := range layers {
		ready[i] = make(chan error, 1)
		digest, err := l.Digest()
		if err != nil {
			return nil, err
		}
		if s.blobs.has(digest) {
			o.progress.emit(ProgressEvent{Digest: digest.String(), State: "exists"})
			ready[i] <- nil
			continue
		}
		wg.Add(1)
		go func(ch chan error, l v1.Layer) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				ch <- s.fetch(fctx, l, digest, o.progress)
			case <-fctx.Done():
				ch <- fctx.Err()
			}
		}(ready[i], l)
	}

	var size int64
	for i, l := range layers {
		if err := <-ready[i]; err != nil {
			return nil, err
		}
		p := ""
		if i > 0 {
			p = chains[i-1]
		}
		n, err := s.applyLayer(ctx, l, chains[i], p, cf.RootFS.DiffIDs[i], o.progress)
		if err != nil {
			return nil, err
		}
		size += n
	}
	if err := s.blobs.put(cfgName, int64(len(rawConfig)), bytes.NewReader(rawConfig)); err != nil {
		return nil, err
	}
	if err := s.blobs.put(mdigest, int64(len(rawManifest)), bytes.NewReader(rawManifest)); err != nil {
		return nil, err
	}
	top := ""
	if len(chains) > 0 {
		top = chains[len(chains)-1]
	}
	rec := ImageRecord{ID: cfgName.String(), ManifestDigest: mdigest.String(), TopLayer: top, Size: size,
		Created: cf.Created.Time.UTC(), Added: now(), Names: o.names, Digests: o.digests}
	if err := s.meta.PutImage(ctx, rec); err != nil {
		return nil, fmt.Errorf("record image %s: %w", rec.ID, err)
	}
	return s.Lookup(ctx, rec.ID)
}

// fetch downloads one compressed layer into the blob store.
func (s *Store) fetch(ctx context.Context, l v1.Layer, digest v1.Hash, progress ProgressFunc) error {
	size, err := l.Size()
	if err != nil {
		return fmt.Errorf("layer %s: %w", digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("fetch layer %s: %w", digest, err)
	}
	defer rc.Close()
	cr := &countingReader{r: rc, ctx: ctx, report: func(n int64) {
		progress.emit(ProgressEvent{Digest: digest.String(), State: "downloading", Current: n, Total: size})
	}}
	if err := s.blobs.put(digest, size, cr); err != nil {
		return fmt.Errorf("fetch layer %s: %w", digest, err)
	}
	progress.emit(ProgressEvent{Digest: digest.String(), State: "downloaded", Current: size, Total: size})
	return nil
}

// applyLayer unpacks the stored blob of l as layer chain over parent unless it exists.
func (s *Store) applyLayer(ctx context.Context, l v1.Layer, chain, parent string, diffID v1.Hash, progress ProgressFunc) (int64, error) {
	digest, _ := l.Digest()
	if rec, err := s.meta.Layer(ctx, chain); err != nil {
		return 0, err
	} else if rec != nil && s.drv.Exists(hexOf(chain)) {
		return rec.Size, nil
	}
	lk, err := s.layerLock(ctx, chain)
	if err != nil {
		return 0, err
	}
	defer lk.Release()
	// Another process may have made it while we waited.
	if rec, err := s.meta.Layer(ctx, chain); err != nil {
		return 0, err
	} else if rec != nil && s.drv.Exists(hexOf(chain)) {
		return rec.Size, nil
	}
	// On disk without a record means a writer died between the two: redo it.
	if err := s.drv.Remove(hexOf(chain)); err != nil {
		return 0, err
	}
	progress.emit(ProgressEvent{Digest: digest.String(), State: "extracting"})
	f, err := s.blobs.open(digest)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", digest, err)
	}
	defer r.Close()
	n, err := s.drv.ApplyLayer(ctx, hexOf(chain), hexOf(parent), newVerifyReader(r, diffID))
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", digest, err)
	}
	if err := s.meta.PutLayer(ctx, LayerRecord{ChainID: chain, DiffID: diffID.String(), Parent: parent, Size: n}); err != nil {
		return 0, err
	}
	progress.emit(ProgressEvent{Digest: digest.String(), State: "complete"})
	return n, nil
}

// decompress detects gzip, zstd or a plain tar by magic bytes.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, err
	}
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return gzip.NewReader(br)
	case len(magic) >= 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// countingReader reports bytes read at most every 256 KiB and stops on ctx cancellation.
type countingReader struct {
	r      io.Reader
	ctx    context.Context
	n      atomic.Int64
	last   int64
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	total := c.n.Add(int64(n))
	if total-c.last >= 256<<10 {
		c.last = total
		c.report(total)
	}
	return n, err
}
