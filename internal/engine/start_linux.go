package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// StartOptions tune StartContainer; nil means none.
type StartOptions struct {
	// BeforeStart runs once the container exists but has not started: `run` and `start -a`
	// attach there so that no output is missed.
	BeforeStart func(*Container) error
	// Rows and Cols size the container's terminal from its first instruction.
	Rows, Cols uint16
	// Dependency marks the start of a container another one needs (its pod's infra, a
	// --requires): systemd hears only of the container the command started.
	Dependency bool
}

// StartContainer mounts the container's filesystem, writes its bundle, starts its monitor
// (which creates it through the runtime) and starts it.
func (e *Engine) StartContainer(ctx context.Context, ref string, so *StartOptions) (_ *Container, retErr error) {
	if so == nil {
		so = &StartOptions{}
	}
	c, release, err := e.lockedContainer(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer release()
	if c.Active() {
		// A unit started for a running container: its monitor is the main process already.
		if pid := readInt(e.runFile(c, "monitor.pid")); pid > 0 && !so.Dependency {
			notifyStarted(c, pid)
		}
		return c, nil
	}
	if err := e.startPodInfra(ctx, c); err != nil {
		return nil, err
	}
	if err := e.startRequired(ctx, c); err != nil {
		return nil, err
	}
	rt, err := e.runtimeFor(c.Options.Runtime)
	if err != nil {
		return nil, err
	}
	if e.monitorAlive(c) {
		// A start killed after its monitor made the container left that monitor waiting: it
		// must neither run its cleanup over this start nor write its exit file into it.
		e.markRemoving(c)
		_ = rt.Delete(ctx, c.ID, true)
		e.waitMonitorGone(c, 10*time.Second)
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
	layer := rootfs
	if rootfs, err = e.shiftedRootfs(c, rootfs); err != nil {
		_ = store.UnmountContainerLayer(context.Background(), c.ID)
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = rt.Delete(context.Background(), c.ID, true)
			_ = store.UnmountContainerLayer(context.Background(), c.ID)
		}
	}()
	img, err := store.Lookup(ctx, c.ImageID)
	if err != nil {
		return nil, err
	}
	run := e.containerRunDir(c.ID)
	bundle := filepath.Join(run, "bundle")
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return nil, err
	}
	for _, f := range []string{"exit", "last-exit", "stopped", "removing", "died", "restarts", "health.json", "monitor.pid", "notify/notify.sock"} {
		os.Remove(filepath.Join(run, f))
	}
	if err := e.setupNetwork(ctx, c); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = e.teardownNetwork(context.Background(), c)
		}
	}()
	spec, err := e.containerSpec(ctx, c, img, rootfs)
	if err != nil {
		return nil, err
	}
	if rootfs != layer {
		if err := e.crossableMounts(spec, c); err != nil {
			return nil, err
		}
	}
	if err := e.addNotifySocket(c, spec); err != nil {
		return nil, err
	}
	if so.Rows > 0 && so.Cols > 0 {
		spec.Process.ConsoleSize = &specs.Box{Height: uint(so.Rows), Width: uint(so.Cols)}
	}
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		return nil, err
	}
	pid, monitorPID, err := e.startMonitor(c, rt, bundle)
	if err != nil {
		return nil, err
	}
	if err := e.writeConmonPidFile(c); err != nil {
		return nil, err
	}
	if err := e.connectUserNet(ctx, c, pid); err != nil {
		return nil, err
	}
	if so.BeforeStart != nil {
		c.State = StateCreated // its monitor has created it: attaching is allowed, whatever its last run left
		if err := so.BeforeStart(c); err != nil {
			return nil, err
		}
	}
	if err := rt.Start(ctx, c.ID); err != nil {
		return nil, err
	}
	c.State, c.Pid, c.StartedAt, c.ExitCode, c.FinishedAt = StateRunning, pid, time.Now().UTC(), 0, time.Time{}
	c.StoppedByUser = false
	c.MonitorPid, c.MonitorStart = monitorPID, procStartTime(monitorPID)
	if err := e.saveContainer(ctx, c); err != nil {
		return c, err
	}
	e.startEvents(c)
	if !so.Dependency {
		notifyStarted(c, monitorPID)
	}
	return c, nil
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

