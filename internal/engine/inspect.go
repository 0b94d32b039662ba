package engine

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"time"

	units "github.com/docker/go-units"

	"github.com/berth-project/berth/libimage"
)

// ContainerJSON is `inspect`'s Docker-shaped view of a container.
type ContainerJSON struct {
	ID              string `json:"Id"`
	Created         string
	Path            string
	Args            []string
	State           ContainerStateJSON
	Image           string
	ImageName       string // Podman's: the image as the container was created from it
	ResolvConfPath  string
	HostnamePath    string
	HostsPath       string
	LogPath         string
	Name            string
	RestartCount    int
	Driver          string
	Platform        string
	HostConfig      HostConfigJSON
	GraphDriver     GraphDriverJSON
	Mounts          []MountJSON
	Config          ConfigJSON
	NetworkSettings map[string]any
}

// GraphDriverJSON names the storage driver and, for overlay, the layer's directories.
type GraphDriverJSON struct {
	Name string
	Data map[string]string
}

type ContainerStateJSON struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
	Health     *HealthState `json:",omitempty"`
	ConmonPid  int          `json:",omitempty"` // Podman's: the monitor's pid while it runs
}

type HostConfigJSON struct {
	Binds     []string
	LogConfig struct {
		Type   string
		Config map[string]string
		Path   string // Podman's: the log file ("" with --log-driver none)
		Size   string // Podman's: max-size, as 9.089MB ("0B": none)
	}
	NetworkMode     string
	PortBindings    map[string][]PortBinding
	PublishAllPorts bool
	Dns             []string
	DnsSearch       []string
	DnsOptions      []string
	ExtraHosts      []string
	RestartPolicy   RestartPolicy
	AutoRemove      bool
	CapAdd          []string
	CapDrop         []string
	Privileged      bool
	ReadonlyRootfs  bool
	SecurityOpt     []string
	Tmpfs           map[string]string
	Memory          int64
	NanoCpus        int64
	CpuShares       uint64
	PidsLimit       int64
	Devices         []Device
	Ulimits         []Ulimit
	Init            bool
	Runtime         string
	CgroupnsMode    string
}

type MountJSON struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

