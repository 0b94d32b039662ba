package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ulikunitz/xz"
)

// layerWriter writes a COPY's layer tar: missing parent directories first (existing ones
// with the parent image's attributes, so a COPY into /tmp keeps /tmp's mode), then entries.
type layerWriter struct {
	tw         *tar.Writer
	parentRoot string // the parent image's root, "" for scratch
	made       map[string]bool
	own        owner
	chmod      *fs.FileMode
	now        time.Time
	workdir    string // a WORKDIR to create as well, "" for none
	resolved   map[string]string
}

// real maps an image path to where the entry must go so that a directory the parent image
// has as a symlink (say /lib -> usr/lib) is followed, not replaced by a directory.
func (w *layerWriter) real(p string) (string, error) {
	if w.parentRoot == "" {
		return p, nil
	}
	dir := path.Dir(p)
	if dir == "/" {
		return p, nil
	}
	if w.resolved == nil {
		w.resolved = map[string]string{}
	}
	r, ok := w.resolved[dir]
	if !ok {
		var err error
		if r, err = resolveInRoot(w.parentRoot, dir, true); err != nil {
			return "", err
		}
		w.resolved[dir] = r
	}
	return path.Join(r, path.Base(p)), nil
}

func (w *layerWriter) write(ctx context.Context, out io.Writer, items []copyItem, dest string, dirDest bool) error {
	w.tw = tar.NewWriter(out)
	// the WORKDIR first: it is created as root, as buildkit's WORKDIR does, even when the
	// COPY's own destination (owned by --chown when new) lies in it or is it
	if err := w.workdirEntry(); err != nil {
		return err
	}
	if dirDest {
		if err := w.destDir(dest); err != nil {
			return err
		}
	}
	for i := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		it := &items[i]
		target := dest
		if dirDest {
			target = path.Join(dest, it.name)
		}
		var err error
		switch {
		case it.data != nil:
			err = w.bytesFile(target, []byte(*it.data), it.mode, it.mtime)
		case it.root == nil:
			err = w.file(target, it.abs, it.fi, it.mode, it.mtime, false)
		case it.archive:
			err = w.extract(ctx, it.abs, dest)
		case it.fi.IsDir():
			err = it.walk(func(rel, abs string, fi fs.FileInfo) error {
				return w.entry(path.Join(dest, rel), abs, fi, it.root.keepOwner)
			})
		default:
			err = w.entry(target, it.abs, it.fi, it.root.keepOwner)
		}
		if err != nil {
			return err
		}
	}
	return w.tw.Close()
}

// workdirEntry writes the pending WORKDIR directory unless the layer has it already.
func (w *layerWriter) workdirEntry() error {
	if w.workdir == "" || w.workdir == "/" || w.made[w.workdir] {
		return nil
	}
	if err := w.parents(w.workdir); err != nil {
		return err
	}
	return w.existingDir(w.workdir, owner{})
}

// name is a tar entry name for an absolute image path.
func tarName(p string) string { return strings.TrimPrefix(path.Clean(p), "/") }

// parents writes the directories above p that this layer has not written yet.
func (w *layerWriter) parents(p string) error {
	dir := path.Dir(path.Clean(p))
	if dir == "/" || w.made[dir] {
		return nil
	}
	if err := w.parents(dir); err != nil {
		return err
	}
	return w.existingDir(dir, owner{})
}

// existingDir writes dir with the parent image's attributes when it has it, else as a new
// directory (0755, own or root).
func (w *layerWriter) existingDir(dir string, own owner) error {
	w.made[dir] = true
	hdr := &tar.Header{Typeflag: tar.TypeDir, Name: tarName(dir) + "/", Mode: 0o755, ModTime: w.now, Format: tar.FormatPAX}
	if own.set {
		hdr.Uid, hdr.Gid = own.uid, own.gid
	}
	if w.parentRoot != "" {
		if fi, err := os.Lstat(filepath.Join(w.parentRoot, filepath.FromSlash(dir))); err == nil && fi.IsDir() {
			hdr.Mode = int64(unixMode(fi.Mode()))
			hdr.Uid, hdr.Gid = fileOwner(fi)
			hdr.ModTime = fi.ModTime()
		}
	}
	return w.tw.WriteHeader(hdr)
}

