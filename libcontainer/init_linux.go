package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/reexec"
	"github.com/berth-project/berth/libcontainer/cgroups"
)

// initName is the argv[0] of a container's init process before it execs the user's command.
const initName = "berth-init"

func init() {
	reexec.Register(initName, initMain)
}

// initConfig is what the runtime sends the init process over its sync socket.
type initConfig struct {
	Spec    *specs.Spec `json:"spec"`
	Rootfs  string      `json:"rootfs"`
	NoPivot bool        `json:"no_pivot"`
	ID      string      `json:"id"`
	Bundle  string      `json:"bundle"`
	// Seccomp is linux.seccomp compiled by the runtime (nil: no filter).
	Seccomp *seccompProgram `json:"seccomp,omitempty"`
}

// syncMsg travels on the sync socket between the runtime and init.
type syncMsg struct {
	Type string `json:"type"` // "created", "error"
	Msg  string `json:"msg,omitempty"`
}

// initMain runs in the container's new namespaces: fd 3 is the sync socket, fd 4 an O_PATH
// handle on the exec fifo.
// envWaitMaps tells a rootless init to wait until newuidmap/newgidmap have written its maps.
const envWaitMaps = "_BERTH_INIT_WAIT_MAPS"

func initMain() {
	runtime.LockOSThread()
	sock := os.NewFile(3, "sync")
	if os.Getenv(envWaitMaps) != "" {
		// Our capabilities were computed at exec, before we had a uid in the namespace:
		// once the maps are written, run ourselves again as the namespace's root.
		var b [1]byte
		if _, err := sock.Read(b[:]); err != nil {
			os.Exit(1)
		}
		os.Unsetenv(envWaitMaps)
		if err := unix.Exec("/proc/self/exe", os.Args, os.Environ()); err != nil {
			_ = json.NewEncoder(sock).Encode(syncMsg{Type: "error", Msg: "re-exec init: " + err.Error()})
			os.Exit(1)
		}
	}
	enc := json.NewEncoder(sock)
	if err := containerInit(sock); err != nil {
		_ = enc.Encode(syncMsg{Type: "error", Msg: err.Error()})
		os.Exit(1)
	}
}

func containerInit(sock *os.File) error {
	var cfg initConfig
	if err := json.NewDecoder(sock).Decode(&cfg); err != nil {
		return fmt.Errorf("read init config: %w", err)
	}
	spec := cfg.Spec
	proc := spec.Process
	if proc == nil {
		return errors.New("process: missing")
	}
	lx := spec.Linux
	if lx == nil {
		lx = &specs.Linux{}
	}
	// Join the namespaces given by path that a Go thread can join (the others are refused by validate).
	for _, ns := range lx.Namespaces {
		if ns.Path == "" || ns.Type == specs.UserNamespace || ns.Type == specs.MountNamespace || ns.Type == specs.PIDNamespace {
			continue
		}
		fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("linux.namespaces %s: %w", ns.Type, err)
		}
		err = unix.Setns(fd, 0)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("linux.namespaces %s: join %s: %w", ns.Type, ns.Path, err)
		}
	}
	// The cgroups to show at /sys/fs/cgroup are read before a new cgroup namespace would make
	// them all "/". The runtime has put us in our cgroup before sending the config, so the new
	// namespace is rooted there (the clone left it out for that reason).
	views, err := cgroups.OwnViews()
	if err != nil {
		return err
	}
	if hasNamespace(lx, specs.CgroupNamespace) && nsPath(lx, specs.CgroupNamespace) == "" {
		if err := enterCgroupNS(); err != nil {
			return err
		}
	}
	const fifo = 4
	unix.CloseOnExec(fifo)
	var hooks specs.Hooks
	if spec.Hooks != nil {
		hooks = *spec.Hooks
	}
	// createContainer hooks run in the container's namespaces, before pivot_root.
	if err := runHooks(hooks.CreateContainer, initState(&cfg, Created)); err != nil {
		return fmt.Errorf("createContainer hook: %w", err)
	}
	if hasNamespace(lx, specs.MountNamespace) {
		if err := setupRootfs(spec, cfg.Rootfs, cfg.NoPivot, views); err != nil {
			return err
		}
	} else if err := unix.Chroot(cfg.Rootfs); err != nil {
		return fmt.Errorf("chroot %s: %w", cfg.Rootfs, err)
	} else if err := applySysctls(lx.Sysctl); err != nil {
		return err
	}
	if hasNamespace(lx, specs.UTSNamespace) {
		if spec.Hostname != "" {
			if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
				return fmt.Errorf("hostname: %w", err)
			}
		}
		if spec.Domainname != "" {
			if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
				return fmt.Errorf("domainname: %w", err)
			}
		}
	}
	if proc.Terminal {
		if err := setupConsole(sock, proc); err != nil {
			return err
		}
	}
	if err := finishProcess(proc, cfg.Seccomp); err != nil {
		return err
	}
	// Like runc, a command that cannot run fails create, where engines map it to 126 or 127.
	if _, err := lookPath(proc); err != nil {
		return err
	}
	if err := json.NewEncoder(sock).Encode(syncMsg{Type: "created"}); err != nil {
		return err
	}
	sock.Close()

	// Wait for `start`: opening the fifo for writing blocks until it is opened for reading.
	w, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fifo), os.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		os.Exit(1)
	}
	unix.Close(fifo)
	path, err := lookPath(proc)
	if err != nil {
		fmt.Fprintf(w, "E%s", err)
		os.Exit(exitCodeFor(err))
	}
	if _, err := w.Write([]byte("0")); err != nil {
		os.Exit(1)
	}
	if err := runHooks(hooks.StartContainer, initState(&cfg, Running)); err != nil {
		fmt.Fprintf(w, "EstartContainer hook: %v", err)
		os.Exit(1)
	}
	return execProcess(path, proc, cfg.Seccomp, w)
}

