package engine

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libcontainer"
	"github.com/berth-project/berth/libimage"
)

// Container states as `ps` shows them.
const (
	StateCreated = "created"
	StateRunning = "running"
	StateExited  = "exited"
)

// CreateOptions are the `create`/`run` flags the engine understands.
type CreateOptions struct {
	Image      string
	Name       string
	Cmd        []string
	Entrypoint *[]string // nil: the image's; empty: none
	Env        []string
	Workdir    string
	User       string
	Hostname   string
	Rm         bool
	ReadOnly   bool
	Memory     int64
	PidsLimit  int64
	Labels     map[string]string
}

// Container is the engine's record of one container.
type Container struct {
	ID         string
	Name       string
	ImageID    string
	Options    CreateOptions
	Created    time.Time
	State      string
	Pid        int
	ExitCode   int
	StartedAt  time.Time
	FinishedAt time.Time
}

func (e *Engine) containerDir(id string) string {
	return filepath.Join(e.Config.Root, "containers", id)
}
func (e *Engine) containerRunDir(id string) string {
	return filepath.Join(e.Config.RunRoot, "containers", id)
}
func (e *Engine) runtime() *libcontainer.Runtime {
	return &libcontainer.Runtime{Root: filepath.Join(e.Config.RunRoot, "runtime")}
}

// LogPath is where a container's monitor writes its log.
func (e *Engine) LogPath(c *Container) string { return filepath.Join(e.containerDir(c.ID), "ctr.log") }

// CreateContainer records a container from an image and gives it a writable layer.
func (e *Engine) CreateContainer(ctx context.Context, o CreateOptions) (*Container, error) {
	store, err := e.Images(ctx)
	if err != nil {
		return nil, err
	}
	img, err := store.Lookup(ctx, o.Image)
	if err != nil {
		return nil, err
	}
	id := randomID()
	if o.Name == "" {
		o.Name = "berth_" + id[:12]
	} else if !validName(o.Name) {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
	}
	if o.Entrypoint == nil && len(o.Cmd) == 0 && len(img.Config.Config.Cmd) == 0 && len(img.Config.Config.Entrypoint) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "no command specified")
	}
	c := &Container{ID: id, Name: o.Name, ImageID: img.ID, Options: o, Created: time.Now().UTC(), State: StateCreated}
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	if err := db.Containers().Insert(ctx, c.ID, c.Name, c.Created.UnixNano(), c); err != nil {
		return nil, err
	}
	if err := store.CreateContainerLayer(ctx, id, img.ID); err != nil {
		_ = db.Containers().Delete(ctx, id)
		return nil, err
	}
	if err := os.MkdirAll(e.containerDir(id), 0o700); err != nil {
		return nil, err
	}
	return c, nil
}

// Container loads a container by name, id or id prefix, reconciling its state first.
func (e *Engine) Container(ctx context.Context, ref string) (*Container, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var c Container
	if _, err := db.Containers().Get(ctx, ref, &c); err != nil {
		return nil, err
	}
	return &c, e.reconcile(ctx, &c)
}

// Containers lists every container, newest first, reconciled.
func (e *Engine) Containers(ctx context.Context) ([]*Container, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Container
	err = db.Containers().List(ctx, func(data []byte) error {
		var c Container
		if err := json.Unmarshal(data, &c); err != nil {
			return err
		}
		out = append(out, &c)
		return nil
	})
	for _, c := range out {
		if err := e.reconcile(ctx, c); err != nil {
			return nil, err
		}
	}
	return out, err
}

// reconcile turns a running record whose container is gone into an exited one, with the
// status its monitor recorded, or 255 when nothing was recorded (monitor killed, reboot).
func (e *Engine) reconcile(ctx context.Context, c *Container) error {
	if c.State != StateRunning {
		return nil
	}
	code, at, ok := readExitFile(filepath.Join(e.containerRunDir(c.ID), "exit"))
	if !ok {
		if st, err := e.runtime().State(c.ID); err == nil && st.Status != "stopped" {
			return nil
		}
		code, at = 255, time.Now().UTC()
	}
	c.State, c.ExitCode, c.FinishedAt, c.Pid = StateExited, code, at, 0
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	return db.Containers().Put(ctx, c.ID, c)
}

