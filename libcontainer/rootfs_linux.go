package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/libcontainer/cgroups"
)

var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY}, "nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV}, "noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK}, "atime": {true, unix.MS_NOATIME},
	"noatime": {false, unix.MS_NOATIME}, "diratime": {true, unix.MS_NODIRATIME}, "nodiratime": {false, unix.MS_NODIRATIME},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC}, "relatime": {false, unix.MS_RELATIME},
	"norelatime": {true, unix.MS_RELATIME}, "strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"dirsync": {false, unix.MS_DIRSYNC}, "rro": {false, unix.MS_RDONLY}, // rro: see readonlyRecursive

}

var propagationFlags = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC, "shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC, "unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parseMountOptions splits options into mount flags, propagation flags and filesystem data.
func parseMountOptions(opts []string) (flags uintptr, prop []uintptr, data string, err error) {
	var d []string
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[o]; ok {
			prop = append(prop, p)
			continue
		}
		d = append(d, o)
	}
	return flags, prop, strings.Join(d, ","), nil
}

// setupRootfs prepares the container's filesystem in its new mount namespace and pivots into it.
// cgroupViews are the init's own cgroups, what it shows at /sys/fs/cgroup.
func setupRootfs(spec *specs.Spec, rootfs string, noPivot bool, cgroupViews []cgroups.View) error {
	prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if spec.Linux != nil && spec.Linux.RootfsPropagation != "" {
		p, ok := propagationFlags[spec.Linux.RootfsPropagation]
		if !ok {
			return fmt.Errorf("linux.rootfsPropagation: unknown %q", spec.Linux.RootfsPropagation)
		}
		prop = p
	}
	if err := unix.Mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("make / %s: %w", spec.Linux.RootfsPropagation, err)
	}
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s: %w", rootfs, err)
	}
	for i, m := range spec.Mounts {
		if err := mountOne(rootfs, m, cgroupViews); err != nil {
			return fmt.Errorf("mounts[%d] %s: %w", i, m.Destination, err)
		}
	}
	if err := setupDev(spec, rootfs); err != nil {
		return err
	}
	if err := os.Chdir(rootfs); err != nil {
		return err
	}
	pivotErr := errors.New("--no-pivot")
	if !noPivot {
		pivotErr = pivotRoot(rootfs)
	}
	// Where pivot_root is impossible (a ramfs root, --no-pivot), move the rootfs over / and chroot.
	if pivotErr != nil {
		if !noPivot && !errors.Is(pivotErr, unix.EINVAL) {
			return pivotErr
		}
		if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move rootfs: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if spec.Linux != nil {
		if err := applySysctls(spec.Linux.Sysctl); err != nil {
			return err
		}
		for _, p := range spec.Linux.MaskedPaths {
			if err := maskPath(p); err != nil {
				return err
			}
		}
		for _, p := range spec.Linux.ReadonlyPaths {
			if err := readonlyPath(p); err != nil {
				return err
			}
		}
	}
	if spec.Root != nil && spec.Root.Readonly {
		if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("remount / read-only: %w", err)
		}
	}
	return nil
}

// pivotRoot pivots into the current directory the way runc does, without a temporary dir:
// pivot_root(".", ".") stacks the old root on top; detaching it leaves the new root alone.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return os.Chdir("/")
}

