package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// WhiteoutMode says how OCI whiteouts are stored on disk.
type WhiteoutMode int

const (
	// WhiteoutOverlay stores whiteouts as overlayfs does: a 0/0 character device for a
	// deleted name, an "overlay.opaque" xattr on an opaque directory.
	WhiteoutOverlay WhiteoutMode = iota
	// WhiteoutApply deletes in place, for drivers that keep full copies (vfs).
	WhiteoutApply
)

// UnpackOptions tunes Unpack; nil means overlay whiteouts as root.
type UnpackOptions struct {
	Whiteouts WhiteoutMode
	// XattrPrefix is "trusted.overlay." (root) or "user.overlay." (rootless overlay with userxattr).
	XattrPrefix string
	// SkipDevices skips device nodes instead of failing (mknod is refused in a user namespace).
	SkipDevices bool
}

type dirTime struct {
	name string
	hdr  *tar.Header
}

// Unpack extracts the uncompressed layer tar r into dir, which must exist. It returns the
// number of content bytes written.
func Unpack(ctx context.Context, r io.Reader, dir string, opts *UnpackOptions) (int64, error) {
	if opts == nil {
		opts = &UnpackOptions{}
	}
	prefix := opts.XattrPrefix
	if prefix == "" {
		prefix = "trusted.overlay."
	}
	rootfd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(rootfd)
	u := &unpacker{root: rootfd, opts: opts, xattrPrefix: prefix, written: map[string]bool{}}
	tr := tar.NewReader(r)
	var dirs []dirTime
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return total, fmt.Errorf("read layer: %w", err)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return total, err
		}
		if name == "" {
			continue // the root itself: its metadata is the driver's
		}
		n, err := u.entry(name, hdr, tr)
		if err != nil {
			return total, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		total += n
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTime{name, hdr})
		}
	}
	// Directory times last: creating their children changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := u.setTimes(dirs[i].name, dirs[i].hdr); err != nil {
			return total, fmt.Errorf("entry %q: %w", dirs[i].name, err)
		}
	}
	return total, nil
}

type unpacker struct {
	root        int
	opts        *UnpackOptions
	xattrPrefix string
	written     map[string]bool // names this layer created, for opaque dirs applied in place
}

// openParent returns an fd of name's parent directory, resolved inside the root, creating
// missing parents as 0755 directories (tars may omit them).
func (u *unpacker) openParent(name string) (int, string, error) {
	parent, base := path.Split(name)
	parent = strings.TrimSuffix(parent, "/")
	if parent == "" {
		fd, err := unix.Dup(u.root)
		return fd, base, err
	}
	fd, err := u.resolve(parent)
	if errors.Is(err, unix.ENOENT) {
		if err := u.mkdirAll(parent); err != nil {
			return -1, "", err
		}
		fd, err = u.resolve(parent)
	}
	if err != nil {
		return -1, "", fmt.Errorf("open parent %s: %w", parent, err)
	}
	return fd, base, nil
}

