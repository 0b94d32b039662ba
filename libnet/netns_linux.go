package libnet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NewNetNS creates a network namespace that outlives this process, bind-mounted at path
// (whose parent directory is created), with its loopback interface up. The path must not
// exist yet. On failure nothing is left at path.
func NewNetNS(path string) (retErr error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create netns directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if errors.Is(err, os.ErrExist) {
		if isNetNSMount(path) {
			return errdefs.Newf(errdefs.ErrExists, "network namespace %s already exists", path)
		}
		// A plain file: a NewNetNS killed between creating it and mounting over it.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale netns file: %w", err)
		}
		f, err = os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	}
	if err != nil {
		return fmt.Errorf("create netns file: %w", err)
	}
	f.Close()
	defer func() {
		if retErr != nil {
			_ = unix.Unmount(path, unix.MNT_DETACH)
			_ = os.Remove(path)
		}
	}()

	// unshare(CLONE_NEWNET) moves only the calling thread, so do it on a locked thread of a
	// goroutine of its own and move that thread back before unlocking it. If it cannot move
	// back the goroutine exits still locked and the runtime throws the thread away
	// (containernetworking ns.Do; go.dev/issue/20676).
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- &os.SyscallError{Syscall: "unshare(CLONE_NEWNET)", Err: err}
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		var mErr error
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			mErr = &os.PathError{Op: "mount " + src + " MS_BIND", Path: path, Err: err}
		}
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(mErr, fmt.Errorf("return to original netns: %w", err))
			return // the thread stays locked and dies with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- mErr
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("create network namespace %s: %w", path, err)
	}

	h, closeH, err := handleAt(path)
	if err != nil {
		return err
	}
	defer closeH()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo in %s: %w", path, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bring lo up in %s: %w", path, err)
	}
	return nil
}

// isNetNSMount reports whether path is a namespace file mounted there (nsfs).
func isNetNSMount(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// RemoveNetNS unmounts and removes a namespace made by [NewNetNS]. It is idempotent.
func RemoveNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "unmount netns", Path: path, Err: err}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns file: %w", err)
	}
	return nil
}

// handleAt opens a netlink handle whose socket lives in the namespace at path, so calls
// through it act there without moving any thread.
func handleAt(path string) (*netlink.Handle, func(), error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, nil, fmt.Errorf("netlink handle in %s: %w", path, err)
	}
	return h, func() { h.Close(); ns.Close() }, nil
}

// writeSysctl sets a /proc/sys value of the host namespace, skipping the write when the
// value is already right (the common case, and it works on read-only /proc/sys then).
func writeSysctl(name, value string) error {
	p := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
	if cur, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(cur)) == value {
		return nil
	}
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("set sysctl %s=%s: %w", name, value, err)
	}
	return nil
}

// writeIfaceSysctl sets net.<family>.conf.<iface>.<key>. Interface names may contain dots,
// which the dotted sysctl spelling cannot carry, so the path is built directly.
func writeIfaceSysctl(family, iface, key, value string) error {
	p := filepath.Join("/proc/sys/net", family, "conf", iface, key)
	if cur, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(cur)) == value {
		return nil
	}
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("set net.%s.conf.%s.%s=%s: %w", family, iface, key, value, err)
	}
	return nil
}

// lockPath serializes changes to the shared nftables table between berth processes. The
// kernel's ruleset is per host network namespace, so one lock for the host is right.
const lockPath = "/run/berth-libnet.lock"

// lockRules takes the host-wide rules lock and returns its release.
func lockRules() (func(), error) {
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open network lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: lockPath, Err: err}
	}
	return func() { f.Close() }, nil
}
