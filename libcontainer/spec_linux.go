package libcontainer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// LoadSpec reads bundle/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
	f, err := os.Open(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "bundle %s: %v", bundle, err)
	}
	defer f.Close()
	var s specs.Spec
	dec := json.NewDecoder(f)
	if err := dec.Decode(&s); err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "bundle %s: config.json: %v", bundle, err)
	}
	return &s, nil
}

func invalid(format string, args ...any) error {
	return errdefs.Newf(errdefs.ErrInvalid, format, args...)
}

// validate checks the spec before anything is created, naming the bad field.
func validate(s *specs.Spec, rootfs string) error {
	if s.Root == nil || s.Root.Path == "" {
		return invalid("root.path: missing")
	}
	if st, err := os.Stat(rootfs); err != nil || !st.IsDir() {
		return invalid("root.path: %s is not a directory", rootfs)
	}
	if s.Process == nil {
		return invalid("process: missing")
	}
	if len(s.Process.Args) == 0 {
		return invalid("process.args: empty")
	}
	if s.Process.Cwd != "" && !filepath.IsAbs(s.Process.Cwd) {
		return invalid("process.cwd: %q is not absolute", s.Process.Cwd)
	}
	if _, err := specCaps(s.Process.Capabilities); err != nil {
		return invalid("%v", err)
	}
	for _, r := range s.Process.Rlimits {
		if _, ok := rlimitNames[r.Type]; !ok {
			return invalid("process.rlimits: unknown %q", r.Type)
		}
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range s.Linux.Namespaces {
		if _, ok := nsFlags[ns.Type]; !ok {
			return invalid("linux.namespaces[%d]: unknown namespace type %q", i, ns.Type)
		}
		if seen[ns.Type] {
			return invalid("linux.namespaces[%d]: %s given twice", i, ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			if _, err := os.Stat(ns.Path); err != nil {
				return invalid("linux.namespaces[%d]: %s path: %v", i, ns.Type, err)
			}
		}
	}
	if joinsByConstructor(s.Linux) && hasNamespace(s.Linux, specs.UserNamespace) && nsPath(s.Linux, specs.UserNamespace) == "" {
		return errdefs.Newf(errdefs.ErrNotSupported, "linux.namespaces: a new user namespace together with a joined mount or pid namespace or time offsets is not supported")
	}
	if len(s.Linux.TimeOffsets) > 0 && (!seen[specs.TimeNamespace] || nsPath(s.Linux, specs.TimeNamespace) != "") {
		return invalid("linux.timeOffsets: needs a new time namespace")
	}
	if seen[specs.UserNamespace] && nsPath(s.Linux, specs.UserNamespace) == "" && (len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0) {
		return invalid("linux.uidMappings: a user namespace needs uid and gid mappings")
	}
	for i, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return invalid("mounts[%d].destination: %q is not absolute", i, m.Destination)
		}
		if m.Type == "" && !hasBind(m.Options) {
			return invalid("mounts[%d]: no type and no bind option", i)
		}
		if hasBind(m.Options) {
			if _, err := os.Stat(m.Source); err != nil {
				return invalid("mounts[%d].source: %v", i, err)
			}
		}
	}
	return nil
}

func hasBind(opts []string) bool {
	for _, o := range opts {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// runHooks runs hooks in order with the state on stdin; the first failure stops them.
func runHooks(hooks []specs.Hook, st *specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		ctx := context.Background()
		cancel := func() {}
		if h.Timeout != nil {
			ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		}
		cmd := exec.CommandContext(ctx, h.Path)
		if len(h.Args) > 0 {
			cmd.Args = h.Args
		}
		cmd.Env = h.Env
		cmd.Stdin = bytes.NewReader(data)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", h.Path, err, bytes.TrimSpace(out.Bytes()))
		}
	}
	return nil
}

// DefaultSpec is what `spec` writes: runc's example config, a busybox-friendly sh.
func DefaultSpec() *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: true, Args: []string{"sh"}, Cwd: "/",
			Env:             []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "berth",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace}},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
				"/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// MakeRootless adapts s for an unprivileged user: a user namespace mapping the user to root,
// no network namespace of its own, and no cgroup device rules.
func MakeRootless(s *specs.Spec, uid, gid int) {
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.NetworkNamespace && n.Type != specs.CgroupNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = append(ns, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(uid), Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(gid), Size: 1}}
	s.Linux.Resources = nil
	for i, m := range s.Mounts {
		if m.Type == "devpts" { // gid 5 is not mapped
			var opts []string
			for _, o := range m.Options {
				if o != "gid=5" {
					opts = append(opts, o)
				}
			}
			s.Mounts[i].Options = opts
		}
		if m.Destination == "/sys" {
			s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		}
	}
}
