//go:build linux

package libimage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/state"
	"github.com/berth-project/berth/libimage"
	"github.com/berth-project/berth/libimage/driver"
)

func newStore(t *testing.T) *libimage.Store {
	t.Helper()
	dir := t.TempDir()
	db, err := state.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, err := driver.New("vfs", filepath.Join(dir, "storage"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := libimage.NewStore(filepath.Join(dir, "images"), filepath.Join(dir, "locks"), d, db.Images())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// countingRegistry serves ggcr's in-memory registry and counts blob GETs.
func countingRegistry(t *testing.T) (host string, blobGets *atomic.Int64) {
	var n atomic.Int64
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" && strings.Contains(r.URL.Path, "/blobs/") {
			n.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &n
}

func TestPullPushRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unpacking image layers with their owners needs root")
	}
	ctx := context.Background()
	host, blobGets := countingRegistry(t)
	img, err := random.Image(1024, 8)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := name.ParseReference(host + "/test/img:1")
	if err := remote.Write(src, img); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	got, err := s.Pull(ctx, host+"/test/img:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if got.ID != want.String() {
		t.Errorf("pulled ID %s, want %s", got.ID, want)
	}
	if g := blobGets.Load(); g != 9 {
		t.Errorf("first pull fetched %d blobs, want 8 layers and the config", g)
	}
	// A second pull downloads no layer.
	blobGets.Store(0)
	if _, err := s.Pull(ctx, host+"/test/img:1", nil); err != nil {
		t.Fatal(err)
	}
	if g := blobGets.Load(); g != 0 {
		t.Errorf("re-pull fetched %d blobs, want 0", g)
	}
	// Pushing it elsewhere keeps the digest, and the result validates.
	d, err := s.Push(ctx, host+"/test/img:1", host+"/copy/img:2", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantD, _ := img.Digest()
	if d != wantD.String() {
		t.Errorf("pushed digest %s, want %s", d, wantD)
	}
	dst, _ := name.ParseReference(host + "/copy/img:2")
	pushed, err := remote.Image(dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(pushed); err != nil {
		t.Errorf("pushed image does not validate: %v", err)
	}
	stored, _ := s.Lookup(ctx, host+"/test/img:1")
	v, _ := s.V1(stored)
	if err := validate.Image(v); err != nil {
		t.Errorf("stored image does not validate: %v", err)
	}
}

func TestSharedLayersFetchedOnce(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ctx := context.Background()
	host, blobGets := countingRegistry(t)
	base, _ := random.Image(512, 7)
	extra, _ := random.Layer(512, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	img2, err := appendLayer(base, extra)
	if err != nil {
		t.Fatal(err)
	}
	for ref, img := range map[string]v1.Image{host + "/a:1": base, host + "/b:1": img2} {
		r, _ := name.ParseReference(ref)
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
	}
	s := newStore(t)
	if _, err := s.Pull(ctx, host+"/a:1", nil); err != nil {
		t.Fatal(err)
	}
	blobGets.Store(0)
	if _, err := s.Pull(ctx, host+"/b:1", nil); err != nil {
		t.Fatal(err)
	}
	if g := blobGets.Load(); g != 2 {
		t.Errorf("second image sharing 7 of 8 layers fetched %d blobs, want 2 (1 layer and the config)", g)
	}
	// Removing one image keeps the shared layers for the other.
	if _, err := s.Remove(ctx, host+"/b:1", nil); err != nil {
		t.Fatal(err)
	}
	a, err := s.Lookup(ctx, host+"/a:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range libimage.ChainIDs(a) {
		if !s.Driver().Exists(strings.TrimPrefix(c, "sha256:")) {
			t.Errorf("shared layer %s removed with the other image", c)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Lookup(ctx, "nothere"); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "no such image: nothere" {
		t.Errorf("Lookup(nothere) = %v", err)
	}
	if _, err := s.Lookup(ctx, "Bad::ref"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Lookup(bad) = %v, want ErrInvalid", err)
	}
	if _, err := s.Import(ctx, bytes.NewReader([]byte("definitely not a tar file, just some words that go on for a while..................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................")), nil); err == nil {
		t.Error("Import of garbage succeeded")
	}
	if imgs, _ := s.List(ctx); len(imgs) != 0 {
		t.Errorf("failed import stored %d images", len(imgs))
	}
}