func readExitFile(p string) (int, time.Time, bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, time.Time{}, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, time.Time{}, false
	}
	code, _ := strconv.Atoi(f[0])
	ns, _ := strconv.ParseInt(f[1], 10, 64)
	return code, time.Unix(0, ns).UTC(), true
}

// StartContainer mounts the container's filesystem, writes its bundle, starts its monitor
// (which creates it through the runtime) and starts it.
func (e *Engine) StartContainer(ctx context.Context, ref string) (*Container, error) {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return nil, err
	}
	lk, err := e.Lock(ctx, "container", c.ID)
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	if c.State == StateRunning {
		return c, nil
	}
	_ = e.cleanupRuntime(ctx, c) // a previous run's remains
	store, err := e.Images(ctx)
	if err != nil {
		return nil, err
	}
	rootfs, err := store.MountContainerLayer(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	img, err := store.Lookup(ctx, c.ImageID)
	if err != nil {
		return nil, err
	}
	spec, err := containerSpec(c, img, rootfs)
	if err != nil {
		return nil, err
	}
	run := e.containerRunDir(c.ID)
	bundle := filepath.Join(run, "bundle")
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(run, "exit"))
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		return nil, err
	}
	pid, err := e.startMonitor(c, bundle)
	if err != nil {
		_ = store.UnmountContainerLayer(ctx, c.ID)
		return nil, err
	}
	if err := e.runtime().Start(ctx, c.ID); err != nil {
		_ = e.runtime().Delete(ctx, c.ID, true)
		_ = store.UnmountContainerLayer(ctx, c.ID)
		return nil, err
	}
	c.State, c.Pid, c.StartedAt, c.ExitCode, c.FinishedAt = StateRunning, pid, time.Now().UTC(), 0, time.Time{}
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	return c, db.Containers().Put(ctx, c.ID, c)
}

// helper finds a binary installed beside berth (bin/berth-monitor) or in libexec.
func helper(name string) string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		p = filepath.Join(filepath.Dir(self), "..", "libexec", "berth", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return name
}

func (e *Engine) startMonitor(c *Container, bundle string) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	run := e.containerRunDir(c.ID)
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	args := []string{"--id", c.ID, "--runtime", helper("berth-runtime"), "--runtime-root", e.runtime().Root,
		"--bundle", bundle, "--log", e.LogPath(c), "--exit-file", filepath.Join(run, "exit"), "--",
		self, "--root", e.Config.Root, "--runroot", e.Config.RunRoot, "container", "cleanup", c.ID}
	cmd := exec.Command(helper("berth-monitor"), args...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, fmt.Errorf("start monitor: %w", err)
	}
	w.Close()
	_ = cmd.Process.Release()
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return 0, monitorError(msg)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(line, "ok "))
	if err != nil {
		return 0, fmt.Errorf("monitor of %s failed to start the container", c.Name)
	}
	return pid, nil
}

// monitorError keeps the 126/127 meaning of a runtime's "cannot run the command" error.
func monitorError(msg string) error {
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		return errdefs.Newf(errdefs.ErrCommandNotFound, "%s", msg)
	case strings.Contains(msg, "permission denied"):
		return errdefs.Newf(errdefs.ErrCannotInvoke, "%s", msg)
	}
	return fmt.Errorf("%s", msg)
}

// CleanupContainer is what a monitor runs when its container exits: release the runtime's
// state and the mount, and remove the container if it was run with --rm.
func (e *Engine) CleanupContainer(ctx context.Context, ref string) error {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return err
	}
	lk, err := e.Lock(ctx, "container", c.ID)
	if err != nil {
		return err
	}
	defer lk.Release()
	if err := e.cleanupRuntime(ctx, c); err != nil {
		return err
	}
	if c.Options.Rm && c.State == StateExited {
		return e.removeLocked(ctx, c)
	}
	return nil
}

