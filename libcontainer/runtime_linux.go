package libcontainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/internal/reexec"
	"github.com/berth-project/berth/internal/userns"
	"github.com/berth-project/berth/libcontainer/cgroups"
)

// Runtime keeps containers' state under Root, one directory per container.
type Runtime struct {
	Root string
}

// CreateOptions tunes Create.
type CreateOptions struct {
	PidFile       string
	ConsoleSocket string // unix socket to send the pty master to when process.terminal is set
	NoPivot       bool
	// Stdio for the container process when it has no terminal; nil means the caller's.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

func (r *Runtime) lock(ctx context.Context, id string) (*lock.Lock, error) {
	return lock.Acquire(ctx, filepath.Join(r.Root, ".locks", id+".lock"))
}

// Create sets the container up from bundle and leaves its init waiting for Start.
func (r *Runtime) Create(ctx context.Context, id, bundle string, opts *CreateOptions) (retErr error) {
	if opts == nil {
		opts = &CreateOptions{}
	}
	if err := validID(id); err != nil {
		return err
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return err
	}
	spec, err := LoadSpec(bundle)
	if err != nil {
		return err
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if err := validate(spec, rootfs); err != nil {
		return err
	}
	filter, err := r.seccompProgram(spec.Linux.Seccomp)
	if err != nil {
		return errdefs.Newf(errdefs.ErrInvalid, "%v", err)
	}
	lk, err := r.lock(ctx, id)
	if err != nil {
		return err
	}
	defer lk.Release()
	dir := r.dir(id)
	// Searchable by a container's namespaced root, which opens its exec fifo here.
	if err := os.MkdirAll(r.Root, 0o711); err != nil {
		return err
	}
	if err := os.Chmod(r.Root, 0o711); err != nil {
		return err
	}
	// A directory without state.json is what a create killed midway leaves; we hold the id's lock,
	// so its creator is gone and it can go.
	if _, err := os.Stat(filepath.Join(dir, "state.json")); os.IsNotExist(err) {
		_ = os.RemoveAll(dir)
	}
	if err := os.Mkdir(dir, 0o711); err != nil {
		if os.IsExist(err) {
			return errdefs.Newf(errdefs.ErrExists, "container with id %q already exists", id)
		}
		return fmt.Errorf("create state dir: %w", err)
	}
	var cg *cgroups.Manager
	var cmd *exec.Cmd
	initPid := 0
	defer func() {
		if retErr != nil {
			if initPid > 0 {
				_ = unix.Kill(initPid, unix.SIGKILL)
				var ws unix.WaitStatus
				_, _ = unix.Wait4(initPid, &ws, 0, nil)
			}
			if cg != nil {
				_ = cg.Destroy()
			}
			_ = os.RemoveAll(dir)
		}
	}()
	fifo := filepath.Join(dir, "exec.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		return fmt.Errorf("create exec fifo: %w", err)
	}
	if uid, gid, ok := rootIDs(spec.Linux); ok {
		// The container's root must open the fifo from inside its user namespace.
		if err := os.Chown(fifo, uid, gid); err != nil {
			return fmt.Errorf("chown exec fifo: %w", err)
		}
	}
	cgPath := spec.Linux.CgroupsPath
	if cgPath == "" {
		cgPath = "/berth/" + id
	} else if !strings.HasPrefix(cgPath, "/") {
		if strings.Contains(cgPath, ":") {
			return errdefs.Newf(errdefs.ErrNotSupported, "linux.cgroupsPath %q: systemd cgroup paths are not supported (use the cgroupfs manager)", cgPath)
		}
		cgPath = "/" + cgPath
	}
	if cg, err = cgroups.New(cgPath); err != nil {
		return err
	}

	parentSock, childSock, err := socketPair()
	if err != nil {
		return err
	}
	defer parentSock.Close()
	cmd = reexec.Command(initName)
	// The init reopens the fifo through this O_PATH fd: its path may be out of its reach.
	fifoFd, err := unix.Open(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	fifoFile := os.NewFile(uintptr(fifoFd), "exec.fifo")
	defer fifoFile.Close()
	cmd.ExtraFiles = []*os.File{childSock, fifoFile}
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cloneFlags(spec.Linux)}
	helperMaps := false
	if hasNamespace(spec.Linux, specs.UserNamespace) && nsPath(spec.Linux, specs.UserNamespace) == "" {
		if os.Geteuid() == 0 || selfMapOnly(spec.Linux) {
			// The kernel takes these maps from us directly.
			cmd.SysProcAttr.UidMappings = idMaps(spec.Linux.UIDMappings)
			cmd.SysProcAttr.GidMappings = idMaps(spec.Linux.GIDMappings)
			cmd.SysProcAttr.GidMappingsEnableSetgroups = os.Geteuid() == 0
			// Become the namespace's root before exec, so init keeps its capabilities there.
			cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: os.Geteuid() != 0}
		} else {
			// Rootless with subordinate ranges: newuidmap/newgidmap write the maps once the
			// init is started; it waits for them, then re-executes itself to gain its capabilities.
			helperMaps = true
			cmd.Env = append(cmd.Env, envWaitMaps+"=1")
		}
	}
	if spec.Process.Terminal {
		// The init makes the terminal inside the container and sends us its master.
		if opts.ConsoleSocket == "" {
			return errdefs.Newf(errdefs.ErrInvalid, "process.terminal is set: --console-socket is required")
		}
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio(opts.Stdin, os.Stdin), stdioW(opts.Stdout, os.Stdout), stdioW(opts.Stderr, os.Stderr)
	}
	var pidR *os.File
	if joinsByConstructor(spec.Linux) {
		// A user, mount or pid namespace given by path can only be joined before the Go runtime
		// starts: the nsenter constructor joins every path, creates the new namespaces, and forks
		// the init into them. We become a subreaper so the init stays our descendant to wait for.
		var paths []string
		for _, ns := range spec.Linux.Namespaces {
			if ns.Path != "" {
				paths = append(paths, procNSName[ns.Type]+"="+ns.Path)
			}
		}
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		defer r.Close()
		defer w.Close()
		pidR = r
		cmd.ExtraFiles = append(cmd.ExtraFiles, w) // fd 5
		var offsets []string
		for clock, o := range spec.Linux.TimeOffsets {
			offsets = append(offsets, fmt.Sprintf("%s %d %d", clock, o.Secs, o.Nanosecs))
		}
		cmd.Env = append(cmd.Env, "_BERTH_NSENTER_TIMEOFFSETS="+strings.Join(offsets, "\n"),
			"_BERTH_NSENTER_PATHS="+strings.Join(paths, ";"),
			"_BERTH_NSENTER_UNSHARE="+strconv.FormatUint(uint64(cmd.SysProcAttr.Cloneflags), 10), "_BERTH_NSENTER_PIDFD=5")
		cmd.SysProcAttr.Cloneflags = 0
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("become subreaper: %w", err)
		}
	}
	if err := cmd.Start(); err != nil {
		childSock.Close()
		return fmt.Errorf("start container init: %w", err)
	}
	childSock.Close()
	initPid = cmd.Process.Pid
	if pidR != nil {
		cmd.ExtraFiles[len(cmd.ExtraFiles)-1].Close()
		_ = cmd.Wait() // the intermediate exits once the init is forked
		initPid = 0
		if _, err := fmt.Fscan(pidR, &initPid); err != nil {
			return fmt.Errorf("start container init: joining namespaces failed")
		}
	}
	pid := initPid
	if helperMaps {
		if err := userns.WriteMap("newuidmap", pid, usernsMaps(spec.Linux.UIDMappings)); err != nil {
			return fmt.Errorf("linux.uidMappings: %w", err)
		}
		if err := userns.WriteMap("newgidmap", pid, usernsMaps(spec.Linux.GIDMappings)); err != nil {
			return fmt.Errorf("linux.gidMappings: %w", err)
		}
		if _, err := parentSock.Write([]byte{'m'}); err != nil {
			return err
		}
	}
	if err := cg.Apply(pid); err != nil {
		// Root inside berth's rootless user namespace is still an unprivileged user to the
		// host's cgroup tree, so HostUID, not Geteuid, tells who we are.
		if userns.HostUID() == 0 || !errors.Is(err, os.ErrPermission) {
			return err
		}
		// Rootless without a delegated cgroup: run without one, as runc does.
		logrus.Debugf("container %s: no cgroup: %v", id, err)
		cg = nil
	}
	if cg != nil {
		if err := cg.Set(withDefaultDevices(spec.Linux)); err != nil {
			return err
		}
	}
	st := &State{ID: id, Pid: pid, PidStart: pidStart(pid), Bundle: bundle, Rootfs: rootfs, Created: time.Now().UTC(),
		CgroupPath: cgPath, Annotations: spec.Annotations, Owner: "", Config: spec}
	// Recorded before the init gets its config: if we are killed from here on, the init may
	// finish its setup and wait on the exec fifo forever, and only this record lets a later
	// `delete --force` (or a build's sweep) find and kill it.
	if err := r.saveState(st); err != nil {
		return err
	}
	if spec.Hooks != nil {
		//nolint:staticcheck // prestart is deprecated but still part of the spec
		if err := runHooks(spec.Hooks.Prestart, st.spec(Creating)); err != nil {
			return fmt.Errorf("prestart hook: %w", err)
		}
		if err := runHooks(spec.Hooks.CreateRuntime, st.spec(Creating)); err != nil {
			return fmt.Errorf("createRuntime hook: %w", err)
		}
	}
	if err := json.NewEncoder(parentSock).Encode(initConfig{Spec: spec, Rootfs: rootfs, NoPivot: opts.NoPivot, ID: id, Bundle: bundle, Seccomp: filter}); err != nil {
		return fmt.Errorf("send init config: %w", err)
	}
	var reply io.Reader = parentSock
	var ptyMaster *os.File
	if spec.Process.Terminal {
		// One byte with the pty master attached, or the start of an error report.
		first, master, err := RecvFd(int(parentSock.Fd()), 1)
		if err == nil && len(first) == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("container init died during setup: %w", err)
		}
		if master == nil {
			reply = io.MultiReader(bytes.NewReader(first), parentSock)
		} else {
			ptyMaster = master
			defer master.Close()
		}
	}
	var msg syncMsg
	if err := json.NewDecoder(reply).Decode(&msg); err != nil {
		return fmt.Errorf("container init died during setup: %w", err)
	}
	if msg.Type == "error" {
		return execError(msg.Msg)
	}
	if ptyMaster != nil {
		if err := sendConsole(opts.ConsoleSocket, ptyMaster); err != nil {
			return err
		}
	}
	if opts.PidFile != "" {
		if err := writeFileAtomic(opts.PidFile, strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("pid file: %w", err)
		}
	}
	// The init is the caller's child only until we return: it keeps running on its own.
	if pidR == nil {
		_ = cmd.Process.Release()
	}
	return nil
}

