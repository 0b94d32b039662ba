package engine

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/userns"
	"github.com/berth-project/berth/libnet"
)

// CreateOptions are the `create`/`run` flags the engine understands: the user's validated
// intent, stored with the container and turned into an OCI config at each start.
type CreateOptions struct {
	Image       string
	Name        string
	Cmd         []string
	Entrypoint  *[]string // nil: the image's; empty: none
	Env         []string
	Workdir     string
	User        string
	Hostname    string
	Rm          bool
	ReadOnly    bool
	Interactive bool
	TTY         bool
	Privileged  bool
	Init        bool
	Memory      int64
	PidsLimit   int64
	CPUShares   uint64
	NanoCPUs    int64
	Labels      map[string]string
	// Annotations are OCI annotations beside the labels (kube play gives a pod's to its
	// containers); inspect shows them as Config.Annotations.
	Annotations map[string]string `json:",omitempty"`
	Mounts      []Mount
	CapAdd      []string
	CapDrop     []string
	NoNewPrivs  bool
	Seccomp     string // "": berth's default; "unconfined"; else a profile's JSON
	// CgroupNS is --cgroupns: "" or private (a cgroup namespace rooted at the container's
	// cgroup), or host.
	CgroupNS    string `json:",omitempty"`
	Devices     []Device
	CDIDevices  []string `json:",omitempty"` // vendor.com/class=name, from --device and --gpus
	Ulimits     []Ulimit
	Restart     RestartPolicy
	StopSignal  string
	StopTimeout *int
	LogDriver   string
	LogOpts     map[string]string
	Health      *Healthcheck
	Runtime     string
	// UserNS is --userns (userns.ParseMode); UIDMaps and GIDMaps are --uidmap/--gidmap, or
	// the range --userns=auto picked at create.
	UserNS  string         `json:",omitempty"`
	UIDMaps []userns.IDMap `json:",omitempty"`
	GIDMaps []userns.IDMap `json:",omitempty"`
	// Network is a mode (none, host, container:ID) or "" for the networks in Networks.
	Network  string
	Networks []NetworkRequest `json:",omitempty"` // eth0, eth1, ... in order
	// Ports are -p's mappings (HostPort 0: a free port picked at start); -P adds the image's
	// EXPOSEd ports at create.
	Ports      []libnet.PortMapping `json:",omitempty"`
	PublishAll bool                 `json:",omitempty"`
	AddHosts   []string             `json:",omitempty"` // NAME:IP
	DNS        []string             `json:",omitempty"`
	DNSSearch  []string             `json:",omitempty"`
	DNSOptions []string             `json:",omitempty"`
	// Pod is the pod the container joins (a name or id, stored as the id): it shares the
	// namespaces the pod shares, through the pod's infra container.
	Pod string `json:",omitempty"`
	PodmanOptions
	// SdNotify is --sdnotify: who tells systemd the container is ready when berth runs under
	// a Type=notify unit (conmon: the monitor once started, container: the container itself,
	// healthy: the monitor once a health check passes, ignore: nobody). "" is conmon.
	SdNotify string `json:",omitempty"`
	// CreateCommand is the command line that created the container, for `generate systemd --new`.
	CreateCommand []string `json:",omitempty"`
}

// Mount is one -v, --mount or --tmpfs.
type Mount struct {
	Type     string // bind, volume, tmpfs
	Source   string // host path, volume name ("" for an anonymous volume)
	Target   string
	ReadOnly bool
	Options  []string // tmpfs size=, mode=
}

// Device is one --device HOST[:CONTAINER[:PERMS]].
type Device struct{ PathOnHost, PathInContainer, CgroupPermissions string }