// resolve opens a directory inside the root. RESOLVE_IN_ROOT makes ".." and absolute
// symlinks stop at the root, so a symlinked parent can never lead outside it.
func (u *unpacker) resolve(p string) (int, error) {
	for {
		fd, err := unix.Openat2(u.root, p, &unix.OpenHow{
			Flags:   unix.O_DIRECTORY | unix.O_RDONLY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

func (u *unpacker) mkdirAll(p string) error {
	cur := ""
	for _, c := range strings.Split(p, "/") {
		cur = path.Join(cur, c)
		fd, err := u.resolve(cur)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("open %s: %w", cur, err)
		}
		pfd, base, err := u.openParent(cur)
		if err != nil {
			return err
		}
		err = unix.Mkdirat(pfd, base, 0o755)
		unix.Close(pfd)
		if err != nil && err != unix.EEXIST {
			return fmt.Errorf("mkdir %s: %w", cur, err)
		}
	}
	return nil
}

func (u *unpacker) entry(name string, hdr *tar.Header, r io.Reader) (int64, error) {
	pfd, base, err := u.openParent(name)
	if err != nil {
		return 0, err
	}
	defer unix.Close(pfd)

	// Whiteouts.
	if base == OpaqueMarker {
		dir := path.Dir(name)
		if u.opts.Whiteouts == WhiteoutApply {
			return 0, u.clearOpaque(dir)
		}
		fd, err := u.resolve(dir)
		if err != nil {
			return 0, err
		}
		defer unix.Close(fd)
		return 0, unix.Fsetxattr(fd, u.xattrPrefix+"opaque", []byte("y"), 0)
	}
	if strings.HasPrefix(base, WhiteoutPrefix) {
		target := strings.TrimPrefix(base, WhiteoutPrefix)
		if target == "" || target == "." || target == ".." {
			return 0, fmt.Errorf("bad whiteout")
		}
		if err := removeAt(pfd, target); err != nil {
			return 0, err
		}
		if u.opts.Whiteouts == WhiteoutApply {
			return 0, nil
		}
		return 0, unix.Mknodat(pfd, target, unix.S_IFCHR, 0)
	}
	u.written[name] = true

	mode := uint32(hdr.Mode & 0o7777)
	var n int64
	switch hdr.Typeflag {
	case tar.TypeDir:
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := removeAt(pfd, base); err != nil {
				return 0, err
			}
		}
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && err != unix.EEXIST {
			return 0, fmt.Errorf("mkdir: %w", err)
		}
	case tar.TypeReg, tar.TypeRegA:
		if err := removeAt(pfd, base); err != nil {
			return 0, err
		}
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return 0, fmt.Errorf("create: %w", err)
		}
		f := os.NewFile(uintptr(fd), name)
		n, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return n, fmt.Errorf("write: %w", err)
		}
	case tar.TypeSymlink:
		if err := removeAt(pfd, base); err != nil {
			return 0, err
		}
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return 0, fmt.Errorf("symlink: %w", err)
		}
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil || target == "" {
			return 0, fmt.Errorf("hard link to %q escapes the root", hdr.Linkname)
		}
		tfd, err := unix.Openat2(u.root, target, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return 0, fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
		}
		defer unix.Close(tfd)
		if err := removeAt(pfd, base); err != nil {
			return 0, err
		}
		// Linking through /proc/self/fd works without CAP_DAC_READ_SEARCH (AT_EMPTY_PATH needs it).
		if err := unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", tfd), pfd, base, unix.AT_SYMLINK_FOLLOW); err != nil {
			return 0, fmt.Errorf("link: %w", err)
		}
		return 0, nil // a hard link shares its target's metadata
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		if err := removeAt(pfd, base); err != nil {
			return 0, err
		}
		dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
		if err := unix.Mknodat(pfd, base, kind|mode, dev); err != nil {
			if u.opts.SkipDevices && (err == unix.EPERM || err == unix.EACCES) {
				logrus.WithField("entry", name).Debug("skipping device node: mknod not permitted")
				return 0, nil
			}
			return 0, fmt.Errorf("mknod: %w", err)
		}
	case tar.TypeXGlobalHeader:
		return 0, nil
	default:
		return 0, fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
	return n, u.setMeta(pfd, base, name, hdr, mode)
}

// setMeta applies owner, xattrs, mode (after chown, which clears setuid) and, for
// non-directories, times.
func (u *unpacker) setMeta(pfd int, base, name string, hdr *tar.Header, mode uint32) error {
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
	}
	if hdr.Typeflag == tar.TypeSymlink {
		return u.setTimes(name, hdr)
	}
	fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	proc := fmt.Sprintf("/proc/self/fd/%d", fd)
	for k, v := range hdr.PAXRecords {
		const p = "SCHILY.xattr."
		if !strings.HasPrefix(k, p) {
			continue
		}
		if err := unix.Lsetxattr(proc, strings.TrimPrefix(k, p), []byte(v), 0); err != nil {
			if err == unix.ENOTSUP || err == unix.EPERM {
				logrus.WithFields(logrus.Fields{"entry": name, "xattr": k}).Debug("xattr not kept")
				continue
			}
			return fmt.Errorf("setxattr %s: %w", k, err)
		}
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, proc, mode, 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if hdr.Typeflag == tar.TypeDir {
		return nil
	}
	return u.setTimes(name, hdr)
}

func (u *unpacker) setTimes(name string, hdr *tar.Header) error {
	pfd, base, err := u.openParent(name)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimes: %w", err)
	}
	return nil
}

// clearOpaque removes what lower layers had in dir, keeping what this layer wrote.
func (u *unpacker) clearOpaque(dir string) error {
	fd, err := u.resolve(dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	names, err := readDirNames(fd)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !u.written[path.Join(dir, n)] {
			if err := removeAt(fd, n); err != nil {
				return err
			}
		}
	}
	return nil
}

func readDirNames(fd int) ([]string, error) {
	dfd, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dfd), "dir")
	defer f.Close()
	return f.Readdirnames(-1)
}

// removeAt removes name under dirfd recursively without following symlinks; a missing
// name is not an error.
func removeAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR && err != unix.EPERM {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	fd, err := unix.Openat(dirfd, name, unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	names, err := readDirNames(fd)
	if err == nil {
		for _, n := range names {
			if err = removeAt(fd, n); err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}