func (e *Engine) cleanupRuntime(ctx context.Context, c *Container) error {
	if err := e.runtime().Delete(ctx, c.ID, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	store, err := e.Images(ctx)
	if err != nil {
		return err
	}
	return store.UnmountContainerLayer(ctx, c.ID)
}

// RemoveContainer removes a container; a running one only with force, after killing it.
func (e *Engine) RemoveContainer(ctx context.Context, ref string, force bool) error {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return err
	}
	lk, err := e.Lock(ctx, "container", c.ID)
	if err != nil {
		return err
	}
	defer lk.Release()
	if c.State == StateRunning {
		if !force {
			return errdefs.Newf(errdefs.ErrInUse, "cannot remove container %s: container is running: stop the container before removing or force remove", c.Name)
		}
		_ = e.runtime().Kill(c.ID, syscall.SIGKILL, true)
		e.waitExit(c, 10*time.Second)
	}
	if err := e.cleanupRuntime(ctx, c); err != nil {
		return err
	}
	return e.removeLocked(ctx, c)
}

func (e *Engine) removeLocked(ctx context.Context, c *Container) error {
	store, err := e.Images(ctx)
	if err != nil {
		return err
	}
	if err := store.RemoveContainerLayer(ctx, c.ID); err != nil {
		return err
	}
	os.RemoveAll(e.containerRunDir(c.ID))
	os.RemoveAll(e.containerDir(c.ID))
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	return db.Containers().Delete(ctx, c.ID)
}

// KillContainer sends sig to a running container.
func (e *Engine) KillContainer(ctx context.Context, ref string, sig syscall.Signal) (*Container, error) {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return nil, err
	}
	if c.State != StateRunning {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "container %s is not running", c.Name)
	}
	return c, e.runtime().Kill(c.ID, sig, false)
}

// StopContainer sends SIGTERM, then SIGKILL after timeout, and waits for the exit.
func (e *Engine) StopContainer(ctx context.Context, ref string, timeout time.Duration) (*Container, error) {
	c, err := e.Container(ctx, ref)
	if err != nil || c.State != StateRunning {
		return c, err
	}
	_ = e.runtime().Kill(c.ID, syscall.SIGTERM, false)
	if !e.waitExit(c, timeout) {
		_ = e.runtime().Kill(c.ID, syscall.SIGKILL, true)
		e.waitExit(c, 10*time.Second)
	}
	return e.Container(ctx, c.ID)
}

// WaitContainer blocks until the container has exited and returns its status.
func (e *Engine) WaitContainer(ctx context.Context, ref string) (int, error) {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return 0, err
	}
	for c.State == StateRunning {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if c, err = e.Container(ctx, c.ID); err != nil {
			return 0, err
		}
	}
	return c.ExitCode, nil
}