// destDir writes the destination directory: kept as the parent image has it, or created
// owned by --chown.
func (w *layerWriter) destDir(dest string) error {
	if dest == "/" || w.made[dest] {
		return nil
	}
	if err := w.parents(dest); err != nil {
		return err
	}
	return w.existingDir(dest, w.own)
}

// ownerOf is the uid/gid an entry gets: --chown, else the source's (images) or root's (context).
func (w *layerWriter) ownerOf(fi fs.FileInfo, keep bool) (int, int) {
	if w.own.set {
		return w.own.uid, w.own.gid
	}
	if keep && fi != nil {
		return fileOwner(fi)
	}
	return 0, 0
}

func (w *layerWriter) perm(m fs.FileMode) int64 {
	if w.chmod != nil {
		return int64(unixMode(*w.chmod))
	}
	return int64(unixMode(m))
}

// entry copies one file, directory, symlink or fifo from disk to target.
func (w *layerWriter) entry(target, abs string, fi fs.FileInfo, keepOwner bool) error {
	if target == "/" {
		return nil
	}
	target, err := w.real(target)
	if err != nil {
		return err
	}
	if err := w.parents(target); err != nil {
		return err
	}
	uid, gid := w.ownerOf(fi, keepOwner)
	hdr := &tar.Header{Name: tarName(target), Uid: uid, Gid: gid, ModTime: fi.ModTime(), Mode: w.perm(fi.Mode()), Format: tar.FormatPAX}
	switch {
	case fi.IsDir():
		w.made[target] = true
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		return w.tw.WriteHeader(hdr)
	case fi.Mode()&fs.ModeSymlink != 0:
		link, err := os.Readlink(abs)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = link
		hdr.Mode = int64(unixMode(fi.Mode()))
		return w.tw.WriteHeader(hdr)
	case fi.Mode()&fs.ModeNamedPipe != 0:
		hdr.Typeflag = tar.TypeFifo
		return w.tw.WriteHeader(hdr)
	case fi.Mode().IsRegular():
		return w.file(target, abs, fi, fi.Mode(), fi.ModTime(), keepOwner)
	}
	// sockets and device nodes are not copied, as buildkit skips them
	return nil
}

// file streams a regular file into the layer.
func (w *layerWriter) file(target, abs string, fi fs.FileInfo, mode fs.FileMode, mtime time.Time, keepOwner bool) error {
	target, err := w.real(target)
	if err != nil {
		return err
	}
	if err := w.parents(target); err != nil {
		return err
	}
	f, err := os.Open(abs)
	if err != nil {
		return err
	}
	defer f.Close()
	uid, gid := w.ownerOf(fi, keepOwner)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: tarName(target), Size: fi.Size(), Mode: w.perm(mode),
		Uid: uid, Gid: gid, ModTime: mtime, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(w.tw, f, fi.Size()); err != nil {
		return fmt.Errorf("copy %s: %w", abs, err)
	}
	return nil
}

func (w *layerWriter) bytesFile(target string, data []byte, mode fs.FileMode, mtime time.Time) error {
	target, err := w.real(target)
	if err != nil {
		return err
	}
	if err := w.parents(target); err != nil {
		return err
	}
	uid, gid := w.ownerOf(nil, false)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: tarName(target), Size: int64(len(data)), Mode: w.perm(mode),
		Uid: uid, Gid: gid, ModTime: mtime, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = w.tw.Write(data)
	return err
}

