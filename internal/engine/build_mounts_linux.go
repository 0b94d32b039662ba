package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/build"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/filecopy"
)

// runMount turns one RUN --mount into an OCI mount; nil means nothing to mount (a missing
// optional secret).
func (b *buildBackend) runMount(ctx context.Context, dir string, rs *build.RunSpec, i int, m build.RunMount, releases *[]func()) (*specs.Mount, error) {
	if m.Type != "secret" && !filepath.IsAbs(m.Target) {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "RUN --mount=type=%s: target must be an absolute path, got %q", m.Type, m.Target)
	}
	target := filepath.Clean("/" + m.Target)
	switch m.Type {
	case "bind":
		src, err := b.mountSource(ctx, rs, m, releases)
		if err != nil {
			return nil, err
		}
		if !m.ReadOnly && m.From.ID == "" {
			// Writes to a rw bind of the context are thrown away with the step, never made
			// to the user's files: the step sees a private copy.
			cp := filepath.Join(dir, "bind-"+strconv.Itoa(i))
			if err := copyPathTo(ctx, src, cp); err != nil {
				return nil, fmt.Errorf("RUN --mount=type=bind,source=%s: %w", m.Source, err)
			}
			src = cp
		}
		opts := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		return &specs.Mount{Destination: target, Type: "bind", Source: src, Options: opts}, nil
	case "cache":
		src, err := b.cacheMount(ctx, rs, m, releases)
		if err != nil {
			return nil, err
		}
		opts := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		return &specs.Mount{Destination: target, Type: "bind", Source: src, Options: opts}, nil
	case "tmpfs":
		opts := []string{"nosuid", "nodev"}
		if m.Size > 0 {
			opts = append(opts, "size="+strconv.FormatInt(m.Size, 10))
		}
		return &specs.Mount{Destination: target, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	case "secret":
		if m.Target == "" {
			target = "/run/secrets/" + m.ID
		} else if !filepath.IsAbs(m.Target) {
			target = filepath.Clean("/run/secrets/" + m.Target)
		}
		if m.Source == "" {
			if m.Required {
				return nil, errdefs.Newf(errdefs.ErrNotFound, "secret %s: not provided (use --secret id=%s,src=FILE)", m.ID, m.ID)
			}
			return nil, nil
		}
		data, err := os.ReadFile(m.Source)
		if err != nil {
			if os.IsNotExist(err) && !m.Required {
				return nil, nil
			}
			return nil, errdefs.Newf(errdefs.ErrNotFound, "secret %s: %v", m.ID, err)
		}
		// The copy lives in the step's run directory, bind mounted read-only; the layer only
		// ever holds the (removed) empty mount point.
		mode := os.FileMode(m.Mode)
		if mode == 0 {
			mode = 0o400
		}
		f, err := writeSecret(filepath.Join(dir, "secrets"), strconv.Itoa(i), data, m.UID, m.GID, mode)
		if err != nil {
			return nil, fmt.Errorf("RUN --mount=type=secret,id=%s: %w", m.ID, err)
		}
		return &specs.Mount{Destination: target, Type: "bind", Source: f, Options: []string{"rbind", "rprivate", "ro", "nosuid", "nodev", "noexec"}}, nil
	}
	return nil, errdefs.Newf(errdefs.ErrInvalid, "RUN --mount: unknown type %q: want bind, cache, tmpfs or secret", m.Type)
}

// writeSecret writes a secret's copy as name in sdir, created first so 0600 is its mode
// until it belongs to uid:gid; only then is it given mode.
func writeSecret(sdir, name string, data []byte, uid, gid int, mode os.FileMode) (string, error) {
	if err := os.MkdirAll(sdir, 0o711); err != nil {
		return "", err
	}
	f := filepath.Join(sdir, name)
	if err := os.WriteFile(f, data, 0o600); err != nil {
		return "", err
	}
	if err := os.Chown(f, uid, gid); err != nil {
		return "", err
	}
	return f, os.Chmod(f, mode)
}

// mountSource finds a bind mount's source: in the context, or in an image mounted for the
// step.
func (b *buildBackend) mountSource(ctx context.Context, rs *build.RunSpec, m build.RunMount, releases *[]func()) (string, error) {
	root := rs.ContextDir
	if m.From.ID != "" || len(m.From.Config.RootFS.DiffIDs) > 0 {
		dir, release, err := b.Mount(ctx, m.From)
		if err != nil {
			return "", err
		}
		*releases = append(*releases, release)
		root = dir
	} else if root == "" {
		return "", errdefs.Newf(errdefs.ErrInvalid, "RUN --mount=type=bind: the build has no context to bind from")
	}
	src, err := secureJoin(root, m.Source)
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(src); err != nil {
		return "", errdefs.Newf(errdefs.ErrNotFound, "RUN --mount=type=bind,source=%s: %v", m.Source, errors.Unwrap(err))
	}
	return src, nil
}

// cacheDir is where cache mounts persist between builds.
func (e *Engine) cacheDir() string { return filepath.Join(e.Config.Root, "buildcache", "mounts") }

