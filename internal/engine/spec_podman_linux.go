package engine

import (
	"context"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// applyPodmanOptions adds what PodmanOptions ask of the spec: the pid namespace,
// /etc/localtime and the init binary.
func (e *Engine) applyPodmanOptions(ctx context.Context, c *Container, s *specs.Spec) error {
	o := c.Options.PodmanOptions
	switch {
	case o.PidMode == "host":
		s.Linux.Namespaces = withoutNamespace(s.Linux.Namespaces, specs.PIDNamespace)
	case strings.HasPrefix(o.PidMode, "container:"):
		other, err := e.Container(ctx, strings.TrimPrefix(o.PidMode, "container:"))
		if err != nil {
			return err
		}
		if !other.Active() || other.Pid <= 0 {
			return errdefs.Newf(errdefs.ErrInvalid, "cannot join the pid namespace of container %s: it is not running", other.Name)
		}
		setNamespacePath(s, specs.PIDNamespace, "/proc/"+strconv.Itoa(other.Pid)+"/ns/pid")
	}
	if o.TZ != "" {
		src, err := timezoneFile(o.TZ)
		if err != nil {
			return err
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/localtime", Type: "bind", Source: src, Options: []string{"bind", "ro"}})
	}
	if SystemdMode(o.Systemd, s.Process.Args) {
		systemdSpec(c, s)
	}
	if err := addThrottles(s, o.Throttle); err != nil {
		return err
	}
	if o.InitPath != "" {
		for i := range s.Mounts {
			if s.Mounts[i].Destination == initPath {
				s.Mounts[i].Source = o.InitPath
			}
		}
	}
	return nil
}

// systemdSpec gives systemd as pid 1 what it expects of a container: tmpfs on /run,
// /run/lock, /tmp and /var/log/journal (unless the user mounted them), container= in its
// environment, and no host terminals (it would start gettys on them).
func systemdSpec(c *Container, s *specs.Spec) {
	have := map[string]bool{}
	for _, m := range s.Mounts {
		have[m.Destination] = true
	}
	for _, dst := range []string{"/run", "/run/lock", "/tmp", "/var/log/journal"} {
		if !have[dst] {
			mode := "mode=755"
			if dst == "/tmp" {
				mode = "mode=1777"
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", mode}})
		}
	}
	if !hasEnvKey(s.Process.Env, "container") {
		s.Process.Env = append(s.Process.Env, "container=berth")
	}
	var devs []specs.LinuxDevice
	for _, d := range s.Linux.Devices {
		if name := strings.TrimPrefix(d.Path, "/dev/tty"); name != d.Path && name != "" {
			continue
		}
		devs = append(devs, d)
	}
	s.Linux.Devices = devs
}

func hasEnvKey(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// addThrottles puts the I/O limits into the spec's block I/O resources, with the devices'
// numbers as they are now.
func addThrottles(s *specs.Spec, ts []ThrottleDevice) error {
	if len(ts) == 0 {
		return nil
	}
	if s.Linux.Resources.BlockIO == nil {
		s.Linux.Resources.BlockIO = &specs.LinuxBlockIO{}
	}
	b := s.Linux.Resources.BlockIO
	for _, t := range ts {
		var st unix.Stat_t
		if err := unix.Stat(t.Path, &st); err != nil {
			return errdefs.Newf(errdefs.ErrInvalid, "throttle device %s: %v", t.Path, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFBLK && st.Mode&unix.S_IFMT != unix.S_IFCHR {
			return errdefs.Newf(errdefs.ErrInvalid, "throttle device %s: not a device", t.Path)
		}
		d := specs.LinuxThrottleDevice{Rate: t.Rate}
		d.Major, d.Minor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		switch t.Kind {
		case "rbps":
			b.ThrottleReadBpsDevice = append(b.ThrottleReadBpsDevice, d)
		case "wbps":
			b.ThrottleWriteBpsDevice = append(b.ThrottleWriteBpsDevice, d)
		case "riops":
			b.ThrottleReadIOPSDevice = append(b.ThrottleReadIOPSDevice, d)
		case "wiops":
			b.ThrottleWriteIOPSDevice = append(b.ThrottleWriteIOPSDevice, d)
		}
	}
	return nil
}

// startRequired starts the containers c requires (--requires) that are not running.
func (e *Engine) startRequired(ctx context.Context, c *Container) error {
	for _, id := range c.Options.Requires {
		other, err := e.Container(ctx, id)
		if err != nil {
			return errdefs.Newf(errdefs.ErrInvalid, "container %s requires %s: %v", c.Name, id, err)
		}
		if other.Active() {
			continue
		}
		if _, err := e.StartContainer(ctx, other.ID, &StartOptions{Dependency: true}); err != nil {
			return err
		}
	}
	return nil
}

// writeConmonPidFile writes the monitor's pid where --conmon-pidfile asks.
func (e *Engine) writeConmonPidFile(c *Container) error {
	if c.Options.ConmonPidFile == "" {
		return nil
	}
	pid := readInt(e.runFile(c, "monitor.pid"))
	return os.WriteFile(c.Options.ConmonPidFile, []byte(strconv.Itoa(pid)), 0o644)
}