// monitorArgs turns the container's options into the monitor's command line.
func (e *Engine) monitorArgs(c *Container, rt ociRuntime, bundle string) ([]string, error) {
	o := c.Options
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"--id", c.ID, "--runtime", rt.Binary(), "--runtime-root", rt.Root(), "--bundle", bundle,
		"--exit-file", filepath.Join(e.containerRunDir(c.ID), "exit"), "--restart", o.Restart.String()}
	driver := o.LogDriver
	if driver == "" {
		driver = "k8s-file"
	}
	args = append(args, "--log-driver", driver)
	if driver != "none" {
		args = append(args, "--log", e.LogPath(c))
	}
	if v := o.LogOpts["max-size"]; v != "" {
		n, err := units.RAMInBytes(v)
		if err != nil {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid log-opt max-size %q", v)
		}
		args = append(args, "--log-max-size", strconv.FormatInt(n, 10))
	}
	if v := o.LogOpts["max-file"]; v != "" {
		args = append(args, "--log-max-files", v)
	}
	if o.TTY {
		args = append(args, "--tty")
	}
	if o.Interactive {
		args = append(args, "--stdin")
	}
	if o.Timeout > 0 {
		args = append(args, "--timeout", strconv.FormatInt(int64(time.Duration(o.Timeout)*time.Second), 10))
	}
	if h := o.Health; h != nil && len(h.Test) > 0 && h.Test[0] != "NONE" {
		test := h.Test[1:]
		if h.Test[0] == "CMD-SHELL" {
			test = []string{"/bin/sh", "-c", strings.Join(test, " ")}
		}
		for _, a := range test {
			args = append(args, "--health-arg", a)
		}
		args = append(args, "--health-interval", strconv.FormatInt(int64(h.Interval), 10),
			"--health-timeout", strconv.FormatInt(int64(h.Timeout), 10),
			"--health-start-period", strconv.FormatInt(int64(h.StartPeriod), 10),
			"--health-retries", strconv.Itoa(h.Retries))
	}
	args = append(args, e.notifyArgs(c)...)
	berth := []string{self, "--root", e.Config.Root, "--runroot", e.Config.RunRoot, "container"}
	for _, a := range append(berth, "notify", c.ID) {
		args = append(args, "--notify-arg", a)
	}
	return append(append(append(args, "--"), berth...), "cleanup", c.ID), nil
}

// startMonitor starts the container's monitor, which creates the container, and returns the
// container's pid and the monitor's.
func (e *Engine) startMonitor(c *Container, rt ociRuntime, bundle string) (int, int, error) {
	args, err := e.monitorArgs(c, rt, bundle)
	if err != nil {
		return 0, 0, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	cmd := exec.Command(helper("berth-monitor"), args...)
	cmd.Env = monitorEnv()
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, 0, fmt.Errorf("start monitor: %w", err)
	}
	w.Close()
	go cmd.Wait() // the monitor outlives us; reap it if it does not
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return 0, 0, monitorError(msg)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(line, "ok "))
	if err != nil {
		return 0, 0, fmt.Errorf("monitor of %s failed to start the container", c.Name)
	}
	return pid, cmd.Process.Pid, nil
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
	c, release, err := e.lockedContainer(ctx, ref)
	if err != nil {
		return err
	}
	defer release()
	e.noteDie(c)
	if err := e.cleanupRuntime(ctx, c); err != nil {
		return err
	}
	defer e.podMemberExited(ctx, c)
	if c.Options.Rm && c.State == StateExited {
		return e.removeLocked(ctx, c, true)
	}
	return nil
}

// NotifyContainer records an event only the container's monitor sees: a change of health
// status (Docker's "health_status: healthy"), or a death and start under the restart policy.
// A die or start takes the container's lock, so that it follows the start event of the
// command that started the container, however quickly the container died.
func (e *Engine) NotifyContainer(ctx context.Context, ref, event, arg string) error {
	switch event {
	case "health_status":
		c, err := e.Container(ctx, ref)
		if err != nil {
			return err
		}
		e.containerEvent(c, "health_status: "+arg)
	case "die", "start":
		c, release, err := e.lockedContainer(ctx, ref)
		if err != nil {
			return err
		}
		defer release()
		if event == "die" {
			e.containerEvent(c, "die", "exitCode", arg)
		} else {
			e.containerEvent(c, "start")
		}
	default:
		return errdefs.Newf(errdefs.ErrInvalid, "unknown container event %q", event)
	}
	return nil
}

func (e *Engine) cleanupRuntime(ctx context.Context, c *Container) error {
	if rt, err := e.runtimeFor(c.Options.Runtime); err == nil {
		if err := rt.Delete(ctx, c.ID, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return err
		}
	}
	store, err := e.Images(ctx)
	if err != nil {
		return err
	}
	// The filesystem first: whoever waits for the container to be gone waits for its mount.
	e.removeShiftedRootfs(c)
	unmountErr := store.UnmountContainerLayer(ctx, c.ID)
	if c.Infra {
		unmountPodShm(e.podShm(c.ID))
	}
	return errors.Join(unmountErr, e.teardownNetwork(ctx, c))
}

// markRemoving tells the monitor not to run its cleanup: whoever removes the container does.
func (e *Engine) markRemoving(c *Container) {
	_ = os.WriteFile(e.runFile(c, "removing"), nil, 0o600)
}

// waitMonitorGone waits for the container's monitor to exit, up to timeout.
func (e *Engine) waitMonitorGone(c *Container, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); e.monitorAlive(c) && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
}

// markStopped tells the monitor the user stopped the container: no restart policy applies.
func (e *Engine) markStopped(c *Container) {
	_ = os.WriteFile(e.runFile(c, "stopped"), nil, 0o600)
}