// waitExit waits for the monitor to record the exit, up to timeout.
func (e *Engine) waitExit(c *Container, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, _, ok := readExitFile(filepath.Join(e.containerRunDir(c.ID), "exit")); ok {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// FollowLog copies the container's log to stdout and stderr, from the start, until it exits
// (when follow) or to the current end.
func (e *Engine) FollowLog(ctx context.Context, c *Container, follow bool, stdout, stderr io.Writer) error {
	f, err := os.Open(e.LogPath(c))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var pending string
	for {
		line, err := br.ReadString('\n')
		pending += line
		if err == nil {
			writeLogLine(pending, stdout, stderr)
			pending = ""
			continue
		}
		if err != io.EOF {
			return err
		}
		if !follow {
			return nil
		}
		if _, _, ok := readExitFile(filepath.Join(e.containerRunDir(c.ID), "exit")); ok {
			// The monitor writes the last output before the status: read what is left.
			rest, _ := io.ReadAll(br)
			for _, l := range strings.SplitAfter(pending+string(rest), "\n") {
				if l != "" {
					writeLogLine(l, stdout, stderr)
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// writeLogLine prints one k8s-file line "TIME STREAM F|P TEXT" to its stream.
func writeLogLine(line string, stdout, stderr io.Writer) {
	f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 4)
	if len(f) < 3 {
		return
	}
	text := ""
	if len(f) == 4 {
		text = f[3]
	}
	if f[2] == "F" {
		text += "\n"
	}
	w := stdout
	if f[1] == "stderr" {
		w = stderr
	}
	io.WriteString(w, text)
}

// containerSpec builds the OCI spec for c from its image and options.
func containerSpec(c *Container, img *libimage.Image, rootfs string) (*specs.Spec, error) {
	o, ic := c.Options, img.Config.Config
	s := libcontainer.DefaultSpec()
	s.Root = &specs.Root{Path: rootfs, Readonly: o.ReadOnly}
	s.Process.Terminal = false
	entry := ic.Entrypoint
	if o.Entrypoint != nil {
		entry = *o.Entrypoint
	}
	cmd := ic.Cmd
	if len(o.Cmd) > 0 || o.Entrypoint != nil {
		cmd = o.Cmd
	}
	s.Process.Args = append(append([]string{}, entry...), cmd...)
	if len(s.Process.Args) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "no command specified")
	}
	s.Process.Env = mergeEnv(append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=" + hostname(c)}, ic.Env...), o.Env)
	s.Process.Cwd = "/"
	if ic.WorkingDir != "" {
		s.Process.Cwd = ic.WorkingDir
	}
	if o.Workdir != "" {
		s.Process.Cwd = o.Workdir
	}
	user := ic.User
	if o.User != "" {
		user = o.User
	}
	u, err := resolveUser(rootfs, user)
	if err != nil {
		return nil, err
	}
	s.Process.User = u
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: libcontainer.DefaultCaps, Effective: libcontainer.DefaultCaps, Permitted: libcontainer.DefaultCaps}
	s.Process.NoNewPrivileges = false
	s.Process.Rlimits = nil
	s.Hostname = hostname(c)
	s.Linux.CgroupsPath = "/berth/" + c.ID
	if o.Memory > 0 {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &o.Memory}
	}
	if o.PidsLimit != 0 {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &o.PidsLimit}
	}
	s.Annotations = o.Labels
	return s, nil
}

func hostname(c *Container) string {
	if c.Options.Hostname != "" {
		return c.Options.Hostname
	}
	return c.ID[:12]
}

// mergeEnv overrides base KEY=VALUE entries with extra ones.
func mergeEnv(base, extra []string) []string {
	out := append([]string{}, base...)
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, b := range out {
			if bk, _, _ := strings.Cut(b, "="); bk == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// resolveUser turns "name|uid[:group|gid]" into ids, reading the container's /etc/passwd and
// /etc/group for names.
func resolveUser(rootfs, user string) (specs.User, error) {
	if user == "" {
		return specs.User{}, nil
	}
	name, group, _ := strings.Cut(user, ":")
	lookup := func(file, key string) (int, int, bool) {
		b, _ := os.ReadFile(filepath.Join(rootfs, "etc", file))
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Split(l, ":")
			if len(f) >= 4 && (f[0] == key || f[2] == key) {
				id, _ := strconv.Atoi(f[2])
				gid, _ := strconv.Atoi(f[3])
				return id, gid, true
			}
		}
		return 0, 0, false
	}
	var u specs.User
	if n, err := strconv.Atoi(name); err == nil {
		u.UID = uint32(n)
		if _, gid, ok := lookup("passwd", name); ok {
			u.GID = uint32(gid)
		}
	} else if uid, gid, ok := lookup("passwd", name); ok {
		u.UID, u.GID = uint32(uid), uint32(gid)
	} else {
		return u, errdefs.Newf(errdefs.ErrInvalid, "unable to find user %s: no matching entries in passwd file", name)
	}
	if group != "" {
		if n, err := strconv.Atoi(group); err == nil {
			u.GID = uint32(n)
		} else if gid, _, ok := lookup("group", group); ok {
			u.GID = uint32(gid)
		} else {
			return u, errdefs.Newf(errdefs.ErrInvalid, "unable to find group %s: no matching entries in group file", group)
		}
	}
	return u, nil
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func validName(n string) bool {
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '_' || r == '.' || r == '-'))
		if !ok {
			return false
		}
	}
	return n != ""
}