// Start releases a created container's init to exec the user's command.
func (r *Runtime) Start(ctx context.Context, id string) error {
	st, err := r.loadState(id)
	if err != nil {
		return err
	}
	if s := r.status(st); s != Created {
		return errdefs.Newf(errdefs.ErrInvalid, "cannot start a container that is %s", s)
	}
	fifo := filepath.Join(r.dir(id), "exec.fifo")
	f, err := os.OpenFile(fifo, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return err
	}
	_ = os.Remove(fifo)
	if e := strings.IndexByte(string(data), 'E'); e >= 0 {
		return execError(string(data[e+1:]))
	}
	if len(data) == 0 {
		return fmt.Errorf("container %s: init exited before start", id)
	}
	st.Started = true
	if err := r.saveState(st); err != nil {
		return err
	}
	if st.Config.Hooks != nil {
		if err := runHooks(st.Config.Hooks.Poststart, st.spec(Running)); err != nil {
			return fmt.Errorf("poststart hook: %w", err)
		}
	}
	return nil
}

// State returns the runtime-spec state of a container.
func (r *Runtime) State(id string) (*specs.State, error) {
	st, err := r.loadState(id)
	if err != nil {
		return nil, err
	}
	return st.spec(r.status(st)), nil
}

func (s *State) spec(status string) *specs.State {
	out := &specs.State{Version: specs.Version, ID: s.ID, Status: specs.ContainerState(status), Bundle: s.Bundle, Annotations: s.Annotations}
	if status != Stopped {
		out.Pid = s.Pid
	}
	return out
}