// extract re-roots a local archive's entries under dest (ADD). Entries whose names climb out
// of the archive are refused; ownership is kept unless --chown is given.
func (w *layerWriter) extract(ctx context.Context, abs, dest string) error {
	f, err := os.Open(abs)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := decompress(bufio.NewReader(f))
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive %s: %w", filepath.Base(abs), err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := archivePath(hdr.Name)
		if err != nil {
			return fmt.Errorf("archive %s: %w", filepath.Base(abs), err)
		}
		if name == "/" {
			continue
		}
		target, err := w.real(path.Join(dest, name))
		if err != nil {
			return err
		}
		if err := w.parents(target); err != nil {
			return err
		}
		h := *hdr
		h.Name = tarName(target)
		h.Uname, h.Gname = "", ""
		h.Format = tar.FormatPAX
		h.PAXRecords = nil
		if w.own.set {
			h.Uid, h.Gid = w.own.uid, w.own.gid
		}
		switch h.Typeflag {
		case tar.TypeDir:
			w.made[target] = true
			h.Name += "/"
		case tar.TypeLink:
			ln, err := archivePath(hdr.Linkname)
			if err != nil {
				return fmt.Errorf("archive %s: %w", filepath.Base(abs), err)
			}
			h.Linkname = tarName(path.Join(dest, ln))
		}
		if err := w.tw.WriteHeader(&h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA {
			if _, err := io.Copy(w.tw, tr); err != nil {
				return err
			}
		}
	}
}

// archivePath cleans an archive entry name, refusing one that leaves the archive's root.
func archivePath(name string) (string, error) {
	n := path.Clean(strings.TrimPrefix(filepath.ToSlash(name), "/"))
	if n == ".." || strings.HasPrefix(n, "../") {
		return "", fmt.Errorf("entry %q leaves the archive", name)
	}
	return path.Clean("/" + n), nil
}

// decompress detects gzip, bzip2 and xz by their magic numbers; anything else passes as is.
func decompress(br *bufio.Reader) (io.Reader, error) {
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return xz.NewReader(br)
	}
	return br, nil
}

// isArchive reports whether the file is a tar, plain or compressed, judged by content.
func isArchive(abs string) (bool, error) {
	f, err := os.Open(abs)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r, err := decompress(bufio.NewReader(f))
	if err != nil {
		return false, nil
	}
	_, err = tar.NewReader(r).Next()
	return err == nil, nil
}

// download fetches an ADD URL into dir: the file is named from the URL's path, gets mode
// 0600 and the Last-Modified time, and must match checksum ("sha256:...") when one is given.
func download(ctx context.Context, raw, dir, checksum string) (copyItem, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return copyItem{}, fmt.Errorf("invalid URL %s: %w", raw, err)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "__unnamed__"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return copyItem{}, fmt.Errorf("download %s: %w", raw, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return copyItem{}, fmt.Errorf("download %s: %w", raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return copyItem{}, fmt.Errorf("download %s: %s", raw, resp.Status)
	}
	f, err := os.CreateTemp(dir, "download-")
	if err != nil {
		return copyItem{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		return copyItem{}, fmt.Errorf("download %s: %w", raw, err)
	}
	if checksum != "" {
		got := "sha256:" + hex.EncodeToString(h.Sum(nil))
		want := checksum
		if !strings.Contains(want, ":") {
			want = "sha256:" + want
		}
		if got != want {
			return copyItem{}, fmt.Errorf("download %s: digest mismatch: got %s, want %s", raw, got, want)
		}
	}
	mtime := time.Now().UTC()
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			mtime = t.UTC()
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return copyItem{}, err
	}
	return copyItem{name: name, abs: f.Name(), fi: fi, mode: 0o600, mtime: mtime}, nil
}

// unixMode turns Go's FileMode permission and special bits into the st_mode bits tar wants.
func unixMode(m fs.FileMode) uint32 {
	out := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		out |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		out |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		out |= 0o1000
	}
	return out
}

func fromUnixMode(n uint32) fs.FileMode {
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
