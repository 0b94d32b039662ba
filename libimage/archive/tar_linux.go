package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TarOptions tunes the tar writers.
type TarOptions struct {
	// ClampTime, if set, caps every mtime at it (SOURCE_DATE_EPOCH), for reproducible layers.
	ClampTime *time.Time
	// Prefix, if set, names the tree's top directory: entries are Prefix/..., led by Prefix/ (cp).
	Prefix string
}

// tarWriter writes entries in a stable order with hard links detected by inode.
type tarWriter struct {
	tw    *tar.Writer
	opts  TarOptions
	links map[[2]uint64]string
}

func newTarWriter(w io.Writer, opts *TarOptions) *tarWriter {
	t := &tarWriter{tw: tar.NewWriter(w), links: map[[2]uint64]string{}}
	if opts != nil {
		t.opts = *opts
	}
	return t
}

// add writes the file at abs under the archive name rel.
func (t *tarWriter) add(abs, rel string, fi os.FileInfo) error {
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		l, err := os.Readlink(abs)
		if err != nil {
			return err
		}
		link = l
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("header %s: %w", rel, err)
	}
	hdr.Name = rel
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Format = tar.FormatPAX
	hdr.Uname, hdr.Gname = "", ""
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if t.opts.ClampTime != nil && hdr.ModTime.After(*t.opts.ClampTime) {
		hdr.ModTime = *t.opts.ClampTime
	}
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := t.links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				t.links[key] = rel
			}
		}
	}
	if err := t.xattrs(abs, hdr); err != nil {
		return err
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	f, err := os.Open(abs)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(t.tw, f, hdr.Size); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	return nil
}

// xattrs copies extended attributes except overlay's own bookkeeping.
func (t *tarWriter) xattrs(abs string, hdr *tar.Header) error {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(abs, buf)
	if err != nil || n <= 0 {
		return nil
	}
	for _, k := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if k == "" || strings.HasPrefix(k, "trusted.overlay.") || strings.HasPrefix(k, "user.overlay.") {
			continue
		}
		vb := make([]byte, 65536)
		vn, err := unix.Lgetxattr(abs, k, vb)
		if err != nil {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = string(vb[:vn])
	}
	return nil
}

func (t *tarWriter) whiteout(rel string) error {
	dir, base := filepath.Split(rel)
	return t.tw.WriteHeader(&tar.Header{Name: dir + WhiteoutPrefix + base, Typeflag: tar.TypeReg, Mode: 0o644,
		ModTime: time.Unix(0, 0), Format: tar.FormatPAX})
}

func (t *tarWriter) close() error { return t.tw.Close() }

// sortedNames lists a directory's entries in byte order.
func sortedNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	sort.Strings(names)
	return names, err
}

// walk visits root's tree depth-first in sorted order; fn may return filepath.SkipDir.
func walk(ctx context.Context, root, rel string, fn func(abs, rel string, fi os.FileInfo) error) error {
	names, err := sortedNames(filepath.Join(root, rel))
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := filepath.Join(rel, n)
		abs := filepath.Join(root, r)
		fi, err := os.Lstat(abs)
		if err != nil {
			return err
		}
		err = fn(abs, r, fi)
		if err == filepath.SkipDir {
			continue
		}
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if err := walk(ctx, root, r, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// Tar streams dir as a plain tar (export, cp, import).
func Tar(ctx context.Context, dir string, w io.Writer, opts *TarOptions) error {
	t := newTarWriter(w, opts)
	name := func(rel string) string { return rel }
	if t.opts.Prefix != "" {
		fi, err := os.Lstat(dir)
		if err != nil {
			return err
		}
		if err := t.add(dir, t.opts.Prefix, fi); err != nil {
			return err
		}
		name = func(rel string) string { return t.opts.Prefix + "/" + rel }
	}
	if err := walk(ctx, dir, "", func(abs, rel string, fi os.FileInfo) error { return t.add(abs, name(rel), fi) }); err != nil {
		return fmt.Errorf("tar %s: %w", dir, err)
	}
	return t.close()
}

func isOverlayWhiteout(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode()&os.ModeCharDevice != 0 && st.Rdev == 0
}

func isOpaque(abs string) bool {
	for _, k := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		b := make([]byte, 8)
		if n, err := unix.Lgetxattr(abs, k, b); err == nil && n == 1 && b[0] == 'y' {
			return true
		}
	}
	return false
}

// DiffOverlayUpper streams an overlay upper directory's changes as an OCI layer tar:
// 0/0 character devices become .wh.NAME, opaque directories get .wh..wh..opq.
func DiffOverlayUpper(ctx context.Context, upper string, w io.Writer, opts *TarOptions) error {
	t := newTarWriter(w, opts)
	err := walk(ctx, upper, "", func(abs, rel string, fi os.FileInfo) error {
		if isOverlayWhiteout(fi) {
			return t.whiteout(rel)
		}
		if err := t.add(abs, rel, fi); err != nil {
			return err
		}
		if fi.IsDir() && isOpaque(abs) {
			return t.tw.WriteHeader(&tar.Header{Name: filepath.Join(rel, OpaqueMarker), Typeflag: tar.TypeReg,
				Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("diff %s: %w", upper, err)
	}
	return t.close()
}

// DiffDirs streams the changes from lower to upper (two full trees) as an OCI layer tar.
// A file counts as changed when its type, mode, owner, size, mtime or link target differ.
func DiffDirs(ctx context.Context, lower, upper string, w io.Writer, opts *TarOptions) error {
	t := newTarWriter(w, opts)
	err := walk(ctx, upper, "", func(abs, rel string, fi os.FileInfo) error {
		lfi, err := os.Lstat(filepath.Join(lower, rel))
		if err == nil && sameFile(fi, lfi, abs, filepath.Join(lower, rel)) {
			return nil
		}
		return t.add(abs, rel, fi)
	})
	if err == nil {
		err = walk(ctx, lower, "", func(abs, rel string, fi os.FileInfo) error {
			if _, err := os.Lstat(filepath.Join(upper, rel)); os.IsNotExist(err) {
				if err := t.whiteout(rel); err != nil {
					return err
				}
				return filepath.SkipDir // a deleted directory's children go with it
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("diff %s %s: %w", lower, upper, err)
	}
	return t.close()
}

func sameFile(a, b os.FileInfo, apath, bpath string) bool {
	if a.Mode() != b.Mode() {
		return false
	}
	sa, oka := a.Sys().(*syscall.Stat_t)
	sb, okb := b.Sys().(*syscall.Stat_t)
	if oka && okb && (sa.Uid != sb.Uid || sa.Gid != sb.Gid || sa.Rdev != sb.Rdev) {
		return false
	}
	if a.IsDir() {
		return true // a directory's own metadata is compared above; children on their own
	}
	// Layers keep whole seconds, so compare at that precision.
	if a.Size() != b.Size() || a.ModTime().Unix() != b.ModTime().Unix() {
		return false
	}
	if a.Mode()&os.ModeSymlink != 0 {
		la, _ := os.Readlink(apath)
		lb, _ := os.Readlink(bpath)
		return la == lb
	}
	return true
}