// status derives a container's status from its init process and cgroup.
func (r *Runtime) status(s *State) string {
	if s.Pid == 0 || pidStart(s.Pid) != s.PidStart || isZombie(s.Pid) {
		return Stopped
	}
	if cg, err := cgroups.New(s.CgroupPath); err == nil {
		if frozen, _ := cg.Frozen(); frozen {
			return Paused
		}
	}
	if _, err := os.Stat(filepath.Join(r.dir(s.ID), "exec.fifo")); err == nil {
		return Created
	}
	return Running
}

// Kill sends sig to the container's init, or with all to every process in its cgroup.
func (r *Runtime) Kill(id string, sig syscall.Signal, all bool) error {
	st, err := r.loadState(id)
	if err != nil {
		return err
	}
	if r.status(st) == Stopped {
		return errdefs.Newf(errdefs.ErrInvalid, "container %s is not running", id)
	}
	if all {
		cg, err := cgroups.New(st.CgroupPath)
		if err != nil {
			return err
		}
		// A rootless container without a delegated cgroup has none to list its processes:
		// signal its init, whose death ends its pid namespace and every process in it.
		if pids, err := cg.Pids(); err == nil && len(pids) > 0 {
			return cg.Kill(sig)
		}
	}
	if err := unix.Kill(st.Pid, sig); err != nil {
		return fmt.Errorf("kill %s: %w", id, err)
	}
	return nil
}

