package engine

import (
	"context"
	"fmt"
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
	if o.Passwd {
		if err := addPasswdEntry(s.Root.Path, s.Process.User); err != nil {
			return err
		}
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

// addPasswdEntry appends an entry for u to the container's /etc/passwd when it has none, so
// that whoami and HOME work for an arbitrary --user uid (Podman's --passwd).
func addPasswdEntry(rootfs string, u specs.User) error {
	p, err := secureJoin(rootfs, "/etc/passwd")
	if err != nil {
		return err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil // an image without /etc/passwd stays without one
	}
	uid := strconv.FormatUint(uint64(u.UID), 10)
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, ":"); len(f) > 2 && f[2] == uid {
			return nil
		}
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("add user %s to /etc/passwd: %w", uid, err)
	}
	defer f.Close()
	if len(b) > 0 && b[len(b)-1] != '\n' {
		fmt.Fprintln(f)
	}
	_, err = fmt.Fprintf(f, "%s:*:%s:%d:container user:/:/bin/sh\n", uid, uid, u.GID)
	return err
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