// cacheMount returns the directory of a cache mount, locked as its sharing mode asks:
// shared by everyone, locked (one step at a time) or private (a step gets an instance no
// other running step uses).
func (b *buildBackend) cacheMount(ctx context.Context, rs *build.RunSpec, m build.RunMount, releases *[]func()) (string, error) {
	cid := m.ID
	if cid == "" {
		cid = m.Target
	}
	sum := sha256.Sum256([]byte(cid))
	name := hex.EncodeToString(sum[:16])
	base := b.e.cacheDir()
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	instance := name
	switch m.Sharing {
	case "", "shared":
	case "locked":
		f, err := flockFile(ctx, filepath.Join(base, name+".lock"), true)
		if err != nil {
			return "", err
		}
		*releases = append(*releases, func() { f.Close() })
	case "private":
		for n := 0; ; n++ {
			inst := name
			if n > 0 {
				inst = fmt.Sprintf("%s-%d", name, n)
			}
			f, err := flockFile(ctx, filepath.Join(base, inst+".lock"), false)
			if err != nil {
				return "", err
			}
			if f != nil {
				*releases = append(*releases, func() { f.Close() })
				instance = inst
				break
			}
		}
	default:
		return "", errdefs.Newf(errdefs.ErrInvalid, "RUN --mount=type=cache: unknown sharing %q: want shared, private or locked", m.Sharing)
	}
	dir := filepath.Join(base, instance)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	// Build the new cache aside and rename it in, so a concurrent step sees it whole.
	tmp, err := os.MkdirTemp(base, ".new-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if m.From.ID != "" {
		src, err := b.mountSource(ctx, rs, build.RunMount{From: m.From, Source: m.Source}, releases)
		if err != nil {
			return "", err
		}
		if err := copyTree(ctx, src, tmp); err != nil {
			return "", err
		}
	}
	mode := os.FileMode(m.Mode)
	if mode == 0 {
		mode = 0o755
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return "", err
	}
	if err := os.Chown(tmp, m.UID, m.GID); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) && !errors.Is(err, unix.ENOTEMPTY) {
		return "", err
	}
	return dir, nil
}

// flockFile locks path; with wait false it returns nil, nil when someone else holds it.
func flockFile(ctx context.Context, path string, wait bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	for delay := time.Millisecond; ; {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !wait {
			f.Close()
			return nil, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// removeCacheMounts deletes every cache mount directory (builder prune -a).
func (e *Engine) removeCacheMounts(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(e.cacheDir())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, en := range entries {
		if !en.IsDir() {
			continue
		}
		p := filepath.Join(e.cacheDir(), en.Name())
		f, err := flockFile(ctx, p+".lock", false)
		if err != nil {
			return out, err
		}
		if f == nil {
			continue // in use by a running step
		}
		err = os.RemoveAll(p)
		f.Close()
		if err != nil {
			return out, err
		}
		out = append(out, "Deleted cache mount: "+en.Name())
	}
	return out, nil
}

// stubs are mount points a step's mounts needed that its parent did not have; they are
// removed after the step so that they never land in its layer.
type stubs struct {
	paths  []string // created, outermost first
	parent []stubParent
}

type stubParent struct {
	path         string
	atime, mtime time.Time
}

// makeStubs creates the missing mount points of mounts in rootfs. A mount nested in another
// (/dev/pts in /dev) lands on the outer mount, not in the layer, and needs none here.
func makeStubs(rootfs string, mounts []specs.Mount) (*stubs, error) {
	st := &stubs{}
	dests := make([]string, 0, len(mounts))
	for _, m := range mounts {
		dests = append(dests, filepath.Clean(m.Destination))
	}
	sort.Strings(dests)
	isDir := map[string]bool{}
	for _, m := range mounts {
		fi, err := os.Stat(m.Source)
		isDir[filepath.Clean(m.Destination)] = m.Type != "bind" || err != nil || fi.IsDir()
	}
	var outer []string
	for _, d := range dests {
		nested := false
		for _, o := range outer {
			if strings.HasPrefix(d, o+"/") || o == "/" {
				nested = true
			}
		}
		if nested || d == "/" {
			continue
		}
		outer = append(outer, d)
		if err := st.create(rootfs, d, isDir[d]); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// create makes dest (and its missing parents) in rootfs, remembering what it made.
func (st *stubs) create(rootfs, dest string, dir bool) error {
	p, err := secureJoin(rootfs, dest)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	var missing []string
	q := p
	for q != rootfs && len(q) > len(rootfs) {
		if _, err := os.Lstat(q); err == nil {
			break
		}
		missing = append(missing, q)
		q = filepath.Dir(q)
	}
	if fi, err := os.Lstat(q); err == nil {
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			st.parent = append(st.parent, stubParent{path: q, atime: time.Unix(s.Atim.Unix()), mtime: time.Unix(s.Mtim.Unix())})
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		m := missing[i]
		if i == 0 && !dir {
			f, err := os.OpenFile(m, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("mount point %s: %w", dest, err)
			}
			f.Close()
		} else if err := os.Mkdir(m, 0o755); err != nil {
			return fmt.Errorf("mount point %s: %w", dest, err)
		}
		st.paths = append(st.paths, m)
	}
	return nil
}

// remove deletes the stubs the step left empty, innermost first, and gives their parents
// back their times.
func (st *stubs) remove() error {
	for i := len(st.paths) - 1; i >= 0; i-- {
		if err := os.Remove(st.paths[i]); err != nil && !os.IsNotExist(err) && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("remove mount point %s: %w", st.paths[i], err)
		}
	}
	for i := len(st.parent) - 1; i >= 0; i-- {
		_ = os.Chtimes(st.parent[i].path, st.parent[i].atime, st.parent[i].mtime)
	}
	return nil
}

// copyPathTo copies src, a file or a directory tree, to dst with owners and modes.
func copyPathTo(ctx context.Context, src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		if err := filecopy.Regular(src, dst, fi.Mode().Perm()); err != nil {
			return err
		}
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			return os.Chown(dst, int(s.Uid), int(s.Gid))
		}
		return nil
	}
	if err := os.Mkdir(dst, fi.Mode().Perm()); err != nil && !os.IsExist(err) {
		return err
	}
	return copyTree(ctx, src, dst)
}