// Delete removes a stopped container (any container with force) and its cgroup.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	st, err := r.loadState(id)
	if errors.Is(err, errdefs.ErrNotFound) && validID(id) == nil {
		// Remains of a create killed before it wrote its state.
		if _, serr := os.Stat(r.dir(id)); serr == nil {
			return os.RemoveAll(r.dir(id))
		}
	}
	if err != nil {
		return err
	}
	lk, err := r.lock(ctx, id)
	if err != nil {
		return err
	}
	defer lk.Release()
	status := r.status(st)
	if status != Stopped && status != Created && !force {
		return errdefs.Newf(errdefs.ErrInUse, "cannot delete container %s that is %s (use --force)", id, status)
	}
	cg, err := cgroups.New(st.CgroupPath)
	if err != nil {
		return err
	}
	if status != Stopped {
		_ = cg.Destroy() // thaws, kills every process
		_ = unix.Kill(st.Pid, unix.SIGKILL)
		waitGone(st.Pid, st.PidStart)
	}
	if err := cg.Destroy(); err != nil {
		return err
	}
	if st.Config != nil && st.Config.Hooks != nil {
		_ = runHooks(st.Config.Hooks.Poststop, st.spec(Stopped))
	}
	if err := os.RemoveAll(r.dir(id)); err != nil {
		return fmt.Errorf("remove state of %s: %w", id, err)
	}
	return nil
}

// Pause freezes every process of the container; Resume thaws them.
func (r *Runtime) Pause(id string) error { return r.freeze(id, true) }

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error { return r.freeze(id, false) }

func (r *Runtime) freeze(id string, on bool) error {
	st, cg, err := r.loadWithCgroup(id)
	if err != nil {
		return err
	}
	s := r.status(st)
	if on && s != Running {
		return errdefs.Newf(errdefs.ErrInvalid, "container %s is %s, not running", id, s)
	}
	if !on && s != Paused {
		return errdefs.Newf(errdefs.ErrInvalid, "container %s is %s, not paused", id, s)
	}
	if on {
		return cg.Freeze()
	}
	return cg.Thaw()
}

// Pids lists the processes of a container.
func (r *Runtime) Pids(id string) ([]int, error) {
	_, cg, err := r.loadWithCgroup(id)
	if err != nil {
		return nil, err
	}
	return cg.Pids()
}

