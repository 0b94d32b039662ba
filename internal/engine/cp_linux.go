package engine

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libimage/archive"
)

// CopyOptions are `cp`'s flags.
type CopyOptions struct {
	// Archive gives what lands in a container to the container's user (docker cp -a);
	// without it a tar from stdin keeps its owners.
	Archive bool
	// Overwrite lets a file replace a directory and the reverse (Podman's --overwrite).
	Overwrite bool
	// Pause freezes a running container for the copy (Podman's --pause).
	Pause bool
}

// withPath calls fn with p resolved inside the container's root filesystem as the container
// sees it: through /proc/PID/root when it runs (its mounts included), else in its layer or,
// for a path under one of its bind mounts or volumes, in that mount's host directory.
func (e *Engine) withPath(ctx context.Context, ref, p string, pause bool, fn func(c *Container, resolved, root string) error) error {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return err
	}
	in := func(root, p string) error {
		resolved, err := secureJoin(root, p)
		if err != nil {
			return err
		}
		return fn(c, resolved, root)
	}
	if proc := fmt.Sprintf("/proc/%d/root", c.Pid); c.Active() && c.Pid > 0 {
		if _, err := os.Stat(proc); err == nil {
			if pause && c.State == StateRunning {
				if _, err := e.PauseContainer(ctx, c.ID, true); err != nil {
					return err
				}
				defer e.PauseContainer(context.WithoutCancel(ctx), c.ID, false)
			}
			return in(proc, p)
		}
	}
	return e.withLayer(ctx, c, func(layer string) error {
		if dir, rest := e.mountHolding(ctx, c, p); dir != "" {
			return in(dir, rest)
		}
		return in(layer, p)
	})
}

// mountHolding finds the deepest bind mount or volume of a stopped container that holds p
// and returns its host directory and p relative to it ("" when p is in the layer).
func (e *Engine) mountHolding(ctx context.Context, c *Container, p string) (string, string) {
	p = path.Clean("/" + p)
	dir, rest, depth := "", "", -1
	for _, m := range c.Options.Mounts {
		t := path.Clean("/" + m.Target)
		if (p != t && !strings.HasPrefix(p, strings.TrimSuffix(t, "/")+"/")) || len(t) <= depth {
			continue
		}
		var host string
		switch m.Type {
		case "bind":
			host = m.Source
		case "volume":
			v, err := e.Volume(ctx, m.Source)
			if err != nil {
				continue
			}
			host = v.Mountpoint
		default:
			continue
		}
		dir, rest, depth = host, strings.TrimPrefix(p, t), len(t)
	}
	return dir, rest
}

// CopyFromContainer copies path out of the container to dst on the host ("-": a tar to w).
func (e *Engine) CopyFromContainer(ctx context.Context, ref, src, dst string, w io.Writer, o *CopyOptions) error {
	if o == nil {
		o = &CopyOptions{}
	}
	return e.withPath(ctx, ref, src, o.Pause, func(c *Container, from, _ string) error {
		fi, err := os.Lstat(from)
		if err != nil {
			return errdefs.Newf(errdefs.ErrNotFound, "%q could not be found on container %s: no such file or directory", src, c.Name)
		}
		if dst == "-" {
			return tarPath(ctx, from, path.Base(path.Clean("/"+src)), w)
		}
		_, err = copyPath(ctx, from, fi, src, dst, o.Overwrite)
		return err
	})
}

// CopyToContainer copies src on the host ("-": a tar, maybe compressed, read from r) into
// the container at dst.
func (e *Engine) CopyToContainer(ctx context.Context, src, ref, dst string, r io.Reader, o *CopyOptions) error {
	if o == nil {
		o = &CopyOptions{}
	}
	return e.withPath(ctx, ref, dst, o.Pause, func(c *Container, to, root string) error {
		var owner *[2]int
		if o.Archive {
			u, err := resolveUser(root, c.Options.User)
			if err != nil {
				return err
			}
			owner = &[2]int{int(u.UID), int(u.GID)}
		}
		if src == "-" {
			if fi, err := os.Stat(to); err != nil || !fi.IsDir() {
				return errdefs.Newf(errdefs.ErrInvalid, "destination must be a directory when copying from stdin")
			}
			tr, err := tarStream(r, owner)
			if err != nil {
				return err
			}
			defer tr.Close()
			_, err = archive.Unpack(ctx, tr, to, &archive.UnpackOptions{Whiteouts: archive.WhiteoutApply})
			return err
		}
		fi, err := os.Lstat(src)
		if err != nil {
			return errdefs.Newf(errdefs.ErrNotFound, "could not find the file %s", src)
		}
		target, err := copyPath(ctx, src, fi, src, to, o.Overwrite)
		if err != nil || owner == nil {
			return err
		}
		return filepath.Walk(target, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, owner[0], owner[1])
		})
	})
}

