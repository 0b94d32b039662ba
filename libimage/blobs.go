package libimage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobs is a content-addressed directory: <dir>/sha256/<hex>. Writes go to a temp file,
// are verified, synced and renamed, so a name only ever holds its digest's bytes.
type blobs struct{ dir string }

func (b blobs) path(d v1.Hash) string { return filepath.Join(b.dir, d.Algorithm, d.Hex) }

func (b blobs) has(d v1.Hash) bool {
	_, err := os.Stat(b.path(d))
	return err == nil
}

func (b blobs) open(d v1.Hash) (*os.File, error) {
	f, err := os.Open(b.path(d))
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", d, err)
	}
	return f, nil
}

// read returns the whole blob d.
func (b blobs) read(d v1.Hash) ([]byte, error) {
	data, err := os.ReadFile(b.path(d))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", d, err)
	}
	return data, nil
}

// put stores r under d, verifying the digest (and size when size >= 0).
func (b blobs) put(d v1.Hash, size int64, r io.Reader) (retErr error) {
	if d.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: unsupported digest algorithm", d)
	}
	dir := filepath.Join(b.dir, d.Algorithm)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("blob %s: truncated: got %d bytes, want %d", d, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Hex {
		return fmt.Errorf("blob %s: digest mismatch: got sha256:%s", d, got)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), b.path(d))
}

func (b blobs) remove(d v1.Hash) error {
	err := os.Remove(b.path(d))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

// list returns every stored digest.
func (b blobs) list() ([]v1.Hash, error) {
	entries, err := os.ReadDir(filepath.Join(b.dir, "sha256"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	var out []v1.Hash
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		out = append(out, v1.Hash{Algorithm: "sha256", Hex: e.Name()})
	}
	return out, err
}

// verifyReader hashes what passes through and fails at EOF on a mismatch.
type verifyReader struct {
	r    io.Reader
	h    hash.Hash
	want v1.Hash
}

func newVerifyReader(r io.Reader, want v1.Hash) *verifyReader {
	return &verifyReader{r: r, h: sha256.New(), want: want}
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
			return n, fmt.Errorf("layer content digest mismatch: got sha256:%s, want %s", got, v.want)
		}
	}
	return n, err
}

// chainID computes the OCI chain ID of a layer over parent ("" for a base layer).
func chainID(parent string, diffID v1.Hash) string {
	if parent == "" {
		return diffID.String()
	}
	sum := sha256.Sum256([]byte(parent + " " + diffID.String()))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func hexOf(digest string) string { return strings.TrimPrefix(digest, "sha256:") }