// ListEntry is one container in List.
type ListEntry struct {
	State   *specs.State
	Created time.Time
	Owner   string
}

// List returns every container under the root.
func (r *Runtime) List() ([]ListEntry, error) {
	ents, err := os.ReadDir(r.Root)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ListEntry
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		st, err := r.loadState(e.Name())
		if err != nil {
			continue // being created or deleted
		}
		out = append(out, ListEntry{State: st.spec(r.status(st)), Created: st.Created, Owner: st.Owner})
	}
	return out, nil
}

// Wait blocks until the container's init has exited.
func (r *Runtime) Wait(id string) error {
	st, err := r.loadState(id)
	if err != nil {
		return err
	}
	waitGone(st.Pid, st.PidStart)
	return nil
}

func waitGone(pid int, start uint64) {
	for pidStart(pid) == start && !isZombie(pid) {
		time.Sleep(2 * time.Millisecond)
	}
}

// pidStart is the start time of pid in clock ticks since boot (field 22 of /proc/PID/stat).
func pidStart(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || s[i+2] == 'Z' || s[i+2] == 'X'
}

// cloneFlags are the namespaces the init is created in. A new cgroup namespace is left to the
// init (enterCgroupNS): made at clone, it would be rooted at our cgroup, not the container's.
func cloneFlags(lx *specs.Linux) uintptr {
	var f uintptr
	for _, ns := range lx.Namespaces {
		if ns.Path != "" || ns.Type == specs.CgroupNamespace {
			continue
		}
		f |= nsFlags[ns.Type]
	}
	return f
}

var nsFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET, specs.MountNamespace: unix.CLONE_NEWNS,
	specs.IPCNamespace: unix.CLONE_NEWIPC, specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

func nsPath(lx *specs.Linux, t specs.LinuxNamespaceType) string {
	for _, ns := range lx.Namespaces {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, 0, len(m))
	for _, x := range m {
		out = append(out, syscall.SysProcIDMap{ContainerID: int(x.ContainerID), HostID: int(x.HostID), Size: int(x.Size)})
	}
	return out
}

func socketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync-parent"), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

// RecvFd reads up to max bytes from the unix socket fd and the file descriptor sent with
// them (SCM_RIGHTS), if any: the other side of sendConsole.
func RecvFd(fd, max int) ([]byte, *os.File, error) {
	buf, oob := make([]byte, max), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("receive file descriptor: %w", err)
	}
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) == 1 {
		if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) == 1 {
			return buf[:n], os.NewFile(uintptr(fds[0]), "/dev/ptmx"), nil
		}
	}
	return buf[:n], nil, nil
}

// sendConsole hands the pty master to the engine over its console socket (SCM_RIGHTS).
func sendConsole(path string, master *os.File) error {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return fmt.Errorf("console socket %s: %w", path, err)
	}
	defer conn.Close()
	uc := conn.(*net.UnixConn)
	rights := unix.UnixRights(int(master.Fd()))
	if _, _, err := uc.WriteMsgUnix([]byte(master.Name()), rights, nil); err != nil {
		return fmt.Errorf("send console: %w", err)
	}
	return nil
}

func stdio(r io.Reader, def *os.File) io.Reader {
	if r != nil {
		return r
	}
	return def
}

func stdioW(w io.Writer, def *os.File) io.Writer {
	if w != nil {
		return w
	}
	return def
}

func writeFileAtomic(path, data string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// withDefaultDevices adds the devices every container may use (and those the spec creates)
// to the spec's device cgroup rules, as runc does.
func withDefaultDevices(lx *specs.Linux) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if lx.Resources != nil {
		c := *lx.Resources
		r = &c
	}
	if len(r.Devices) == 0 {
		return r
	}
	num := func(n int64) *int64 { return &n }
	allow := func(rules []specs.LinuxDeviceCgroup, devs []specs.LinuxDevice, access string) []specs.LinuxDeviceCgroup {
		for _, d := range devs {
			rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: num(d.Major), Minor: num(d.Minor), Access: access})
		}
		return rules
	}
	// The devices the spec creates may be created ("m": the init makes their nodes once it is
	// in its cgroup); what else they allow is the spec's rules' say (--device's "r"). Unlike
	// runc, no other node may be made: mknod of a device not granted fails. The defaults are
	// usable in full.
	rules := append([]specs.LinuxDeviceCgroup{}, r.Devices...)
	rules = allow(rules, lx.Devices, "m")
	rules = allow(rules, defaultDevices, "rwm")
	rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: num(5), Minor: num(2), Access: "rwm"}, // ptmx
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: num(136), Minor: num(-1), Access: "rwm"}, // pts
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: num(5), Minor: num(1), Access: "rwm"})    // console
	r.Devices = rules
	return r
}