// Ulimit is one --ulimit NAME=SOFT[:HARD].
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// RestartPolicy is --restart NAME[:MAX].
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// Healthcheck is Docker's: Test is ["CMD-SHELL", cmd] or ["CMD", args...] or ["NONE"].
type Healthcheck struct {
	Test        []string
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// ParseVolume parses -v SRC:DST[:OPTS] or -v DST (an anonymous volume). A source starting
// with / or . is a bind mount, anything else names a volume.
func ParseVolume(spec string) (Mount, error) {
	parts := strings.Split(spec, ":")
	var m Mount
	switch len(parts) {
	case 1:
		m = Mount{Type: "volume", Target: parts[0]}
	case 2, 3:
		m = Mount{Source: parts[0], Target: parts[1], Type: "volume"}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro":
					m.ReadOnly = true
				case "rw", "z", "Z", "":
				case "exec", "noexec", "dev", "nodev", "suid", "nosuid": // Podman's
					m.Options = append(m.Options, o)
				default:
					return m, errdefs.Newf(errdefs.ErrInvalid, "invalid volume specification %q: unknown option %q", spec, o)
				}
			}
		}
	default:
		return m, errdefs.Newf(errdefs.ErrInvalid, "invalid volume specification %q", spec)
	}
	if strings.HasPrefix(m.Source, "/") || strings.HasPrefix(m.Source, ".") {
		m.Type = "bind"
	} else if m.Source != "" && !validName(m.Source) {
		return m, errdefs.Newf(errdefs.ErrInvalid, "invalid volume specification %q: %q is not a valid volume name", spec, m.Source)
	}
	return m, checkTarget(spec, m.Target)
}

// ParseMount parses --mount type=bind|volume|tmpfs,source=,target=,readonly,tmpfs-size=,tmpfs-mode=.
func ParseMount(spec string) (Mount, error) {
	m := Mount{Type: "volume"}
	for _, kv := range strings.Split(spec, ",") {
		k, v, hasV := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "type":
			m.Type = v
		case "source", "src":
			m.Source = v
		case "target", "destination", "dst":
			m.Target = v
		case "readonly", "ro":
			m.ReadOnly = !hasV || v == "true" || v == "1"
		case "tmpfs-size":
			n, err := units.RAMInBytes(v)
			if err != nil {
				return m, errdefs.Newf(errdefs.ErrInvalid, "invalid mount %q: tmpfs-size %q", spec, v)
			}
			m.Options = append(m.Options, "size="+strconv.FormatInt(n, 10))
		case "tmpfs-mode":
			if _, err := strconv.ParseUint(v, 8, 32); err != nil {
				return m, errdefs.Newf(errdefs.ErrInvalid, "invalid mount %q: tmpfs-mode %q", spec, v)
			}
			m.Options = append(m.Options, "mode="+v)
		case "bind-propagation", "volume-nocopy", "consistency":
		default:
			return m, errdefs.Newf(errdefs.ErrInvalid, "invalid mount %q: unknown field %q", spec, k)
		}
	}
	switch m.Type {
	case "bind":
		if m.Source == "" {
			return m, errdefs.Newf(errdefs.ErrInvalid, "invalid mount %q: a bind mount needs a source", spec)
		}
	case "volume":
		if m.Source != "" && !validName(m.Source) {
			return m, errdefs.Newf(errdefs.ErrInvalid, "invalid mount %q: %q is not a valid volume name", spec, m.Source)
		}
	case "tmpfs":
		if m.Source != "" {
			return m, errdefs.Newf(errdefs.ErrInvalid, "invalid mount %q: a tmpfs has no source", spec)
		}
	default:
		return m, errdefs.Newf(errdefs.ErrInvalid, "invalid mount %q: type must be bind, volume or tmpfs", spec)
	}
	return m, checkTarget(spec, m.Target)
}

// ParseTmpfs parses --tmpfs DST[:OPTS].
func ParseTmpfs(spec string) (Mount, error) {
	dst, opts, _ := strings.Cut(spec, ":")
	m := Mount{Type: "tmpfs", Target: dst}
	if opts != "" {
		m.Options = strings.Split(opts, ",")
	}
	return m, checkTarget(spec, dst)
}

func checkTarget(spec, dst string) error {
	if dst == "" {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid mount %q: no destination", spec)
	}
	if !path.IsAbs(dst) {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid mount %q: destination %q is not an absolute path", spec, dst)
	}
	if path.Clean(dst) == "/" {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid mount %q: destination cannot be /", spec)
	}
	return nil
}