type ConfigJSON struct {
	Hostname     string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Healthcheck  *Healthcheck `json:",omitempty"`
	Image        string
	Volumes      map[string]struct{}
	WorkingDir   string
	Entrypoint   []string
	Labels       map[string]string
	Annotations  map[string]string `json:",omitempty"`
	StopSignal   string            `json:",omitempty"`
	StopTimeout  *int              `json:",omitempty"`
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// InspectContainer returns the Docker-shaped view of a container.
func (e *Engine) InspectContainer(ctx context.Context, ref string) (*ContainerJSON, error) {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return nil, err
	}
	o := c.Options
	j := &ContainerJSON{ID: c.ID, Created: timeString(c.Created), Image: "sha256:" + strings.TrimPrefix(c.ImageID, "sha256:"), ImageName: o.Image,
		Name: "/" + c.Name, RestartCount: c.RestartCount, Driver: e.Config.StorageDriver, Platform: "linux",
		LogPath: e.LogPath(c), NetworkSettings: networkSettings(c)}
	run := e.containerRunDir(c.ID)
	j.ResolvConfPath, j.HostnamePath, j.HostsPath = filepath.Join(run, "resolv.conf"), filepath.Join(run, "hostname"), filepath.Join(run, "hosts")
	if o.LogDriver == "none" {
		j.LogPath = ""
	}
	j.State = ContainerStateJSON{Status: c.State, Running: c.State == StateRunning || c.State == StatePaused, Paused: c.State == StatePaused,
		Restarting: c.State == StateRestarting, Pid: c.Pid, ExitCode: c.ExitCode, StartedAt: timeString(c.StartedAt),
		FinishedAt: timeString(c.FinishedAt), Health: c.Health}
	if c.Active() {
		j.State.ConmonPid = readInt(e.runFile(c, "monitor.pid"))
	}
	cfg := ConfigJSON{Hostname: hostname(c), User: o.User, AttachStdin: o.Interactive, AttachStdout: true, AttachStderr: true,
		Tty: o.TTY, OpenStdin: o.Interactive, StdinOnce: o.Interactive, Env: o.Env, Cmd: o.Cmd, Healthcheck: o.Health,
		Image: o.Image, WorkingDir: o.Workdir, Labels: o.Labels, Annotations: o.Annotations, StopSignal: o.StopSignal, StopTimeout: o.StopTimeout}
	if o.Entrypoint != nil {
		cfg.Entrypoint = *o.Entrypoint
	}
	if store, err := e.Images(ctx); err == nil {
		if img, err := store.Lookup(ctx, c.ImageID); err == nil {
			ic := img.Config.Config
			cfg.Env = mergeEnv(ic.Env, o.Env)
			if o.Entrypoint == nil {
				cfg.Entrypoint = ic.Entrypoint
			}
			if len(o.Cmd) == 0 && o.Entrypoint == nil {
				cfg.Cmd = ic.Cmd
			}
			if cfg.WorkingDir == "" {
				cfg.WorkingDir = ic.WorkingDir
			}
			if cfg.User == "" {
				cfg.User = ic.User
			}
			cfg.Volumes = ic.Volumes
			cfg.Labels = MergeLabels(ic.Labels, o.Labels)
			// ImageName is the fully qualified name, unless the container was made from an id.
			byID := strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), strings.TrimPrefix(o.Image, "sha256:"))
			if ref, err := libimage.ParseReference(o.Image); err == nil && !byID {
				j.ImageName = ref.String()
			}
		}
		j.GraphDriver.Name, j.GraphDriver.Data = store.LayerData(c.ID)
	}
	args := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if len(args) > 0 {
		j.Path, j.Args = args[0], args[1:]
	}
	j.Config = cfg
	hc := HostConfigJSON{NetworkMode: c.NetworkMode(), PortBindings: PortMap(o.Ports), Dns: o.DNS, DnsSearch: o.DNSSearch,
		DnsOptions: o.DNSOptions, ExtraHosts: o.AddHosts, PublishAllPorts: o.PublishAll, RestartPolicy: o.Restart, AutoRemove: o.Rm, CapAdd: o.CapAdd, CapDrop: o.CapDrop,
		Privileged: o.Privileged, ReadonlyRootfs: o.ReadOnly, Memory: o.Memory, NanoCpus: o.NanoCPUs, CpuShares: o.CPUShares,
		PidsLimit: o.PidsLimit, Devices: o.Devices, Ulimits: o.Ulimits, Init: o.Init, Runtime: o.Runtime}
	if hc.RestartPolicy.Name == "" {
		hc.RestartPolicy.Name = "no"
	}
	if hc.Runtime == "" {
		hc.Runtime = "berth"
	}
	if hc.CgroupnsMode = o.CgroupNS; hc.CgroupnsMode == "" {
		hc.CgroupnsMode = "private"
	}
	hc.LogConfig.Type, hc.LogConfig.Config, hc.LogConfig.Path = o.LogDriver, o.LogOpts, j.LogPath
	if hc.LogConfig.Type == "" {
		hc.LogConfig.Type = "k8s-file"
	}
	hc.LogConfig.Size = "0B"
	if n, err := units.FromHumanSize(o.LogOpts["max-size"]); err == nil {
		hc.LogConfig.Size = units.HumanSize(float64(n))
	}
	if o.NoNewPrivs {
		hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
	}
	if o.Seccomp == "unconfined" {
		hc.SecurityOpt = append(hc.SecurityOpt, "seccomp=unconfined")
	}
	j.Mounts = []MountJSON{}
	for _, m := range o.Mounts {
		mj := MountJSON{Type: m.Type, Source: m.Source, Destination: m.Target, RW: !m.ReadOnly, Propagation: "rprivate"}
		if m.ReadOnly {
			mj.Mode = "ro"
		}
		switch m.Type {
		case "volume":
			mj.Name, mj.Driver = m.Source, "local"
			if v, err := e.Volume(ctx, m.Source); err == nil {
				mj.Source = v.Mountpoint
			}
		case "bind":
			spec := m.Source + ":" + m.Target
			if m.ReadOnly {
				spec += ":ro"
			}
			hc.Binds = append(hc.Binds, spec)
		case "tmpfs":
			if hc.Tmpfs == nil {
				hc.Tmpfs = map[string]string{}
			}
			hc.Tmpfs[m.Target] = strings.Join(m.Options, ",")
			mj.Propagation = ""
		}
		j.Mounts = append(j.Mounts, mj)
	}
	j.HostConfig = hc
	return j, nil
}

// EndpointJSON is one network of a container in inspect's NetworkSettings.Networks.
type EndpointJSON struct {
	NetworkID           string
	EndpointID          string
	Gateway             string
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	MacAddress          string
	Aliases             []string
}

// networkSettings is inspect's NetworkSettings: the first network's address at top level
// (as Docker shows its default bridge), every network under Networks, published ports.
func networkSettings(c *Container) map[string]any {
	ns := map[string]any{"Networks": map[string]EndpointJSON{}, "Ports": map[string][]PortBinding{}, "SandboxKey": "",
		"IPAddress": "", "IPPrefixLen": 0, "Gateway": "", "MacAddress": ""}
	if c.Net == nil || !c.Active() {
		return ns
	}
	ns["SandboxKey"], ns["Ports"] = c.Net.NetNS, PortMap(c.Net.Ports)
	nets := map[string]EndpointJSON{}
	for i, a := range c.Net.Attachments {
		ep := EndpointJSON{NetworkID: a.Network.ID, EndpointID: c.ID[:12] + "-" + a.IfName, MacAddress: a.MAC.String(), Aliases: a.Aliases}
		for _, ip := range a.IPs {
			ones, _ := ip.Mask.Size()
			gw := ""
			for _, s := range a.Network.Subnets {
				if _, sn, err := net.ParseCIDR(s.Subnet); err == nil && sn.Contains(ip.IP) {
					gw = s.Gateway
				}
			}
			if ip.IP.To4() != nil {
				ep.IPAddress, ep.IPPrefixLen, ep.Gateway = ip.IP.String(), ones, gw
			} else {
				ep.GlobalIPv6Address, ep.GlobalIPv6PrefixLen, ep.IPv6Gateway = ip.IP.String(), ones, gw
			}
		}
		if i == 0 {
			ns["IPAddress"], ns["IPPrefixLen"], ns["Gateway"], ns["MacAddress"] = ep.IPAddress, ep.IPPrefixLen, ep.Gateway, ep.MacAddress
		}
		nets[a.Network.Name] = ep
	}
	ns["Networks"] = nets
	return ns
}
