package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/errdefs"
)

// Who tells systemd that a container under a Type=notify unit is up (--sdnotify, as podman):
//
//	conmon     berth, once the container has started: MAINPID=<monitor> and READY=1
//	healthy    berth says MAINPID=<monitor>; the monitor says READY=1 when a health check passes
//	container  berth says MAINPID=<monitor>; the container sends READY=1 to the socket at
//	           $NOTIFY_SOCKET inside it, which its monitor forwards to systemd's
//	ignore     nobody
//
// The monitor, not the container, is the unit's main process: it lives as long as the
// container and stays in the unit's cgroup, while the container runs in its own. The monitor
// never sees $NOTIFY_SOCKET in its environment (an OCI runtime such as runc would act on it);
// it gets the socket as --notify-socket when it has something to send.

// notifyInside is where a --sdnotify=container container finds its socket.
const notifyInside = "/run/notify"

// SdNotifyModes are the values --sdnotify accepts.
var SdNotifyModes = []string{"conmon", "container", "healthy", "ignore"}

// ValidateSdNotify checks --sdnotify against the container's options.
func ValidateSdNotify(o *CreateOptions) error {
	if o.SdNotify == "" {
		return nil
	}
	if !slices.Contains(SdNotifyModes, o.SdNotify) {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid --sdnotify %q: want conmon, container, healthy or ignore", o.SdNotify)
	}
	if o.SdNotify == "healthy" && (o.Health == nil || len(o.Health.Test) == 0 || o.Health.Test[0] == "NONE") {
		return errdefs.Newf(errdefs.ErrInvalid, "--sdnotify=healthy needs a health check (--health-cmd)")
	}
	return nil
}

func sdNotifyMode(c *Container) string {
	if c.Options.SdNotify == "" {
		return "conmon"
	}
	return c.Options.SdNotify
}

// monitorEnv is our environment without NOTIFY_SOCKET.
func monitorEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "NOTIFY_SOCKET=") })
}

// notifyArgs are the monitor's arguments for the modes where it sends to systemd.
func (e *Engine) notifyArgs(c *Container) []string {
	mode := sdNotifyMode(c)
	if mode != "healthy" && mode != "container" {
		return nil
	}
	args := []string{"--sdnotify", mode}
	if sock := os.Getenv("NOTIFY_SOCKET"); sock != "" {
		args = append(args, "--notify-socket", sock)
	}
	return args
}

// addNotifySocket gives a --sdnotify=container container the directory where its monitor
// binds the socket it listens on, and $NOTIFY_SOCKET pointing there.
func (e *Engine) addNotifySocket(c *Container, s *specs.Spec) error {
	if sdNotifyMode(c) != "container" {
		return nil
	}
	dir := filepath.Join(e.containerRunDir(c.ID), "notify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create notify socket directory: %w", err)
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: notifyInside, Type: "bind", Source: dir, Options: []string{"bind", "rprivate"}})
	s.Process.Env = mergeEnv(s.Process.Env, []string{"NOTIFY_SOCKET=" + notifyInside + "/notify.sock"})
	return nil
}

// notifyStarted tells systemd, when we run under a notify unit, that the monitor is the
// unit's main process, and that the container is ready in conmon mode.
func notifyStarted(c *Container, monitorPID int) {
	mode := sdNotifyMode(c)
	if mode == "ignore" || os.Getenv("NOTIFY_SOCKET") == "" {
		return
	}
	state := fmt.Sprintf("MAINPID=%d", monitorPID)
	if mode == "conmon" {
		state += "\nREADY=1"
	}
	if _, err := daemon.SdNotify(false, state); err != nil {
		logrus.WithField("container", c.Name).Warnf("notify systemd: %v", err)
	}
}

// MonitorPIDFile is where a running container's monitor writes its pid.
func (e *Engine) MonitorPIDFile(c *Container) string { return e.runFile(c, "monitor.pid") }