// CopyBetweenContainers copies src in one container to dst in another through a private
// directory on the host, with cp's naming rules on both sides.
func (e *Engine) CopyBetweenContainers(ctx context.Context, srcRef, src, dstRef, dst string, o *CopyOptions) error {
	tmp, err := os.MkdirTemp("", "berth-cp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := e.CopyFromContainer(ctx, srcRef, src, tmp, nil, o); err != nil {
		return err
	}
	entries, err := os.ReadDir(tmp)
	if err != nil || len(entries) != 1 {
		return fmt.Errorf("copy %s: staging: %v", src, err)
	}
	staged := filepath.Join(tmp, entries[0].Name())
	if strings.HasSuffix(src, "/.") { // the content, not the directory
		staged += "/."
	}
	return e.CopyToContainer(ctx, staged, dstRef, dst, nil, o)
}

// tarStream undoes gzip, bzip2, xz or zstd compression of r, checks that a tar follows, and
// with owner sets every entry's owner.
func tarStream(r io.Reader, owner *[2]int) (io.ReadCloser, error) {
	notTar := errdefs.Newf(errdefs.ErrInvalid, "source must be a (compressed) tar archive when copying from stdin")
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(6)
	var plain io.Reader = br
	closer := func() {}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, notTar
		}
		plain, closer = zr, func() { zr.Close() }
	case bytes.HasPrefix(magic, []byte("BZh")):
		plain = bzip2.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, notTar
		}
		plain = xr
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, notTar
		}
		plain, closer = zr, zr.Close
	}
	pr := bufio.NewReaderSize(plain, 64<<10)
	if h, err := pr.Peek(512); err != nil || !bytes.Equal(h[257:262], []byte("ustar")) {
		closer()
		return nil, notTar
	}
	if owner == nil {
		return readCloser{pr, closer}, nil
	}
	out, w := io.Pipe()
	go func() {
		tr, tw := tar.NewReader(pr), tar.NewWriter(w)
		var err error
		for {
			var h *tar.Header
			if h, err = tr.Next(); err != nil {
				break
			}
			h.Uid, h.Gid, h.Uname, h.Gname = owner[0], owner[1], "", ""
			if err = tw.WriteHeader(h); err != nil {
				break
			}
			if _, err = io.Copy(tw, tr); err != nil {
				break
			}
		}
		if errors.Is(err, io.EOF) {
			err = tw.Close()
		}
		w.CloseWithError(err)
	}()
	return readCloser{out, func() { out.Close(); closer() }}, nil
}

type readCloser struct {
	io.Reader
	close func()
}

func (r readCloser) Close() error { r.close(); return nil }

// copyPath implements `cp` semantics: a directory lands inside an existing directory (or its
// content does, for SRC/.), or becomes dst; a file lands inside an existing directory or
// becomes dst. A directory and a file replace each other only with overwrite. It returns
// where the copy landed.
func copyPath(ctx context.Context, from string, fi os.FileInfo, srcArg, dst string, overwrite bool) (string, error) {
	target := dst
	if st, err := os.Stat(dst); err == nil && st.IsDir() && !strings.HasSuffix(srcArg, "/.") {
		target = filepath.Join(dst, filepath.Base(from))
	} else if err != nil && strings.HasSuffix(dst, "/") {
		return "", errdefs.Newf(errdefs.ErrNotFound, "destination directory %s does not exist", dst)
	}
	if st, err := os.Lstat(target); err == nil && st.IsDir() != fi.IsDir() && !(fi.IsDir() && strings.HasSuffix(srcArg, "/.")) {
		if !overwrite {
			kind := "a directory"
			if !st.IsDir() {
				kind = "not a directory"
			}
			return "", errdefs.Newf(errdefs.ErrExists, "copy %s: error creating %q: %s exists and is %s: file exists (--overwrite replaces it)", srcArg, filepath.Base(target), filepath.Base(target), kind)
		}
		if err := os.RemoveAll(target); err != nil {
			return "", err
		}
	}
	if fi.IsDir() {
		if err := os.MkdirAll(target, fi.Mode().Perm()); err != nil {
			return "", err
		}
		return target, copyTree(ctx, from, target)
	}
	if _, err := os.Stat(filepath.Dir(target)); err != nil {
		return "", errdefs.Newf(errdefs.ErrNotFound, "destination directory %s does not exist", filepath.Dir(target))
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		l, err := os.Readlink(from)
		if err != nil {
			return "", err
		}
		os.Remove(target)
		return target, os.Symlink(l, target)
	}
	in, err := os.Open(from)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", fmt.Errorf("copy %s: %w", srcArg, err)
	}
	_ = os.Chmod(target, fi.Mode().Perm())
	_ = os.Chtimes(target, fi.ModTime(), fi.ModTime())
	return target, out.Close()
}
