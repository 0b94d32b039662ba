package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libcontainer"
	"github.com/berth-project/berth/libimage"
)

const initPath = "/run/berth-init"

// containerSpec builds the OCI spec for c from its image and options, preparing its volumes
// and the files it gets from the run directory (/etc/hostname, /etc/hosts, /etc/resolv.conf).
func (e *Engine) containerSpec(ctx context.Context, c *Container, img *libimage.Image, rootfs string) (*specs.Spec, error) {
	o, ic := c.Options, img.Config.Config
	s := libcontainer.DefaultSpec()
	// Docker also masks the RAPL energy counters, a side channel on the host's work (CVE-2020-8694).
	s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/sys/devices/virtual/powercap")
	s.Root = &specs.Root{Path: rootfs, Readonly: o.ReadOnly}
	s.Process.Terminal = o.TTY
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
	if o.Init {
		s.Process.Args = append([]string{initPath, "--"}, s.Process.Args...)
		s.Mounts = append(s.Mounts, specs.Mount{Destination: initPath, Type: "bind", Source: helper("berth-monitor"), Options: []string{"bind", "ro"}})
	}
	base := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=" + hostname(c)}
	if o.TTY {
		base = append(base, "TERM=xterm")
	}
	// The image's PATH replaces the default one rather than adding a second PATH.
	s.Process.Env = mergeEnv(mergeEnv(base, ic.Env), o.Env)
	s.Process.Cwd = "/"
	if ic.WorkingDir != "" {
		s.Process.Cwd = ic.WorkingDir
	}
	if o.Workdir != "" {
		s.Process.Cwd = o.Workdir
	}
	if err := makeWorkdir(rootfs, s.Process.Cwd); err != nil {
		return nil, err
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
	if err := e.setUserNS(s, c); err != nil {
		return nil, err
	}
	if !hasEnv(s.Process.Env, "HOME") {
		// Docker takes HOME from the user's passwd entry, "/" without one.
		s.Process.Env = append(s.Process.Env, "HOME="+homeDir(rootfs, s.Process.User.UID))
	}
	caps, err := capabilities(o)
	if err != nil {
		return nil, err
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	s.Process.NoNewPrivileges = o.NoNewPrivs
	s.Process.Rlimits = nil
	for _, u := range o.Ulimits {
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: ulimitNames[u.Name], Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	s.Hostname = hostname(c)
	s.Linux.CgroupsPath = "/berth/" + c.ID
	r := s.Linux.Resources
	if o.Memory > 0 {
		r.Memory = &specs.LinuxMemory{Limit: &o.Memory}
	}
	if o.PidsLimit != 0 {
		r.Pids = &specs.LinuxPids{Limit: &o.PidsLimit}
	}
	if o.NanoCPUs > 0 || o.CPUShares > 0 {
		r.CPU = &specs.LinuxCPU{}
		if o.NanoCPUs > 0 {
			period := uint64(100000)
			quota := o.NanoCPUs * int64(period) / 1e9
			r.CPU.Period, r.CPU.Quota = &period, &quota
		}
		if o.CPUShares > 0 {
			r.CPU.Shares = &o.CPUShares
		}
	}
	if e.Config.Rootless {
		rootlessCgroup(s, o, c.ID)
	}
	if s.Linux.Seccomp, err = seccompProfile(s, o.Privileged, o.Seccomp); err != nil {
		return nil, err
	}
	if o.Privileged {
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		r.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/sys" || s.Mounts[i].Destination == "/sys/fs/cgroup" {
				s.Mounts[i].Options = removeOpt(s.Mounts[i].Options, "ro")
			}
		}
		if err := addHostDevices(s); err != nil {
			return nil, err
		}
	}
	if err := e.addDevices(s, o.Devices, o.CDIDevices); err != nil {
		return nil, err
	}
	if err := e.addMounts(ctx, c, s, rootfs); err != nil {
		return nil, err
	}
	nsPath, hostNet, err := e.networkNamespace(ctx, c)
	if err != nil {
		return nil, err
	}
	setNetNS(s, nsPath, hostNet)
	if err := e.joinPodNamespaces(ctx, c, s); err != nil {
		return nil, err
	}
	if err := checkUserNSJoins(s); err != nil {
		return nil, err
	}
	if o.CgroupNS == "host" {
		s.Linux.Namespaces = withoutNamespace(s.Linux.Namespaces, specs.CgroupNamespace)
	}
	if err := e.applyPodmanOptions(ctx, c, s); err != nil {
		return nil, err
	}
	s.Annotations = MergeLabels(o.Labels, o.Annotations)
	return s, nil
}

// setNetNS points the spec's network namespace at path ("" for a new one), or drops it so
// the container shares the host's network when host is set.
func setNetNS(s *specs.Spec, path string, host bool) {
	var nss []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		switch {
		case ns.Type != specs.NetworkNamespace:
		case host:
			continue
		default:
			ns.Path = path
		}
		nss = append(nss, ns)
	}
	s.Linux.Namespaces = nss
}

