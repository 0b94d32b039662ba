package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-project/berth/build"
	"github.com/berth-project/berth/internal/config"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/internal/reexec"
)

func TestMain(m *testing.M) {
	// RUN steps start berth's container init by re-executing the test binary.
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// busyboxTar is a minimal root filesystem: /bin/busybox with a few links, /etc, /tmp.
func busyboxTar(t *testing.T) []byte {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("needs /bin/busybox (busybox-static): %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		h.ModTime = time.Unix(1700000000, 0)
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	add(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb)
	for _, a := range []string{"sh", "cat", "echo", "ls", "sleep", "date", "test", "id", "mkdir"} {
		add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	add(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"))
	add(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil)
	tw.Close()
	return buf.Bytes()
}

func newTestBackend(t *testing.T) (*buildBackend, build.Image) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	d := t.TempDir()
	e := New(config.Config{Root: filepath.Join(d, "root"), RunRoot: filepath.Join(d, "run")})
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	b, err := e.newBuildBackend(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	base, err := b.Commit(ctx, build.Image{}, bytes.NewReader(busyboxTar(t)), build.CommitOptions{
		Config:  v1.Config{Env: []string{"PATH=/bin"}},
		History: []v1.History{{CreatedBy: "busybox"}},
		Created: time.Unix(1700000000, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b, base
}

func readInImage(t *testing.T, b *buildBackend, img build.Image, p string) (string, bool) {
	t.Helper()
	dir, release, err := b.Mount(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	data, err := os.ReadFile(filepath.Join(dir, p))
	if err != nil {
		return "", false
	}
	return string(data), true
}

func TestBuildBackendRun(t *testing.T) {
	b, base := newTestBackend(t)
	ctx := context.Background()
	var out, errb bytes.Buffer
	img, err := b.Run(ctx, base, build.RunSpec{
		Args:    []string{"/bin/sh", "-c", "echo made > /made; echo out; echo err >&2; pwd; cat /etc/hosts >/dev/null"},
		Env:     []string{"PATH=/bin"},
		Workdir: "/work/dir",
		Stdout:  &out, Stderr: &errb,
	}, build.CommitOptions{History: []v1.History{{CreatedBy: "RUN"}}, Created: time.Now()})
	if err != nil {
		t.Fatalf("Run: %v (stderr %q)", err, errb.String())
	}
	if out.String() != "out\n/work/dir\n" || errb.String() != "err\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
	if len(img.Config.RootFS.DiffIDs) != 2 || len(img.Config.History) != 2 {
		t.Errorf("diff ids %v history %v", img.Config.RootFS.DiffIDs, img.Config.History)
	}
	if got, ok := readInImage(t, b, img, "made"); !ok || got != "made\n" {
		t.Errorf("/made = %q, %v", got, ok)
	}
	// The /etc/hosts mount point was only there for the step.
	if _, ok := readInImage(t, b, img, "etc/hosts"); ok {
		t.Errorf("/etc/hosts leaked into the layer")
	}
	if _, ok := readInImage(t, b, img, "work/dir"); ok {
		t.Errorf("workdir is a directory, read it as a file")
	}
	assertNoLeftovers(t, b)

	// A failing step reports its status and leaves nothing.
	_, err = b.Run(ctx, base, build.RunSpec{Args: []string{"/bin/sh", "-c", "echo bad; exit 3"}, Stdout: &out, Stderr: &out}, build.CommitOptions{})
	var re *RunError
	if !errors.As(err, &re) || re.ExitCode() != 3 || !strings.Contains(err.Error(), `did not complete successfully: exit code: 3`) {
		t.Errorf("failing RUN: %v", err)
	}
	assertNoLeftovers(t, b)
}

func TestBuildBackendReproducible(t *testing.T) {
	b, base := newTestBackend(t)
	epoch := time.Unix(1710000000, 0).UTC()
	var ids []string
	for i := 0; i < 2; i++ {
		img, err := b.Run(context.Background(), base, build.RunSpec{Args: []string{"/bin/sh", "-c", "echo same > /f; mkdir -p /d/e"}},
			build.CommitOptions{History: []v1.History{{CreatedBy: "RUN", Created: v1.Time{Time: epoch}}}, Created: epoch, Epoch: &epoch})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, img.ID)
		time.Sleep(1100 * time.Millisecond) // file times differ between the two runs
	}
	if ids[0] != ids[1] {
		t.Errorf("same input, same epoch: %s != %s", ids[0], ids[1])
	}
}

func TestBuildBackendMounts(t *testing.T) {
	b, base := newTestBackend(t)
	ctx := context.Background()
	secret := filepath.Join(t.TempDir(), "s")
	os.WriteFile(secret, []byte("hunter2"), 0o600)
	ctxDir := t.TempDir()
	os.WriteFile(filepath.Join(ctxDir, "in.txt"), []byte("from context"), 0o644)
	run := func(script string, mounts []build.RunMount, network string) (build.Image, string) {
		t.Helper()
		var out bytes.Buffer
		img, err := b.Run(ctx, base, build.RunSpec{Args: []string{"/bin/sh", "-c", script}, Mounts: mounts, ContextDir: ctxDir,
			Network: network, Stdout: &out, Stderr: &out}, build.CommitOptions{})
		if err != nil {
			t.Fatalf("%s: %v: %s", script, err, out.String())
		}
		return img, out.String()
	}
	img, out := run("cat /run/secrets/tok; echo; cat /ctx/in.txt; echo; echo x >> /cache/n; wc -l < /cache/n; echo t > /scratch/t; cat /sys/class/net/lo/operstate; ls /sys/class/net",
		[]build.RunMount{
			{Type: "secret", ID: "tok", Target: "/run/secrets/tok", Source: secret, Required: true},
			{Type: "bind", Target: "/ctx", Source: ".", ReadOnly: true},
			{Type: "cache", Target: "/cache", ID: "c1", Sharing: "locked"},
			{Type: "tmpfs", Target: "/scratch"},
		}, "none")
	lines := strings.Fields(out)
	if len(lines) < 6 || lines[0] != "hunter2" || lines[1]+" "+lines[2] != "from context" || lines[3] != "1" {
		t.Errorf("output %q", out)
	}
	if lines[len(lines)-1] != "lo" {
		t.Errorf("network none: interfaces %q", lines[len(lines)-2:])
	}
	for _, p := range []string{"run/secrets/tok", "ctx", "cache", "scratch"} {
		if _, ok := readInImage(t, b, img, p); ok {
			t.Errorf("%s leaked into the layer", p)
		}
		dir, release, _ := b.Mount(ctx, img)
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			t.Errorf("mount point %s left in the layer", p)
		}
		release()
	}
	// The cache persists into the next step.
	_, out = run("echo x >> /cache/n; wc -l < /cache/n", []build.RunMount{{Type: "cache", Target: "/cache", ID: "c1"}}, "")
	if strings.TrimSpace(out) != "2" {
		t.Errorf("cache lines %q, want 2", out)
	}
	// A missing required secret is an error; an optional one is skipped.
	if _, err := b.Run(ctx, base, build.RunSpec{Args: []string{"true"}, Mounts: []build.RunMount{{Type: "secret", ID: "x", Target: "/run/secrets/x", Required: true}}}, build.CommitOptions{}); err == nil {
		t.Error("missing required secret: no error")
	}
	assertNoLeftovers(t, b)
}

func TestBuildBackendCancel(t *testing.T) {
	b, base := newTestBackend(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(time.Second); cancel() }()
	start := time.Now()
	_, err := b.Run(ctx, base, build.RunSpec{Args: []string{"sleep", "30"}}, build.CommitOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled RUN: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("cancel took %v", time.Since(start))
	}
	assertNoLeftovers(t, b)
}

func TestBuildBackendCache(t *testing.T) {
	b, base := newTestBackend(t)
	ctx := context.Background()
	if _, ok, err := b.CacheGet(ctx, "k"); ok || err != nil {
		t.Fatalf("empty cache: %v %v", ok, err)
	}
	if err := b.CachePut(ctx, "k", base); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.CacheGet(ctx, "k")
	if err != nil || !ok || got.ID != base.ID {
		t.Fatalf("CacheGet = %v %v %v", got.ID, ok, err)
	}
	inter, err := b.e.IntermediateImages(ctx)
	if err != nil || !inter[base.ID] {
		t.Errorf("intermediates %v %v", inter, err)
	}
	if err := b.Tag(ctx, base, []string{"localhost/built:1"}); err != nil {
		t.Fatal(err)
	}
	if inter, _ := b.e.IntermediateImages(ctx); inter[base.ID] {
		t.Errorf("tagged result still intermediate")
	}
	s, _ := b.e.Images(ctx)
	if _, err := s.Remove(ctx, base.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.CacheGet(ctx, "k"); ok || err != nil {
		t.Errorf("entry of a removed image: %v %v", ok, err)
	}
}

// assertNoLeftovers checks that no build layer, mount or runtime state outlived its step.
func assertNoLeftovers(t *testing.T, b *buildBackend) {
	t.Helper()
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), b.e.Config.Root) {
		t.Errorf("mounts left under the root:\n%s", mounts)
	}
	entries, _ := os.ReadDir(filepath.Join(b.e.Config.Root, "storage", "overlay"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "build") {
			t.Errorf("build layer %s left", e.Name())
		}
	}
	rt, _ := os.ReadDir(filepath.Join(b.e.Config.RunRoot, "runtime"))
	for _, e := range rt {
		if !strings.HasPrefix(e.Name(), ".") {
			t.Errorf("runtime state %s left", e.Name())
		}
	}
	left, _ := os.ReadDir(filepath.Join(b.e.Config.RunRoot, "build"))
	if len(left) > 0 {
		t.Errorf("build run dirs left: %v", left)
	}
}

// A builder prune started while a build runs waits for it: the build may still take any
// intermediate image as a parent. The shared lock held here stands for the running build.
func TestPruneBuilderWaitsForBuilds(t *testing.T) {
	b, base := newTestBackend(t)
	ctx := context.Background()
	if err := b.markProduced(ctx, base.ID); err != nil {
		t.Fatal(err)
	}
	building, err := lock.AcquireShared(ctx, b.e.buildsLockPath())
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.e.PruneBuilder(short, BuilderPruneOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PruneBuilder during a build = %v, want it to wait until %v", err, context.DeadlineExceeded)
	}
	if _, err := b.store.Lookup(ctx, base.ID); err != nil {
		t.Fatalf("intermediate image removed under a running build: %v", err)
	}
	building.Release()
	lines, err := b.e.PruneBuilder(ctx, BuilderPruneOptions{})
	if err != nil {
		t.Fatalf("PruneBuilder after the build: %v", err)
	}
	if len(lines) == 0 {
		t.Errorf("PruneBuilder after the build removed nothing")
	}
	if _, err := b.store.Lookup(ctx, base.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("intermediate image after prune: Lookup = %v, want %v", err, errdefs.ErrNotFound)
	}
}