// setupConsole makes the process's terminal from the container's own /dev/ptmx (so that
// /dev/pts/N names it inside), makes it the controlling terminal of a new session on stdio,
// and sends the master to the runtime over sock.
func setupConsole(sock *os.File, proc *specs.Process) error {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("pty number: %w", err)
	}
	slavePath := "/dev/pts/" + strconv.Itoa(n)
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", slavePath, err)
	}
	defer slave.Close()
	_ = unix.Fchown(int(slave.Fd()), int(proc.User.UID), int(proc.User.GID))
	if proc.ConsoleSize != nil {
		_ = unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(proc.ConsoleSize.Height), Col: uint16(proc.ConsoleSize.Width)})
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup2(int(slave.Fd()), fd); err != nil {
			return fmt.Errorf("dup2 terminal: %w", err)
		}
	}
	if err := unix.Sendmsg(int(sock.Fd()), []byte{'c'}, unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
		return fmt.Errorf("send terminal: %w", err)
	}
	return nil
}

// finishProcess applies everything about the process but seccomp: rlimits, OOM score,
// capabilities, user and groups, no_new_privileges, umask and working directory.
func finishProcess(proc *specs.Process, filter *seccompProgram) error {
	for _, r := range proc.Rlimits {
		res, ok := rlimitNames[r.Type]
		if !ok {
			return fmt.Errorf("process.rlimits: unknown %q", r.Type)
		}
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: r.Soft, Max: r.Hard}); err != nil {
			if res == unix.RLIMIT_NOFILE && errors.Is(err, unix.EPERM) {
				// Some hosts cap nr_open below what engines ask for: keep the current limit.
				logrus.Debugf("process.rlimits %s %d: %v; keeping the current limit", r.Type, r.Hard, err)
				continue
			}
			return fmt.Errorf("process.rlimits %s: %w", r.Type, err)
		}
	}
	if proc.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*proc.OOMScoreAdj)), 0o644); err != nil {
			return fmt.Errorf("process.oomScoreAdj: %w", err)
		}
	}
	c, err := specCaps(proc.Capabilities)
	if err != nil {
		return err
	}
	// Without no_new_privileges, loading a filter needs CAP_SYS_ADMIN: do it before the drop.
	if !proc.NoNewPrivileges {
		if err := filter.load(); err != nil {
			return err
		}
	}
	if err := c.dropBounding(); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return err
	}
	u := proc.User
	groups := make([]int, 0, len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		groups = append(groups, int(g))
	}
	if err := unix.Setgroups(groups); err != nil && !(errors.Is(err, unix.EPERM) && len(groups) == 0) {
		return fmt.Errorf("process.user.additionalGids: %w", err)
	}
	if err := unix.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("process.user.gid %d: %w", u.GID, err)
	}
	if err := unix.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("process.user.uid %d: %w", u.UID, err)
	}
	if err := c.apply(); err != nil {
		return err
	}
	if proc.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privileges: %w", err)
		}
	}
	if u.Umask != nil {
		unix.Umask(int(*u.Umask))
	}
	cwd := proc.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := os.Chdir(cwd); err != nil {
		return fmt.Errorf("process.cwd %s: %w", cwd, err)
	}
	return nil
}

