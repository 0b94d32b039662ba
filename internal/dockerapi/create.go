package dockerapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/libnet"
)

// postContainersCreate is POST /containers/create?name=NAME.
func (s *Server) postContainersCreate(w http.ResponseWriter, r *http.Request) {
	var req container.CreateRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.Config == nil {
		fail(w, invalid("config cannot be empty in order to create a container"))
		return
	}
	o, err := s.createOptions(r.URL.Query().Get("name"), &req)
	if err != nil {
		fail(w, err)
		return
	}
	store, err := s.e.Images(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	// The docker CLI pulls on 404 "No such image" and retries the create.
	if _, err := store.Lookup(r.Context(), o.Image); err != nil {
		writeError(w, statusOf(err), "No such image: "+o.Image)
		return
	}
	c, err := s.e.CreateContainer(r.Context(), o)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, container.CreateResponse{ID: c.ID, Warnings: []string{}})
}

// createOptions translates the API's create request into the engine's options, as the
// CLI's flags are.
func (s *Server) createOptions(name string, req *container.CreateRequest) (engine.CreateOptions, error) {
	cfg := req.Config
	hc := req.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	o := engine.CreateOptions{
		Image: cfg.Image, Name: strings.TrimPrefix(name, "/"), Cmd: cfg.Cmd, Env: cfg.Env, Workdir: cfg.WorkingDir,
		User: cfg.User, Hostname: cfg.Hostname, Rm: hc.AutoRemove, ReadOnly: hc.ReadonlyRootfs,
		Interactive: cfg.OpenStdin, TTY: cfg.Tty, Privileged: hc.Privileged, Memory: hc.Memory,
		CPUShares: uint64(max(hc.CPUShares, 0)), NanoCPUs: hc.NanoCPUs, Labels: cfg.Labels,
		CapAdd: hc.CapAdd, CapDrop: hc.CapDrop, StopSignal: cfg.StopSignal, StopTimeout: cfg.StopTimeout,
		LogDriver: hc.LogConfig.Type, LogOpts: hc.LogConfig.Config, Runtime: hc.Runtime,
		CgroupNS: string(hc.CgroupnsMode), DNSSearch: hc.DNSSearch, DNSOptions: hc.DNSOptions,
		PublishAll: hc.PublishAllPorts,
	}
	if o.Image == "" {
		return o, invalid("no image given")
	}
	if o.Labels == nil {
		o.Labels = map[string]string{}
	}
	if cfg.Entrypoint != nil {
		ep := []string(cfg.Entrypoint)
		o.Entrypoint = &ep
	}
	if hc.Init != nil {
		o.Init = *hc.Init
	}
	if hc.PidsLimit != nil {
		o.PidsLimit = *hc.PidsLimit
	}
	if hc.LogConfig.Type == "json-file" || hc.LogConfig.Type == "default" {
		o.LogDriver = ""
	}
	for _, d := range hc.DNS {
		o.DNS = append(o.DNS, d.String())
	}
	if hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		o.Restart = engine.RestartPolicy{Name: string(hc.RestartPolicy.Name), MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount}
	}
	if h := cfg.Healthcheck; h != nil && len(h.Test) > 0 {
		o.Health = &engine.Healthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	applySecurityOpts(&o, hc.SecurityOpt)
	for _, u := range hc.Ulimits {
		o.Ulimits = append(o.Ulimits, engine.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, d := range hc.Devices {
		spec := d.PathOnHost
		if d.PathInContainer != "" {
			spec += ":" + d.PathInContainer
			if d.CgroupPermissions != "" {
				spec += ":" + d.CgroupPermissions
			}
		}
		dev, err := engine.ParseDevice(spec)
		if err != nil {
			return o, err
		}
		o.Devices = append(o.Devices, dev)
	}
	for _, h := range hc.ExtraHosts {
		v, err := engine.ParseAddHost(h)
		if err != nil {
			return o, err
		}
		o.AddHosts = append(o.AddHosts, v)
	}
	if err := addMounts(&o, cfg, hc); err != nil {
		return o, err
	}
	if err := s.addNetworks(&o, req); err != nil {
		return o, err
	}
	return o, nil
}

// applySecurityOpts keeps what the CLI's --security-opt keeps: seccomp and no-new-privileges.
func applySecurityOpts(o *engine.CreateOptions, opts []string) {
	for _, so := range opts {
		k, v, _ := strings.Cut(so, "=")
		if k == "seccomp" {
			o.Seccomp = v
		}
		if k == "no-new-privileges" && (v == "" || v == "true") {
			o.NoNewPrivs = true
		}
	}
}

func addMounts(o *engine.CreateOptions, cfg *container.Config, hc *container.HostConfig) error {
	for _, b := range hc.Binds {
		m, err := engine.ParseVolume(b)
		if err != nil {
			return err
		}
		o.Mounts = append(o.Mounts, m)
	}
	for _, m := range hc.Mounts {
		em := engine.Mount{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case mount.TypeBind, mount.TypeVolume:
		case mount.TypeTmpfs:
			if t := m.TmpfsOptions; t != nil {
				if t.SizeBytes > 0 {
					em.Options = append(em.Options, "size="+strconv.FormatInt(t.SizeBytes, 10))
				}
				if t.Mode != 0 {
					em.Options = append(em.Options, fmt.Sprintf("mode=%o", t.Mode.Perm()))
				}
			}
		default:
			return invalid("invalid mount type %q: want bind, volume or tmpfs", m.Type)
		}
		if m.Target == "" {
			return invalid("invalid mount config: a mount needs a target")
		}
		o.Mounts = append(o.Mounts, em)
	}
	for dst, opts := range hc.Tmpfs {
		spec := dst
		if opts != "" {
			spec += ":" + opts
		}
		m, err := engine.ParseTmpfs(spec)
		if err != nil {
			return err
		}
		o.Mounts = append(o.Mounts, m)
	}
	for dst := range cfg.Volumes { // anonymous volumes (-v /dst)
		if !hasTarget(o.Mounts, dst) {
			o.Mounts = append(o.Mounts, engine.Mount{Type: "volume", Target: dst})
		}
	}
	return nil
}

func hasTarget(ms []engine.Mount, dst string) bool {
	for _, m := range ms {
		if m.Target == dst {
			return true
		}
	}
	return false
}

// addNetworks reads the network mode, the endpoints of NetworkingConfig (aliases, IPs) and
// the port bindings.
func (s *Server) addNetworks(o *engine.CreateOptions, req *container.CreateRequest) error {
	hc := req.HostConfig
	def := s.e.Config.Network.DefaultNetwork
	mode := string(hc.NetworkMode)
	var values []string
	if mode != "" && mode != "default" && !(mode == "bridge" && def != "bridge") {
		values = []string{mode}
	}
	var endpoints map[string]*networkEndpoint
	if req.NetworkingConfig != nil {
		endpoints = map[string]*networkEndpoint{}
		for name, ep := range req.NetworkingConfig.EndpointsConfig {
			if ep == nil {
				continue
			}
			ne := &networkEndpoint{Aliases: ep.Aliases}
			if ep.IPAMConfig != nil && ep.IPAMConfig.IPv4Address.IsValid() {
				ne.IP = ep.IPAMConfig.IPv4Address.String()
			}
			if len(ep.MacAddress) > 0 {
				ne.MAC = ep.MacAddress.String()
			}
			endpoints[name] = ne
			if !contains(values, name) && name != mode && !(name == "bridge" && len(values) == 0) {
				values = append(values, name)
			}
		}
	}
	m, nets, err := engine.ParseNetworkMode(values, def)
	if err != nil {
		return err
	}
	o.Network = m
	for _, n := range nets {
		nr := engine.NetworkRequest{Name: n}
		if ep := endpoints[n]; ep != nil {
			nr.IP, nr.MAC, nr.Aliases = ep.IP, ep.MAC, ep.Aliases
		}
		o.Networks = append(o.Networks, nr)
	}
	for port, bindings := range hc.PortBindings {
		if len(bindings) == 0 {
			bindings = []network.PortBinding{{}}
		}
		for _, b := range bindings {
			pm := libnet.PortMapping{ContainerPort: port.Num(), Protocol: string(port.Proto())}
			if b.HostIP.IsValid() && !b.HostIP.IsUnspecified() {
				pm.HostIP = b.HostIP.String()
			}
			if b.HostPort != "" {
				hp, _, _ := strings.Cut(b.HostPort, "-")
				n, err := strconv.ParseUint(hp, 10, 16)
				if err != nil {
					return invalid("invalid host port %q", b.HostPort)
				}
				pm.HostPort = uint16(n)
			}
			o.Ports = append(o.Ports, pm)
		}
	}
	return nil
}

type networkEndpoint struct {
	IP, MAC string
	Aliases []string
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
