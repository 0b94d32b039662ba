package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/libcontainer/cgroups"
)

// A container sees its own cgroup at /sys/fs/cgroup and nothing else of the host's tree.
//
// The cgroup namespace is entered by the init once the runtime has put it in its cgroup
// (enterCgroupNS), so that the namespace's root is the container's cgroup: /proc/self/cgroup
// reads "0::/" (v2) or "/" paths (v1) inside, never "/../..".
//
// cgroup v2 host: cgroup2 is mounted afresh; inside the namespace its root is the container's
// cgroup, and its own limits (memory.max, cpu.max) are at the top. Outside a cgroup
// namespace, where the kernel refuses that mount to a user namespace, the container's own
// directory is bound instead.
//
// v1 and hybrid hosts: a tmpfs gets one directory per hierarchy the host mounts (memory,
// cpu, name=systemd, hybrid's unified, ...), each a bind of the container's own cgroup of
// that hierarchy, so memory.limit_in_bytes and cpu.cfs_quota_us at /sys/fs/cgroup/memory and
// /sys/fs/cgroup/cpu are the container's. Each bind is remounted with the mount's flags
// (read-only unless privileged): a recursive bind of the host's /sys/fs/cgroup made only its
// top read-only, and left the hierarchies below writable, so a container could move itself
// out of its memory cgroup by writing its pid to /sys/fs/cgroup/memory/cgroup.procs.

// mountCgroup mounts the container's view of its cgroups at dst with flags (MS_RDONLY,
// MS_NOSUID, ...); views are the init's own cgroups, read before it entered its namespace.
func mountCgroup(dst string, flags uintptr, views []cgroups.View) error {
	flags |= unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if cgroups.DetectMode() == cgroups.Unified {
		return mountCgroup2(dst, flags, views)
	}
	return mountCgroup1(dst, flags, views)
}

// mountCgroup2 mounts a v2 host's hierarchy, rooted at the cgroup namespace's root.
func mountCgroup2(dst string, flags uintptr, views []cgroups.View) error {
	err := unix.Mount("cgroup2", dst, "cgroup2", flags, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount cgroup2: %w", err)
	}
	for _, v := range views {
		if v.Name == "" {
			return bindCgroup(v.Source, dst, flags)
		}
	}
	return fmt.Errorf("mount cgroup2: %w (and no cgroup of our own to bind)", err)
}

// mountCgroup1 makes the tmpfs of a v1 or hybrid host's hierarchies, one bind of our own
// cgroup in each.
func mountCgroup1(dst string, flags uintptr, views []cgroups.View) error {
	if err := unix.Mount("tmpfs", dst, "tmpfs", flags&^unix.MS_RDONLY, "mode=755,size=64k"); err != nil {
		return fmt.Errorf("mount tmpfs for cgroups: %w", err)
	}
	shown := map[string]bool{}
	for _, v := range views {
		if v.Name == "" || strings.Contains(v.Name, "/") {
			continue
		}
		shown[v.Name] = true
		target := filepath.Join(dst, v.Name)
		if err := os.Mkdir(target, 0o755); err != nil {
			return fmt.Errorf("cgroup %s: %w", v.Name, err)
		}
		if err := bindCgroup(v.Source, target, flags); err != nil {
			return err
		}
	}
	// Co-mounted controllers appear under each name too (cpu -> cpu,cpuacct), as on the host.
	if ents, err := os.ReadDir(cgroups.Root); err == nil {
		for _, e := range ents {
			if e.Type()&os.ModeSymlink == 0 {
				continue
			}
			if link, err := os.Readlink(filepath.Join(cgroups.Root, e.Name())); err == nil && shown[link] {
				if err := os.Symlink(link, filepath.Join(dst, e.Name())); err != nil {
					return fmt.Errorf("cgroup link %s: %w", e.Name(), err)
				}
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|flags, ""); err != nil {
			return fmt.Errorf("remount %s read-only: %w", dst, err)
		}
	}
	return nil
}

// bindCgroup binds one cgroup directory (it has no submounts) and applies flags to the bind.
func bindCgroup(src, dst string, flags uintptr) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind cgroup %s: %w", src, err)
	}
	return remountBind(dst, flags)
}

// enterCgroupNS gives the init a cgroup namespace rooted at the cgroup it is in now. The
// thread is locked: the namespace is the thread's until exec makes it the process's.
func enterCgroupNS() error {
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("create cgroup namespace: %w", err)
	}
	return nil
}

// readonlyRecursive makes the mount at dst and every mount below it read-only (with nosuid,
// nodev and noexec when extra says so): a bind remount reaches only the top mount.
func readonlyRecursive(dst string, extra uintptr) error {
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	for _, f := range []struct{ flag, attr uintptr }{{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV}, {unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC}} {
		if extra&f.flag != 0 {
			attr.Attr_set |= uint64(f.attr)
		}
	}
	err := unix.MountSetattr(-1, dst, unix.AT_RECURSIVE, attr)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("make %s read-only recursively: %w", dst, err)
	}
	// Before Linux 5.12: remount each mount at or below dst.
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if mp := f[4]; mp == dst || strings.HasPrefix(mp, dst+"/") {
			if err := remountBind(mp, unix.MS_RDONLY|extra); err != nil {
				return err
			}
		}
	}
	return nil
}