// execProcess replaces the process with the user's command, loading seccomp last when
// no_new_privileges allows it. Failures are reported to `start` through the fifo.
func execProcess(path string, proc *specs.Process, filter *seccompProgram, out *os.File) error {
	err := error(nil)
	if proc.NoNewPrivileges {
		err = filter.load()
	}
	if err == nil {
		err = execDefaultSignals(path, proc)
	}
	fmt.Fprintf(out, "E%v", err)
	os.Exit(exitCodeFor(err))
	return nil
}

// execDefaultSignals execs the command with every signal at its default disposition and none
// blocked, as a process started by a shell expects. exec resets caught signals only: an
// ignored one stays ignored, and the mask is kept. An ignored signal can come from anywhere
// above us (nohup, a monitor that ignores SIGHUP, a CI runner that ignores a real-time
// signal), and Go's runtime keeps some of them ignored, so each signal found ignored is set to
// its default with the raw system call, just before exec. The thread is locked: the mask is
// the thread's, and exec runs on it.
func execDefaultSignals(path string, proc *specs.Process) error {
	runtime.LockOSThread()
	if err := defaultIgnoredSignals(); err != nil {
		return err
	}
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &unix.Sigset_t{}, nil); err != nil {
		return fmt.Errorf("clear signal mask: %w", err)
	}
	err := unix.Exec(path, proc.Args, proc.Env)
	return fmt.Errorf("exec %s: %w", proc.Args[0], err)
}

// kernelSigaction is the kernel's struct sigaction on 64-bit Linux (handler, flags,
// restorer, mask); only the handler is read, and SIG_DFL is all zeroes.
type kernelSigaction struct{ handler, flags, restorer, mask uint64 }

// defaultIgnoredSignals sets every ignored signal to SIG_DFL. Signals Go handles are not
// ignored and keep their handlers (exec resets those).
func defaultIgnoredSignals() error {
	const sigIgn = 1
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		var old kernelSigaction
		if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); errno != 0 {
			return fmt.Errorf("read the disposition of signal %d: %w", sig, errno)
		}
		if old.handler != sigIgn {
			continue
		}
		var dfl kernelSigaction
		if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0); errno != 0 {
			return fmt.Errorf("reset signal %d to its default: %w", sig, errno)
		}
	}
	return nil
}

// lookPath resolves args[0] with the process's own PATH, as the command will see it.
func lookPath(proc *specs.Process) (string, error) {
	if len(proc.Args) == 0 {
		return "", errors.New("process.args: empty")
	}
	name := proc.Args[0]
	if strings.Contains(name, "/") {
		st, err := os.Stat(name)
		if err != nil {
			return "", fmt.Errorf("exec: %q: %w", name, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 || unix.Access(name, unix.X_OK) != nil {
			return "", fmt.Errorf("exec: %q: %w", name, os.ErrPermission)
		}
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range proc.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	var denied error
	for _, dir := range strings.Split(path, ":") {
		p := dir + "/" + name
		st, err := os.Stat(p)
		if err != nil || st.IsDir() {
			continue
		}
		if st.Mode()&0o111 != 0 && unix.Access(p, unix.X_OK) == nil {
			return p, nil
		}
		denied = fmt.Errorf("exec: %q: %w", name, os.ErrPermission)
	}
	if denied != nil {
		return "", denied
	}
	return "", fmt.Errorf("exec: %q: %w", name, exec.ErrNotFound)
}

// exitCodeFor maps an exec failure to the shell convention: 127 not found, 126 not runnable.
func exitCodeFor(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return 127
	}
	return 126
}

func hasNamespace(lx *specs.Linux, t specs.LinuxNamespaceType) bool {
	for _, ns := range lx.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

var rlimitNames = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// applySysctls writes the spec's sysctls; with a mount namespace it runs before /proc/sys
// becomes read-only.
func applySysctls(sysctls map[string]string) error {
	for k, v := range sysctls {
		p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			return fmt.Errorf("linux.sysctl %s: %w", k, err)
		}
	}
	return nil
}

// initState is the state hooks run by init receive on stdin.
func initState(cfg *initConfig, status string) *specs.State {
	return &specs.State{Version: specs.Version, ID: cfg.ID, Bundle: cfg.Bundle, Status: specs.ContainerState(status), Pid: os.Getpid(), Annotations: cfg.Spec.Annotations}
}