// KillContainer sends sig to a running container.
func (e *Engine) KillContainer(ctx context.Context, ref string, sig syscall.Signal) (*Container, error) {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !c.Active() {
		return nil, errdefs.Newf(errdefs.ErrConflict, "container %s is not running", c.Name)
	}
	rt, err := e.runtimeFor(c.Options.Runtime)
	if err != nil {
		return nil, err
	}
	if err := rt.Kill(c.ID, sig, false); err != nil {
		return c, err
	}
	e.containerEvent(c, "kill", "signal", strconv.Itoa(int(sig)))
	return c, nil
}

// StopContainer sends the stop signal (SIGTERM unless --stop-signal), then SIGKILL after
// timeout (nil: --stop-timeout, else 10s), and waits for the exit.
func (e *Engine) StopContainer(ctx context.Context, ref string, timeout *time.Duration) (*Container, error) {
	c, err := e.Container(ctx, ref)
	if err != nil || !c.Active() {
		return c, err
	}
	rt, err := e.runtimeFor(c.Options.Runtime)
	if err != nil {
		return nil, err
	}
	e.markStopped(c)
	wait := 10 * time.Second
	if timeout != nil {
		wait = *timeout
	} else if c.Options.StopTimeout != nil {
		wait = time.Duration(*c.Options.StopTimeout) * time.Second
	}
	sig := syscall.SIGTERM
	if c.Options.StopSignal != "" {
		if s, err := ParseSignal(c.Options.StopSignal); err == nil {
			sig = s
		}
	}
	if c.State == StatePaused {
		_ = rt.Resume(c.ID)
	}
	if c.State == StateRunning || c.State == StatePaused {
		if rt.Kill(c.ID, sig, false) == nil {
			e.containerEvent(c, "kill", "signal", strconv.Itoa(int(sig)))
		}
	}
	if !e.waitExit(c, wait) {
		if rt.Kill(c.ID, syscall.SIGKILL, true) == nil {
			e.containerEvent(c, "kill", "signal", strconv.Itoa(int(syscall.SIGKILL)))
		}
		e.waitExit(c, 10*time.Second)
	}
	e.waitMonitorGone(c, 10*time.Second) // its cleanup done, the container can start again at once
	if c.Options.Restart.Name == "unless-stopped" {
		if err := e.recordUserStop(ctx, c.ID); err != nil {
			return nil, err
		}
	}
	e.containerEvent(c, "stop")
	after, err := e.Container(ctx, c.ID)
	if errors.Is(err, errdefs.ErrNotFound) { // run --rm: its cleanup removed it, as asked
		c.State = StateExited
		return c, nil
	}
	return after, err
}

// recordUserStop remembers a user's stop in the record, where it outlives a reboot.
func (e *Engine) recordUserStop(ctx context.Context, id string) error {
	c, release, err := e.lockedContainer(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil // removed meanwhile (--rm)
	}
	if err != nil {
		return err
	}
	defer release()
	c.StoppedByUser = true
	return e.saveContainer(ctx, c)
}

// RestartContainer stops a container (if running) and starts it again.
func (e *Engine) RestartContainer(ctx context.Context, ref string, timeout *time.Duration) (*Container, error) {
	c, err := e.StopContainer(ctx, ref, timeout)
	if err != nil {
		return nil, err
	}
	if c, err = e.StartContainer(ctx, c.ID, nil); err != nil {
		return nil, err
	}
	e.containerEvent(c, "restart")
	return c, nil
}

// PauseContainer freezes (pause) or thaws (unpause) a container's processes.
func (e *Engine) PauseContainer(ctx context.Context, ref string, pause bool) (*Container, error) {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return nil, err
	}
	rt, err := e.runtimeFor(c.Options.Runtime)
	if err != nil {
		return nil, err
	}
	switch {
	case pause && c.State != StateRunning:
		return nil, errdefs.Newf(errdefs.ErrConflict, "container %s is not running", c.Name)
	case !pause && c.State != StatePaused:
		return nil, errdefs.Newf(errdefs.ErrConflict, "container %s is not paused", c.Name)
	case pause:
		err, c.State = rt.Pause(c.ID), StatePaused
	default:
		err, c.State = rt.Resume(c.ID), StateRunning
	}
	if err != nil {
		return nil, err
	}
	if err := e.saveContainer(ctx, c); err != nil {
		return nil, err
	}
	action := "unpause"
	if pause {
		action = "pause"
	}
	e.containerEvent(c, action)
	return c, nil
}

// WaitContainer blocks until the container has exited and returns its status.
func (e *Engine) WaitContainer(ctx context.Context, ref string) (int, error) {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return 0, err
	}
	for c.Active() {
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

// waitExit waits for the monitor to record the final exit, or to be gone, up to timeout.
func (e *Engine) waitExit(c *Container, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, _, ok := readExitFile(e.runFile(c, "exit")); ok || !e.monitorAlive(c) {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}