// ParseDevice parses --device HOST[:CONTAINER][:PERMS].
func ParseDevice(spec string) (Device, error) {
	p := strings.Split(spec, ":")
	d := Device{PathOnHost: p[0], PathInContainer: p[0], CgroupPermissions: "rwm"}
	switch len(p) {
	case 1:
	case 2:
		if isPerms(p[1]) {
			d.CgroupPermissions = p[1]
		} else {
			d.PathInContainer = p[1]
		}
	case 3:
		d.PathInContainer, d.CgroupPermissions = p[1], p[2]
	default:
		return d, errdefs.Newf(errdefs.ErrInvalid, "invalid device %q", spec)
	}
	if !path.IsAbs(d.PathOnHost) || !path.IsAbs(d.PathInContainer) || !isPerms(d.CgroupPermissions) {
		return d, errdefs.Newf(errdefs.ErrInvalid, "invalid device %q: want /host/path[:/container/path][:rwm]", spec)
	}
	return d, nil
}

func isPerms(s string) bool {
	return s != "" && strings.Trim(s, "rwm") == ""
}

// ulimitNames maps Docker's names to RLIMIT_ names.
var ulimitNames = map[string]string{
	"core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
	"locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE",
	"nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
	"rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
}

// ParseUlimit parses --ulimit NAME=SOFT[:HARD] (-1 for unlimited).
func ParseUlimit(spec string) (Ulimit, error) {
	name, val, ok := strings.Cut(spec, "=")
	if !ok || ulimitNames[name] == "" {
		return Ulimit{}, errdefs.Newf(errdefs.ErrInvalid, "invalid ulimit %q: want NAME=SOFT[:HARD] with a known NAME", spec)
	}
	soft, hard, hasHard := strings.Cut(val, ":")
	u := Ulimit{Name: name}
	var err error
	if u.Soft, err = strconv.ParseInt(soft, 10, 64); err != nil {
		return u, errdefs.Newf(errdefs.ErrInvalid, "invalid ulimit %q: %q is not a number", spec, soft)
	}
	u.Hard = u.Soft
	if hasHard {
		if u.Hard, err = strconv.ParseInt(hard, 10, 64); err != nil {
			return u, errdefs.Newf(errdefs.ErrInvalid, "invalid ulimit %q: %q is not a number", spec, hard)
		}
	}
	if u.Hard >= 0 && (u.Soft < 0 || u.Soft > u.Hard) {
		return u, errdefs.Newf(errdefs.ErrInvalid, "invalid ulimit %q: soft limit above hard limit", spec)
	}
	return u, nil
}

// ParseRestart parses --restart no|on-failure[:N]|always|unless-stopped.
func ParseRestart(spec string) (RestartPolicy, error) {
	name, max, hasMax := strings.Cut(spec, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
	case "always", "unless-stopped":
	case "on-failure":
		if hasMax {
			n, err := strconv.Atoi(max)
			if err != nil || n < 0 {
				return p, errdefs.Newf(errdefs.ErrInvalid, "invalid restart policy %q: maximum retry count must be a non-negative integer", spec)
			}
			p.MaximumRetryCount = n
		}
		return p, nil
	default:
		return p, errdefs.Newf(errdefs.ErrInvalid, "invalid restart policy %q: want no, on-failure[:N], always or unless-stopped", spec)
	}
	if hasMax {
		return p, errdefs.Newf(errdefs.ErrInvalid, "invalid restart policy %q: maximum retry count can only be used with on-failure", spec)
	}
	return p, nil
}

func (p RestartPolicy) String() string {
	if p.Name == "on-failure" && p.MaximumRetryCount > 0 {
		return fmt.Sprintf("on-failure:%d", p.MaximumRetryCount)
	}
	if p.Name == "" {
		return "no"
	}
	return p.Name
}

// ParseCPUs turns --cpus 1.5 into nano-CPUs.
func ParseCPUs(s string) (int64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, errdefs.Newf(errdefs.ErrInvalid, "invalid argument %q for \"--cpus\" flag: want a positive number", s)
	}
	return int64(f * 1e9), nil
}

// ParseSignal parses a signal name (KILL, SIGKILL) or number.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(strings.TrimPrefix(s, "-")); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(strings.TrimPrefix(s, "-")) // kill -s -HUP, as kill(1) takes it
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, errdefs.Newf(errdefs.ErrInvalid, "unknown signal %q", s)
}
