package build

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// fakeFile is one entry of a fake image's filesystem.
type fakeFile struct {
	typ      byte // tar.TypeReg, TypeDir, TypeSymlink
	data     string
	mode     int64
	uid, gid int
	link     string
	mtime    time.Time
}

// fakeBackend is an in-memory Backend: images are maps of path to file plus a config; Run
// interprets a few shell commands (echo > file, touch, false, exit N, block NAME).
type fakeBackend struct {
	t        *testing.T
	mu       sync.Mutex
	files    map[string]map[string]fakeFile // image ID -> path -> file
	images   map[string]Image
	bases    map[string]string // reference -> image ID
	cache    map[string]Image
	runs     []RunSpec
	commits  []CommitOptions
	layers   map[string][]string // image ID -> tar names of its last layer
	tags     map[string][]string
	pulls    []string
	gets     int
	block    map[string]chan struct{} // "block NAME" waits for close
	started  map[string]chan struct{} // closed when "block NAME" starts
	runDelay time.Duration
	onRun    func(RunSpec) // called at the start of every Run
}

func newFake(t *testing.T) *fakeBackend {
	f := &fakeBackend{
		t: t, files: map[string]map[string]fakeFile{}, images: map[string]Image{}, bases: map[string]string{},
		cache: map[string]Image{}, layers: map[string][]string{}, tags: map[string][]string{},
		block: map[string]chan struct{}{}, started: map[string]chan struct{}{},
	}
	f.addBase("busybox", v1.Config{Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, Cmd: []string{"sh"}}, map[string]fakeFile{
		"etc":        {typ: tar.TypeDir, mode: 0o755},
		"etc/passwd": {typ: tar.TypeReg, mode: 0o644, data: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"},
		"etc/group":  {typ: tar.TypeReg, mode: 0o644, data: "root:x:0:\napp:x:1000:\nstaff:x:50:\n"},
		"tmp":        {typ: tar.TypeDir, mode: 0o1777},
		"bin":        {typ: tar.TypeDir, mode: 0o755},
		"bin/sh":     {typ: tar.TypeReg, mode: 0o755, data: "#!busybox"},
		"lib":        {typ: tar.TypeSymlink, link: "usr/lib", mode: 0o777},
		"usr":        {typ: tar.TypeDir, mode: 0o755},
		"usr/lib":    {typ: tar.TypeDir, mode: 0o755},
	})
	return f
}

func (f *fakeBackend) addBase(ref string, cfg v1.Config, files map[string]fakeFile) Image {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := "sha256:" + hashOf("base", ref)
	img := Image{ID: id}
	img.Config.Config = cfg
	img.Config.RootFS.Type = "layers"
	img.Config.RootFS.DiffIDs = []v1.Hash{{Algorithm: "sha256", Hex: hashOf("layer", ref)}}
	img.Config.History = []v1.History{{CreatedBy: "base " + ref}}
	f.images[id] = img
	f.files[id] = files
	f.bases[ref] = id
	return img
}

func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type fakeExit struct{ code int }

func (e *fakeExit) Error() string { return "exit status " + strconv.Itoa(e.code) }
func (e *fakeExit) ExitCode() int { return e.code }

func (f *fakeBackend) Pull(ctx context.Context, ref string, pull bool) (Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulls = append(f.pulls, ref)
	id, ok := f.bases[ref]
	if !ok {
		return Image{}, fmt.Errorf("image %s: not found", ref)
	}
	return f.images[id], nil
}

func (f *fakeBackend) filesOf(id string) map[string]fakeFile {
	out := map[string]fakeFile{}
	for k, v := range f.files[id] {
		out[k] = v
	}
	return out
}

// store makes the child image of parent with files, the commit options and a layer digest.
func (f *fakeBackend) store(parent Image, files map[string]fakeFile, c CommitOptions, layer string, names []string) Image {
	cfg := parent.Config
	cfg.Config = c.Config
	cfg.History = append(append([]v1.History(nil), parent.Config.History...), c.History...)
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = append([]v1.Hash(nil), parent.Config.RootFS.DiffIDs...)
	if layer != "" {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, v1.Hash{Algorithm: "sha256", Hex: layer})
	}
	cfg.Created = v1.Time{Time: c.Created}
	b, _ := json.Marshal(cfg)
	id := "sha256:" + hashOf(string(b))
	img := Image{ID: id, Config: cfg}
	f.images[id] = img
	f.files[id] = files
	f.layers[id] = names
	f.commits = append(f.commits, c)
	return img
}