func withoutNamespace(nss []specs.LinuxNamespace, t specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range nss {
		if ns.Type != t {
			out = append(out, ns)
		}
	}
	return out
}

func removeOpt(opts []string, o string) []string {
	var out []string
	for _, x := range opts {
		if x != o {
			out = append(out, x)
		}
	}
	return out
}

// capabilities applies --privileged, --cap-add and --cap-drop to Docker's default set.
func capabilities(o CreateOptions) ([]string, error) {
	if o.Privileged {
		return libcontainer.AllCaps(), nil
	}
	norm := func(n string) (string, error) {
		n = strings.ToUpper(n)
		if n == "ALL" {
			return n, nil
		}
		if !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		if !libcontainer.ValidCap(n) {
			return "", errdefs.Newf(errdefs.ErrInvalid, "unknown capability %q", n)
		}
		return n, nil
	}
	set := map[string]bool{}
	for _, c := range libcontainer.DefaultCaps {
		set[c] = true
	}
	for _, d := range o.CapDrop {
		n, err := norm(d)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			set = map[string]bool{}
		}
		delete(set, n)
	}
	for _, a := range o.CapAdd {
		n, err := norm(a)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			for _, c := range libcontainer.AllCaps() {
				set[c] = true
			}
			continue
		}
		set[n] = true
	}
	var out []string
	for _, c := range libcontainer.AllCaps() {
		if set[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// addDevice gives the container a host device node and the cgroup right to use it.
func addDevice(s *specs.Spec, d Device) error {
	var st unix.Stat_t
	if err := unix.Stat(d.PathOnHost, &st); err != nil {
		return errdefs.Newf(errdefs.ErrInvalid, "error gathering device information while adding custom device %q: %v", d.PathOnHost, err)
	}
	typ := ""
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return errdefs.Newf(errdefs.ErrInvalid, "%s is not a device node", d.PathOnHost)
	}
	major, minor := int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	mode := os.FileMode(st.Mode & 0o777)
	uid, gid := st.Uid, st.Gid
	s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: d.PathInContainer, Type: typ, Major: major, Minor: minor,
		FileMode: &mode, UID: &uid, GID: &gid})
	s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: typ,
		Major: &major, Minor: &minor, Access: d.CgroupPermissions})
	return nil
}

// addHostDevices gives a privileged container the host's device nodes, as Docker does.
func addHostDevices(s *specs.Spec) error {
	have := map[string]bool{}
	for _, d := range []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/console", "/dev/ptmx"} {
		have[d] = true
	}
	return filepath.WalkDir("/dev", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (p == "/dev/pts" || p == "/dev/shm" || p == "/dev/mqueue") {
			return filepath.SkipDir
		}
		if d.Type()&(os.ModeDevice|os.ModeCharDevice) == 0 || have[p] {
			return nil
		}
		return addDevice(s, Device{PathOnHost: p, PathInContainer: p, CgroupPermissions: "rwm"})
	})
}