// rootIDs returns the host uid and gid that a new user namespace maps to its root.
func rootIDs(lx *specs.Linux) (uid, gid int, ok bool) {
	if !hasNamespace(lx, specs.UserNamespace) || nsPath(lx, specs.UserNamespace) != "" {
		return 0, 0, false
	}
	host := func(m []specs.LinuxIDMapping) int {
		for _, x := range m {
			if x.ContainerID == 0 {
				return int(x.HostID)
			}
		}
		return 0
	}
	return host(lx.UIDMappings), host(lx.GIDMappings), true
}

// Config returns the spec a container was created with.
func (r *Runtime) Config(id string) (*specs.Spec, error) {
	st, err := r.loadState(id)
	if err != nil {
		return nil, err
	}
	if st.Config == nil || st.Config.Process == nil {
		return nil, fmt.Errorf("container %s: no config in its state", id)
	}
	return st.Config, nil
}

// execError classifies an init's failure: a command that is missing (exit 127) or cannot be
// run (126) keeps its kind across the sync channel; anything else is a setup error.
func execError(msg string) error {
	switch {
	case !strings.HasPrefix(msg, "exec"):
		return errors.New(msg)
	case strings.Contains(msg, "not found") || strings.Contains(msg, "no such file"):
		return errdefs.Newf(errdefs.ErrCommandNotFound, "%s", msg)
	}
	return errdefs.Newf(errdefs.ErrCannotInvoke, "%s", msg)
}

// selfMapOnly reports whether the spec maps only the caller's own uid and gid, which an
// unprivileged process may write itself.
func selfMapOnly(lx *specs.Linux) bool {
	return len(lx.UIDMappings) == 1 && len(lx.GIDMappings) == 1 && lx.UIDMappings[0].Size == 1 && lx.GIDMappings[0].Size == 1 &&
		int(lx.UIDMappings[0].HostID) == os.Geteuid() && int(lx.GIDMappings[0].HostID) == os.Getegid()
}

func usernsMaps(m []specs.LinuxIDMapping) []userns.IDMap {
	out := make([]userns.IDMap, 0, len(m))
	for _, x := range m {
		out = append(out, userns.IDMap{Container: int(x.ContainerID), Host: int(x.HostID), Size: int(x.Size)})
	}
	return out
}

// Stats reads a container's resource usage from its cgroup.
func (r *Runtime) Stats(id string) (*cgroups.Stats, error) {
	_, cg, err := r.loadWithCgroup(id)
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// loadWithCgroup loads a container's state and its cgroup manager.
func (r *Runtime) loadWithCgroup(id string) (*State, *cgroups.Manager, error) {
	st, err := r.loadState(id)
	if err != nil {
		return nil, nil, err
	}
	cg, err := cgroups.New(st.CgroupPath)
	if err != nil {
		return nil, nil, err
	}
	return st, cg, nil
}

// joinsByConstructor reports whether the namespaces need the nsenter constructor: joining a
// user, mount or pid namespace, which a Go process cannot enter, or setting time offsets,
// which must happen between unshare and the first process entering.
func joinsByConstructor(lx *specs.Linux) bool {
	return nsPath(lx, specs.UserNamespace) != "" || nsPath(lx, specs.MountNamespace) != "" || nsPath(lx, specs.PIDNamespace) != "" ||
		len(lx.TimeOffsets) > 0
}

var procNSName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt", specs.IPCNamespace: "ipc",
	specs.UTSNamespace: "uts", specs.UserNamespace: "user", specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}