// securePath resolves dst inside rootfs, following symlinks without leaving it.
func securePath(rootfs, dst string) (string, error) {
	if !filepath.IsAbs(dst) {
		return "", fmt.Errorf("destination %q is not absolute", dst)
	}
	cur := rootfs
	parts := strings.Split(filepath.Clean(dst), "/")
	for n := 0; len(parts) > 0; {
		p := parts[0]
		parts = parts[1:]
		if p == "" || p == "." {
			continue
		}
		if p == ".." {
			if cur != rootfs {
				cur = filepath.Dir(cur)
			}
			continue
		}
		next := filepath.Join(cur, p)
		target, err := os.Readlink(next)
		if err != nil {
			cur = next
			continue
		}
		if n++; n > 40 {
			return "", fmt.Errorf("%s: too many symlinks", dst)
		}
		if filepath.IsAbs(target) {
			cur = rootfs
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return cur, nil
}

func mountOne(rootfs string, m specs.Mount, cgroupViews []cgroups.View) error {
	dst, err := securePath(rootfs, m.Destination)
	if err != nil {
		return err
	}
	flags, props, data, _ := parseMountOptions(m.Options)
	typ := m.Type
	if typ == "" && flags&unix.MS_BIND == 0 {
		return fmt.Errorf("mount type is empty and no bind option")
	}
	if flags&unix.MS_BIND != 0 {
		typ = "bind"
	}
	switch typ {
	case "bind":
		st, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("bind source: %w", err)
		}
		if err := makeTarget(dst, st.IsDir()); err != nil {
			return err
		}
		if err := unix.Mount(m.Source, dst, "", flags&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
			return fmt.Errorf("bind %s: %w", m.Source, err)
		}
		if rest := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
			if err := remountBind(dst, rest); err != nil {
				return err
			}
		}
		if hasOpt(m.Options, "rro") {
			if err := readonlyRecursive(dst, 0); err != nil {
				return err
			}
		}
	case "cgroup":
		if err := makeTarget(dst, true); err != nil {
			return err
		}
		if err := mountCgroup(dst, flags, cgroupViews); err != nil {
			return err
		}
	default:
		if err := makeTarget(dst, true); err != nil {
			return err
		}
		if err := unix.Mount(m.Source, dst, typ, flags, data); err != nil {
			if typ == "sysfs" && (err == unix.EPERM || err == unix.EACCES) {
				// Without a new network namespace (or in a user namespace) sysfs cannot be mounted:
				// bind the host's instead, as runc does, read-only all the way down (its
				// /sys/fs/cgroup hierarchies included) unless the mount asks for rw.
				if err := unix.Mount("/sys", dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
					return fmt.Errorf("bind /sys: %w", err)
				}
				if flags&unix.MS_RDONLY == 0 {
					return nil
				}
				return readonlyRecursive(dst, flags&(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC))
			}
			if typ == "mqueue" && (err == unix.EPERM || err == unix.EACCES) {
				return unix.Mount("/dev/mqueue", dst, "", unix.MS_BIND, "")
			}
			return fmt.Errorf("mount %s: %w", typ, err)
		}
	}
	for _, p := range props {
		if err := unix.Mount("", dst, "", p, ""); err != nil {
			return fmt.Errorf("propagation: %w", err)
		}
	}
	return nil
}

func remountBind(dst string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err == nil {
		// Keep the locked flags of the source mount, or the kernel refuses the remount in a userns.
		flags |= uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY)
	}
	if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|flags, ""); err != nil {
		return fmt.Errorf("remount %s: %w", dst, err)
	}
	return nil
}

func makeTarget(p string, dir bool) error {
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	if dir {
		return os.MkdirAll(p, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}, {Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7}, {Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9}, {Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// setupDev creates the default and requested devices (bind-mounting the host's when mknod is
// not allowed, as in a user namespace) and the standard /dev symlinks.
func setupDev(spec *specs.Spec, rootfs string) error {
	devs := append([]specs.LinuxDevice{}, defaultDevices...)
	if spec.Linux != nil {
		devs = append(devs, spec.Linux.Devices...)
	}
	for _, d := range devs {
		dst, err := securePath(rootfs, d.Path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		mode := uint32(0o666)
		if d.FileMode != nil {
			mode = uint32(*d.FileMode)
		}
		typ := uint32(unix.S_IFCHR)
		switch d.Type {
		case "b":
			typ = unix.S_IFBLK
		case "p":
			typ = unix.S_IFIFO
		}
		_ = os.Remove(dst)
		err = unix.Mknod(dst, typ|mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor))))
		if err == unix.EPERM {
			if err := makeTarget(dst, false); err != nil {
				return err
			}
			err = unix.Mount(d.Path, dst, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
		_ = unix.Chmod(dst, mode)
		if d.UID != nil || d.GID != nil {
			uid, gid := -1, -1
			if d.UID != nil {
				uid = int(*d.UID)
			}
			if d.GID != nil {
				gid = int(*d.GID)
			}
			_ = os.Lchown(dst, uid, gid)
		}
	}
	for link, target := range map[string]string{"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
		"/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2", "/dev/core": "/proc/kcore"} {
		p := filepath.Join(rootfs, link)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := os.Symlink(target, p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("symlink %s: %w", link, err)
		}
	}
	if _, err := os.Stat(filepath.Join(rootfs, "dev/pts/ptmx")); err == nil {
		p := filepath.Join(rootfs, "dev/ptmx")
		_ = os.Remove(p)
		_ = os.Symlink("pts/ptmx", p)
	}
	return nil
}

// maskPath hides p: /dev/null over files, an empty read-only tmpfs over directories.
func maskPath(p string) error {
	err := unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
	if err == unix.ENOTDIR {
		err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "")
	}
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

func readonlyPath(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("readonly %s: %w", p, err)
	}
	return readonlyRecursive(p, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
}

func hasOpt(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}