// addMounts adds the user's bind mounts, volumes and tmpfs mounts, and the /etc files.
func (e *Engine) addMounts(ctx context.Context, c *Container, s *specs.Spec, rootfs string) error {
	run := e.containerRunDir(c.ID)
	hosts, resolv, err := e.etcFiles(ctx, c)
	if err != nil {
		return err
	}
	etc := map[string]string{"/etc/hostname": hostname(c) + "\n", "/etc/hosts": hosts, "/etc/resolv.conf": resolv}
	for dst, content := range etc {
		src := filepath.Join(run, filepath.Base(dst))
		if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
			return err
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}})
	}
	for _, m := range c.Options.Mounts {
		var sm specs.Mount
		switch m.Type {
		case "bind":
			src, err := filepath.Abs(m.Source)
			if err != nil {
				return err
			}
			if _, err := os.Stat(src); os.IsNotExist(err) {
				if err := os.MkdirAll(src, 0o755); err != nil { // -v creates a missing source, as Docker does
					return fmt.Errorf("bind source %s: %w", src, err)
				}
			}
			sm = specs.Mount{Destination: m.Target, Type: "bind", Source: src, Options: append([]string{"rbind", "rprivate"}, m.Options...)}
		case "volume":
			v, err := e.Volume(ctx, m.Source)
			if err != nil {
				if v, err = e.CreateVolume(ctx, m.Source, nil); err != nil { // -v name:/dst creates the volume
					return err
				}
			}
			if err := e.seedVolume(ctx, v, rootfs, m.Target); err != nil {
				return fmt.Errorf("seed volume %s: %w", v.Name, err)
			}
			sm = specs.Mount{Destination: m.Target, Type: "bind", Source: v.Mountpoint, Options: append([]string{"rbind", "rprivate"}, m.Options...)}
		case "tmpfs":
			sm = specs.Mount{Destination: m.Target, Type: "tmpfs", Source: "tmpfs", Options: append([]string{"nosuid", "nodev"}, m.Options...)}
		}
		if m.ReadOnly {
			sm.Options = append(sm.Options, "ro")
			if sm.Type == "bind" {
				// As Docker 25+: the mounts under a read-only bind are read-only too (rro, which
				// runc 1.1+ and crun also take; a bind mount ignores it where unknown).
				sm.Options = append(sm.Options, "rro")
			}
		}
		s.Mounts = append(s.Mounts, sm)
	}
	return nil
}

// seccompProfile is the filter for a container whose capabilities s already holds: none when
// privileged or --security-opt seccomp=unconfined; else Docker's default profile, or the
// profile JSON given with seccomp=FILE (Docker's format, or the OCI one), each adjusted to
// the capabilities as Docker does (clone and unshare of namespaces need CAP_SYS_ADMIN, ...).
func seccompProfile(s *specs.Spec, privileged bool, profile string) (*specs.LinuxSeccomp, error) {
	var sc *specs.LinuxSeccomp
	var err error
	switch {
	case privileged || profile == "unconfined":
		return nil, nil
	case profile != "":
		if sc, err = seccomp.LoadProfile(profile, s); err != nil {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "seccomp profile: %v", err)
		}
	default:
		if sc, err = seccomp.GetDefaultProfile(s); err != nil {
			return nil, fmt.Errorf("default seccomp profile: %w", err)
		}
	}
	return sc, nil
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

// makeWorkdir creates the working directory in the container's root filesystem when the
// image lacks it, as Docker does for -w and WORKDIR (owned by root, mode 0755).
func makeWorkdir(rootfs, dir string) error {
	if !strings.HasPrefix(dir, "/") {
		return errdefs.Newf(errdefs.ErrInvalid, "the working directory %q is invalid: it needs to be an absolute path", dir)
	}
	p, err := secureJoin(rootfs, dir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(p); err == nil {
		if !fi.IsDir() {
			return errdefs.Newf(errdefs.ErrInvalid, "the working directory %s is not a directory", dir)
		}
		return nil
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("create working directory %s: %w", dir, err)
	}
	return nil
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// homeDir is uid's home directory in the container's /etc/passwd, or "/".
func homeDir(rootfs string, uid uint32) string {
	p, err := secureJoin(rootfs, "/etc/passwd")
	if err != nil {
		return "/"
	}
	b, _ := os.ReadFile(p)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 6 && f[2] == strconv.FormatUint(uint64(uid), 10) && f[5] != "" {
			return f[5]
		}
	}
	return "/"
}

// resolveUser turns "name|uid[:group|gid]" into ids, reading the container's /etc/passwd and
// /etc/group for names.
func resolveUser(rootfs, user string) (specs.User, error) {
	if user == "" {
		return specs.User{}, nil
	}
	name, group, _ := strings.Cut(user, ":")
	lookup := func(file, key string) (int, int, bool) {
		p, err := secureJoin(rootfs, "/etc/"+file)
		if err != nil {
			return 0, 0, false
		}
		b, _ := os.ReadFile(p)
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