func (f *fakeBackend) Run(ctx context.Context, parent Image, spec RunSpec, c CommitOptions) (Image, error) {
	f.mu.Lock()
	f.runs = append(f.runs, spec)
	files := f.filesOf(parent.ID)
	delay, hook := f.runDelay, f.onRun
	f.mu.Unlock()
	if hook != nil {
		hook(spec)
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return Image{}, ctx.Err()
		}
	}
	script := strings.Join(spec.Args, " ")
	if len(spec.Args) > 0 && spec.Args[0] == "/bin/sh" && len(spec.Args) == 3 {
		script = spec.Args[2]
	}
	var changed []string
	for _, line := range strings.FieldsFunc(script, func(r rune) bool { return r == '\n' || r == ';' }) {
		for _, cmd := range strings.Split(line, "&&") {
			w := strings.Fields(cmd)
			if len(w) == 0 {
				continue
			}
			abs := func(p string) string {
				if !path.IsAbs(p) {
					p = path.Join("/"+spec.Workdir, p)
				}
				return strings.TrimPrefix(path.Clean(p), "/")
			}
			switch w[0] {
			case "false":
				fmt.Fprintln(spec.Stderr, "failing now")
				return Image{}, &fakeExit{code: 1}
			case "exit":
				n, _ := strconv.Atoi(w[1])
				if n != 0 {
					return Image{}, &fakeExit{code: n}
				}
			case "echo":
				if i := indexOf(w, ">"); i > 0 {
					p := abs(w[i+1])
					files[p] = fakeFile{typ: tar.TypeReg, mode: 0o644, data: strings.Join(w[1:i], " ") + "\n"}
					changed = append(changed, p)
				} else {
					fmt.Fprintln(spec.Stdout, strings.Join(w[1:], " "))
				}
			case "touch":
				p := abs(w[1])
				files[p] = fakeFile{typ: tar.TypeReg, mode: 0o644}
				changed = append(changed, p)
			case "block":
				f.mu.Lock()
				ch, started := f.block[w[1]], f.started[w[1]]
				f.mu.Unlock()
				if started != nil {
					close(started)
				}
				if ch != nil {
					select {
					case <-ch:
					case <-ctx.Done():
						return Image{}, ctx.Err()
					}
				}
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store(parent, files, c, hashOf(parent.ID, script, strings.Join(spec.Env, ",")), changed), nil
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func (f *fakeBackend) Commit(ctx context.Context, parent Image, layer io.Reader, c CommitOptions) (Image, error) {
	f.mu.Lock()
	files := f.filesOf(parent.ID)
	f.mu.Unlock()
	digest := ""
	var names []string
	if layer != nil {
		h := sha256.New()
		tr := tar.NewReader(io.TeeReader(layer, h))
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return Image{}, err
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return Image{}, err
			}
			name := strings.TrimSuffix(hdr.Name, "/")
			names = append(names, hdr.Name)
			mt := hdr.ModTime
			if c.Epoch != nil && mt.After(*c.Epoch) {
				mt = *c.Epoch
			}
			files[name] = fakeFile{typ: hdr.Typeflag, data: string(b), mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid, link: hdr.Linkname, mtime: mt}
		}
		_, _ = io.Copy(h, layer)
		digest = hex.EncodeToString(h.Sum(nil))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store(parent, files, c, digest, names), nil
}

func (f *fakeBackend) Mount(ctx context.Context, img Image) (string, func(), error) {
	f.mu.Lock()
	files := f.filesOf(img.ID)
	f.mu.Unlock()
	dir, err := os.MkdirTemp("", "fake-mount-")
	if err != nil {
		return "", nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ff := files[n]
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", nil, err
		}
		switch ff.typ {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return "", nil, err
			}
			os.Chmod(p, os.FileMode(ff.mode&0o777)|modeBits(ff.mode))
		case tar.TypeSymlink:
			if err := os.Symlink(ff.link, p); err != nil {
				return "", nil, err
			}
		default:
			if err := os.WriteFile(p, []byte(ff.data), os.FileMode(ff.mode&0o777)); err != nil {
				return "", nil, err
			}
		}
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

func modeBits(m int64) os.FileMode {
	var out os.FileMode
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

func (f *fakeBackend) CacheGet(ctx context.Context, key string) (Image, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	img, ok := f.cache[key]
	return img, ok, nil
}

func (f *fakeBackend) CachePut(ctx context.Context, key string, img Image) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cache[key] = img
	return nil
}

func (f *fakeBackend) Tag(ctx context.Context, img Image, names []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tags[img.ID] = append(f.tags[img.ID], names...)
	return nil
}

// file returns a file of an image, failing the test when it is missing.
func (f *fakeBackend) file(t *testing.T, img Image, p string) fakeFile {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	ff, ok := f.files[img.ID][strings.TrimPrefix(p, "/")]
	if !ok {
		t.Fatalf("image has no %s; it has %v", p, keys(f.files[img.ID]))
	}
	return ff
}

func (f *fakeBackend) has(img Image, p string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.files[img.ID][strings.TrimPrefix(p, "/")]
	return ok
}

func keys(m map[string]fakeFile) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeContext makes a context directory from path -> content ("dir/" makes a directory).
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
