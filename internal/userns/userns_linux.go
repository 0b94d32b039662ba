// Package userns puts a rootless berth inside a user namespace where the user is root and
// the /etc/subuid and /etc/subgid ranges are mapped, as `podman unshare` does. Image layers
// then keep their in-image owners, and overlay mounts work, without any privilege on the host.
//
// The whole berth command re-executes itself inside the user's one shared namespace, held by
// a pause process (pause_linux.go) that the first command creates: the parent starts a child
// in new user and mount namespaces, writes the id maps with newuidmap/newgidmap (setuid
// helpers from uidmap), then releases the child, which execs itself once more so it holds
// full capabilities in its namespace. Later commands join that namespace (package join) in
// a mount namespace of their own. The parent forwards signals and exits with the child's status.
package userns

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

const (
	envUID  = "_BERTH_USERNS_UID" // the host uid of the user, set inside the namespace
	envSync = "_BERTH_USERNS_SYNC"
)

// Inside reports whether this process runs in berth's user namespace.
func Inside() bool { return os.Getenv(envUID) != "" }

// HostUID is the user's uid on the host: the real one inside the namespace, else Getuid.
func HostUID() int {
	if v := os.Getenv(envUID); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return os.Geteuid()
}

// Init runs at the very start of main. A child waiting for its id maps blocks here until the
// parent has written them, then re-executes itself to gain its capabilities.
func Init() {
	fd := os.Getenv(envSync)
	if fd == "" {
		return
	}
	n, _ := strconv.Atoi(fd)
	f := os.NewFile(uintptr(n), "userns-sync")
	var b [1]byte
	if _, err := f.Read(b[:]); err != nil || b[0] != 'g' {
		fmt.Fprintln(os.Stderr, "Error: user namespace setup was abandoned")
		os.Exit(125)
	}
	f.Close()
	os.Unsetenv(envSync)
	// Mounts made for storage stay in this namespace.
	_ = unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
	if err := unix.Exec("/proc/self/exe", os.Args, os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "Error: re-exec in user namespace: %v\n", err)
		os.Exit(125)
	}
}

// Enter re-runs the current command inside the user's shared user namespace (whose pause
// lives in dir, see pause_linux.go), or a new one of its own when that cannot be had, and
// exits with its status. It returns only on failure to set a namespace up.
func Enter(dir string) error {
	cmd, err := join(dir)
	if err != nil {
		logrus.Debugf("shared user namespace: %v; using one of this command's own", err)
		if cmd, err = Start(os.Args, nil); err != nil {
			return err
		}
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs)
	go func() {
		for s := range sigs {
			if s == syscall.SIGCHLD || s == syscall.SIGURG || s == syscall.SIGPIPE {
				continue
			}
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	signal.Stop(sigs)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("user namespace: %w", err)
	}
	os.Exit(0)
	return nil
}

// Start starts argv (argv[0] is kept for re-exec modes) as /proc/self/exe in a new user and
// mount namespace with the user's subordinate ids mapped, and returns it running.
func Start(argv []string, env []string) (*exec.Cmd, error) {
	return start(argv, env, nil)
}

// start is Start; with detached set the process gets a session of its own and detached
// for its stdin, stdout and stderr.
func start(argv []string, env []string, detached *os.File) (*exec.Cmd, error) {
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("user namespace: %w", err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	subUID, err := SubIDs("/etc/subuid", u.Username, uid)
	if err != nil {
		return nil, err
	}
	subGID, err := SubIDs("/etc/subgid", u.Username, uid)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	defer w.Close()
	cmd := exec.Command("/proc/self/exe", argv[1:]...)
	cmd.Args[0] = argv[0]
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, envUID+"="+strconv.Itoa(uid), envSync+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS}
	if detached != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = detached, detached, detached
		cmd.SysProcAttr.Setsid = true
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("user namespace: %w", err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	mapErr := idmap("newuidmap", pid, uid, subUID)
	if mapErr == nil {
		mapErr = idmap("newgidmap", pid, gid, subGID)
	}
	if mapErr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, mapErr
	}
	if _, err := w.Write([]byte("g")); err != nil {
		return nil, err
	}
	return cmd, nil
}

func idmap(tool, pid string, id int, sub []Range) error {
	maps := []IDMap{{0, id, 1}}
	next := 1
	for _, r := range sub {
		maps = append(maps, IDMap{next, r.Start, r.Count})
		next += r.Count
	}
	p, _ := strconv.Atoi(pid)
	return WriteMap(tool, p, maps)
}

// WriteMap writes pid's uid map (tool "newuidmap") or gid map ("newgidmap") through the
// setuid helper, which checks the ranges against /etc/subuid and /etc/subgid.
func WriteMap(tool string, pid int, maps []IDMap) error {
	args := []string{strconv.Itoa(pid)}
	for _, m := range maps {
		args = append(args, strconv.Itoa(m.Container), strconv.Itoa(m.Host), strconv.Itoa(m.Size))
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("rootless mode needs %s (apt-get install uidmap)", tool)
		}
		return fmt.Errorf("%s: %v: %s", tool, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// SubIDs reads the ranges that file (/etc/subuid format) gives to name or uid.
func SubIDs(file, name string, uid int) ([]Range, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("rootless mode needs a range for %s in %s: %w", name, file, err)
	}
	defer f.Close()
	var out []Range
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) != 3 || (parts[0] != name && parts[0] != strconv.Itoa(uid)) {
			continue
		}
		start, err1 := strconv.Atoi(parts[1])
		count, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || count <= 0 {
			continue
		}
		out = append(out, Range{start, count})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("rootless mode needs a range for %s in %s (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s)", name, file, name)
	}
	return out, sc.Err()
}

// NamespaceSize is how many uids (gid: gids) the current user namespace maps.
func NamespaceSize(gid bool) (int, error) {
	f := "/proc/self/uid_map"
	if gid {
		f = "/proc/self/gid_map"
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if fl := strings.Fields(l); len(fl) == 3 {
			size, _ := strconv.Atoi(fl[2])
			n += size
		}
	}
	return n, nil
}

// HostGID is the user's gid on the host: the one berth's namespace maps to its 0, else Getegid.
func HostGID() int {
	if !Inside() {
		return os.Getegid()
	}
	b, err := os.ReadFile("/proc/self/gid_map")
	if err != nil {
		return os.Getegid()
	}
	for _, l := range strings.Split(string(b), "\n") {
		if fl := strings.Fields(l); len(fl) == 3 && fl[0] == "0" {
			if n, err := strconv.Atoi(fl[1]); err == nil {
				return n
			}
		}
	}
	return os.Getegid()
}
