package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/config"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/libnet"
)

// Network is the engine's record of one network: what libnet needs, and when it was made.
type Network struct {
	libnet.Network
	Created time.Time `json:"created"`
}

// NetworkCreateOptions are `network create`'s flags.
type NetworkCreateOptions struct {
	Driver   string   // bridge (default) or macvlan
	Subnets  []string // --subnet, one per address family
	Gateways []string // --gateway, matched to Subnets by position
	IPRanges []string // --ip-range, matched to Subnets by position
	Internal bool
	IPv6     bool
	Options  map[string]string // -o parent=IFACE for macvlan
	Labels   map[string]string
}

// Pools user networks get their subnets from when none is given.
const (
	networkPool4 = "10.124.0.0/14"
	networkPool6 = "fd7b:b3e4:9a1c::/48"
)

// The network modes a container can have besides its list of networks.
const (
	NetworkNone = "none"
	NetworkHost = "host"
)

// NetworkRequest is one network a container asks to join (--network NAME) with what it
// wants there.
type NetworkRequest struct {
	Name    string
	IP      string   `json:",omitempty"` // --ip, else allocated
	MAC     string   `json:",omitempty"` // --mac-address, else derived from the address
	Aliases []string `json:",omitempty"` // --network-alias
}

// NetworkState is what a container holds while its network is set up: recorded before the
// first kernel object is made (intent first), cleared once everything is released.
type NetworkState struct {
	NetNS       string               `json:",omitempty"` // $runroot/netns/<id>
	UserNet     string               `json:",omitempty"` // pasta[:OPTIONS] or slirp4netns[:OPTIONS]: its helper runs
	Attachments []libnet.Attachment  `json:",omitempty"`
	Ports       []libnet.PortMapping `json:",omitempty"` // host ports resolved
}

// NetworkMode is what `inspect` shows as HostConfig.NetworkMode and `ps` as NETWORKS.
func (c *Container) NetworkMode() string {
	switch {
	case c.Options.Network != "":
		return c.Options.Network
	case len(c.Options.Networks) > 0:
		return c.Options.Networks[0].Name
	}
	return NetworkNone
}

// NetworkNames lists the networks a container is (or will be, at its next start) connected to.
func (c *Container) NetworkNames() []string {
	var out []string
	for _, r := range c.Options.Networks {
		out = append(out, r.Name)
	}
	return out
}

// ParseNetworkMode splits --network values into a mode (none, host, container:REF,
// pasta[:OPTIONS], slirp4netns[:OPTIONS]) or a list
// of networks; mixing a mode with anything else is invalid. "bridge" (Docker's name) and
// "podman" (Podman's) name the default network.
func ParseNetworkMode(values []string, defaultNetwork string) (mode string, nets []string, err error) {
	for _, v := range values {
		switch {
		case v == "":
			return "", nil, errdefs.Newf(errdefs.ErrInvalid, "invalid --network: empty name")
		case v == NetworkNone || v == NetworkHost || strings.HasPrefix(v, "container:") || libnet.IsUserNet(v):
			if libnet.IsUserNet(v) {
				if _, err := libnet.ParseUserNet(v); err != nil {
					return "", nil, err
				}
			}
			if v == "container:" {
				return "", nil, errdefs.Newf(errdefs.ErrInvalid, "invalid --network %q: no container named", v)
			}
			if len(values) > 1 {
				return "", nil, errdefs.Newf(errdefs.ErrInvalid, "invalid --network %q: cannot be combined with other networks", v)
			}
			return v, nil, nil
		case isDefaultAlias(v):
			nets = append(nets, defaultNetwork)
		default:
			nets = append(nets, v)
		}
	}
	seen := map[string]bool{}
	for _, n := range nets {
		if seen[n] {
			return "", nil, errdefs.Newf(errdefs.ErrInvalid, "invalid --network %q: given twice", n)
		}
		seen[n] = true
	}
	return "", nets, nil
}

// isDefaultAlias says name is one of the default network's other names: bridge (Docker's),
// default, podman (Podman's).
func isDefaultAlias(name string) bool {
	return name == "bridge" || name == "default" || name == "podman"
}

func (e *Engine) networkDir(name string) string {
	return filepath.Join(e.Config.RunRoot, "networks", name)
}

func (e *Engine) defaultNetworkName() string {
	if n := e.Config.Network.DefaultNetwork; n != "" {
		return n
	}
	return "berth"
}

// CreateNetwork records a new network. Its kernel objects (bridge, rules) are made when the
// first container joins it and removed when the last one leaves.
func (e *Engine) CreateNetwork(ctx context.Context, name string, o NetworkCreateOptions) (*Network, error) {
	if name == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "network name is required")
	}
	if !validName(name) || len(name) > 64 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	switch name {
	case NetworkNone, NetworkHost, "bridge", "default", "podman", e.defaultNetworkName():
		return nil, errdefs.Newf(errdefs.ErrInvalid, "network name %s is reserved", name)
	}
	n, err := e.createNetwork(ctx, name, o, true)
	if err != nil {
		return nil, err
	}
	e.networkEvent("create", n.Network, "") // not for the default network, made on first use
	return n, nil
}

func (e *Engine) createNetwork(ctx context.Context, name string, o NetworkCreateOptions, dns bool) (*Network, error) {
	if e.Config.Rootless {
		return nil, errdefs.Newf(errdefs.ErrNotSupported, "network %s: bridge and macvlan networks need root (rootless containers use their own network namespace)", name)
	}
	n := &Network{Network: libnet.Network{Name: name, ID: randomID(), Driver: o.Driver, Internal: o.Internal, IPv6: o.IPv6,
		DNS: dns, Options: o.Options, Labels: o.Labels}, Created: time.Now().UTC()}
	if n.Driver == "" {
		n.Driver = "bridge"
	}
	if n.Options == nil {
		n.Options = map[string]string{}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	switch n.Driver {
	case "bridge":
		for k := range n.Options {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid option %q for driver bridge", k)
		}
	case "macvlan":
		parent := n.Options["parent"]
		for k := range n.Options {
			if k != "parent" && k != "mode" {
				return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid option %q for driver macvlan: want parent=IFACE", k)
			}
		}
		if parent == "" {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "driver macvlan needs -o parent=INTERFACE")
		}
		if _, err := net.InterfaceByName(parent); err != nil {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "macvlan parent %q: no such interface", parent)
		}
		n.Interface = parent
	default:
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid network driver %q: want bridge or macvlan", n.Driver)
	}
	if len(o.Gateways) > len(o.Subnets) || len(o.IPRanges) > len(o.Subnets) {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "every --gateway and --ip-range needs a --subnet")
	}
	var given []*net.IPNet
	for i, s := range o.Subnets {
		sub := libnet.Subnet{Subnet: s}
		if i < len(o.Gateways) {
			sub.Gateway = o.Gateways[i]
		}
		if i < len(o.IPRanges) {
			sub.IPRange = o.IPRanges[i]
		}
		if err := libnet.ValidateSubnet(sub); err != nil {
			return nil, err
		}
		p, _ := libnet.ParseSubnet(s)
		for _, g := range given {
			if libnet.Overlaps(g, p) {
				return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid subnet %s: overlaps %s", s, g)
			}
		}
		sub.Subnet = p.String()
		if libnet.IsIPv6(p) {
			n.IPv6 = true
		}
		given = append(given, p)
		n.Subnets = append(n.Subnets, sub)
	}
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	routes := hostRoutes()
	err = db.Networks().Create(ctx, name, n.ID, n.Created.UnixNano(), func(existing [][]byte) (any, error) {
		var others []*Network
		for _, b := range existing {
			var x Network
			if err := json.Unmarshal(b, &x); err != nil {
				return nil, err
			}
			if x.Name == name { // before the overlap check: a concurrent create of the same name
				return nil, errdefs.Newf(errdefs.ErrExists, "network with name %s already exists", name)
			}
			others = append(others, &x)
		}
		return n, e.completeNetwork(n, others, routes)
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// completeNetwork picks what the user left out: a bridge name no other network has, and free
// subnets from the pools. It runs inside the transaction that stores n.
func (e *Engine) completeNetwork(n *Network, others []*Network, routes []*net.IPNet) error {
	var taken []*net.IPNet
	usedIdx := map[int]bool{}
	for _, x := range others {
		for _, s := range x.Subnets {
			if p, err := libnet.ParseSubnet(s.Subnet); err == nil {
				taken = append(taken, p)
			}
		}
		if x.Driver == "bridge" {
			if i, err := strconv.Atoi(strings.TrimPrefix(x.Interface, "berth")); err == nil {
				usedIdx[i] = true
			}
		}
	}
	if n.Name != e.defaultNetworkName() { // the default network's subnet stays free for it
		if p, err := libnet.ParseSubnet(e.Config.Network.DefaultSubnet); err == nil {
			taken = append(taken, p)
		}
	}
	for _, s := range n.Subnets {
		p, _ := libnet.ParseSubnet(s.Subnet)
		for _, t := range taken {
			if libnet.Overlaps(t, p) {
				return errdefs.Newf(errdefs.ErrInvalid, "invalid subnet %s: overlaps subnet %s of another network", s.Subnet, t)
			}
		}
	}
	has4, has6 := false, false
	for _, s := range n.Subnets {
		p, _ := libnet.ParseSubnet(s.Subnet)
		has4, has6 = has4 || !libnet.IsIPv6(p), has6 || libnet.IsIPv6(p)
	}
	auto := func(pool string) error {
		p, err := libnet.NextFreeSubnet(append(append([]*net.IPNet{}, taken...), routes...), pool)
		if err != nil {
			return err
		}
		n.Subnets = append(n.Subnets, libnet.Subnet{Subnet: p.String(), Gateway: libnet.DefaultGateway(p).String()})
		return nil
	}
	if !has4 && !(has6 && n.Driver == "macvlan") {
		if err := auto(networkPool4); err != nil {
			return err
		}
	}
	if n.IPv6 && !has6 {
		if err := auto(networkPool6); err != nil {
			return err
		}
	}
	for i, s := range n.Subnets {
		if s.Gateway == "" {
			gw, _, err := libnet.GatewayIP(s)
			if err != nil {
				return err
			}
			n.Subnets[i].Gateway = gw.String()
		}
	}
	if n.Driver == "bridge" {
		// The default network's bridge is berth0, as docker0 is Docker's. A user network's
		// bridge is named after its random id, so that networks of different roots (tests,
		// several --root) never share, and strip the addresses of, one bridge.
		n.Interface = "berth" + n.ID[:10]
		if n.Name == e.defaultNetworkName() {
			idx := 0
			for usedIdx[idx] {
				idx++
			}
			n.Interface = libnet.BridgeName(idx)
		}
	}
	return nil
}

// defaultNetwork returns the default network, creating its record on first use.
func (e *Engine) defaultNetwork(ctx context.Context) (*Network, error) {
	name := e.defaultNetworkName()
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var n *Network
	if _, err := db.Networks().Get(ctx, name, &n); err == nil || !errors.Is(err, errdefs.ErrNotFound) {
		return n, err
	}
	n, err = e.createNetwork(ctx, name, NetworkCreateOptions{Subnets: []string{e.Config.Network.DefaultSubnet}}, false)
	if errors.Is(err, errdefs.ErrExists) { // another berth made it meanwhile
		_, err = db.Networks().Get(ctx, name, &n)
		return n, err
	}
	if err != nil {
		return nil, fmt.Errorf("default network %s: %w", name, err)
	}
	return n, nil
}

// Network loads a network by name, id or id prefix. The default network exists from its
// first mention.
func (e *Engine) Network(ctx context.Context, ref string) (*Network, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var n Network
	if _, err := db.Networks().Get(ctx, ref, &n); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) && (ref == e.defaultNetworkName() || isDefaultAlias(ref)) && !e.Config.Rootless {
			return e.defaultNetwork(ctx)
		}
		return nil, err
	}
	if n.Name == e.defaultNetworkName() {
		return e.widenLegacyDefault(ctx, &n)
	}
	return &n, nil
}

// widenLegacyDefault turns a default network made with the earlier /24 default
// (config.LegacyDefaultSubnet) into the /16 holding it (config.DefaultSubnet), so that an
// existing root gets room for more than 253 containers: its gateway and every address held
// stay valid. It leaves the network alone where the /16 is not the configured default or
// overlaps another network of this root.
func (e *Engine) widenLegacyDefault(ctx context.Context, n *Network) (*Network, error) {
	if e.Config.Network.DefaultSubnet != config.DefaultSubnet || len(n.Subnets) != 1 ||
		n.Subnets[0].Subnet != config.LegacyDefaultSubnet || n.Subnets[0].IPRange != "" {
		return n, nil
	}
	wide, err := libnet.ParseSubnet(config.DefaultSubnet)
	if err != nil {
		return n, nil
	}
	others, err := e.Networks(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		for _, s := range o.Subnets {
			if p, err := libnet.ParseSubnet(s.Subnet); err == nil && o.Name != n.Name && libnet.Overlaps(p, wide) {
				return n, nil
			}
		}
	}
	n.Subnets[0].Subnet = config.DefaultSubnet
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	if err := db.Networks().Put(ctx, n.Name, n); err != nil {
		return nil, err
	}
	logrus.WithField("network", n.Name).Infof("default network widened from %s to %s", config.LegacyDefaultSubnet, config.DefaultSubnet)
	return n, nil
}

// Networks lists every network, the default one included (as root).
func (e *Engine) Networks(ctx context.Context) ([]*Network, error) {
	if !e.Config.Rootless {
		if _, err := e.defaultNetwork(ctx); err != nil {
			return nil, err
		}
	}
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Network
	return out, db.Networks().List(ctx, func(b []byte) error {
		var n Network
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("decode network record: %w", err)
		}
		out = append(out, &n)
		return nil
	})
}

// containerRecords lists every container record as stored, without reconciling: for the
// network code, which only needs what each container holds.
func (e *Engine) containerRecords(ctx context.Context) ([]*Container, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Container
	return out, db.Containers().List(ctx, func(data []byte) error {
		var c Container
		if err := json.Unmarshal(data, &c); err != nil {
			return fmt.Errorf("decode container record: %w", err)
		}
		out = append(out, &c)
		return nil
	})
}

// NetworkUsers lists the containers (in any state) configured to join network name.
func (e *Engine) NetworkUsers(ctx context.Context, name string) ([]*Container, error) {
	cs, err := e.containerRecords(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, c := range cs {
		for _, n := range c.NetworkNames() {
			if n == name {
				out = append(out, c)
				break
			}
		}
	}
	return out, nil
}

// NetworkJSON is `network inspect`'s Docker-shaped view of a network.
type NetworkJSON struct {
	Name       string
	ID         string `json:"Id"`
	Created    string
	Scope      string
	Driver     string
	EnableIPv6 bool
	IPAM       struct {
		Driver  string
		Options map[string]string
		Config  []IPAMConfigJSON
	}
	Internal   bool
	Attachable bool
	Ingress    bool
	Containers map[string]NetworkEndpointJSON
	Options    map[string]string
	Labels     map[string]string
}

// IPAMConfigJSON is one subnet in `network inspect`.
type IPAMConfigJSON struct {
	Subnet  string
	Gateway string `json:",omitempty"`
	IPRange string `json:",omitempty"`
}

// NetworkEndpointJSON is one container in `network inspect`.
type NetworkEndpointJSON struct {
	Name        string
	EndpointID  string
	MacAddress  string
	IPv4Address string
	IPv6Address string
}

// InspectNetwork returns the Docker-shaped view of a network and the containers attached now.
func (e *Engine) InspectNetwork(ctx context.Context, ref string) (*NetworkJSON, error) {
	n, err := e.Network(ctx, ref)
	if err != nil {
		return nil, err
	}
	j := &NetworkJSON{Name: n.Name, ID: n.ID, Created: n.Created.Format(time.RFC3339Nano), Scope: "local", Driver: n.Driver,
		EnableIPv6: n.IPv6, Internal: n.Internal, Containers: map[string]NetworkEndpointJSON{}, Options: n.Options, Labels: n.Labels}
	if j.Options == nil {
		j.Options = map[string]string{}
	}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	j.IPAM.Driver, j.IPAM.Options = "default", map[string]string{}
	for _, s := range n.Subnets {
		j.IPAM.Config = append(j.IPAM.Config, IPAMConfigJSON{Subnet: s.Subnet, Gateway: s.Gateway, IPRange: s.IPRange})
	}
	cs, err := e.containerRecords(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.Net == nil || !c.Active() {
			continue
		}
		for _, a := range c.Net.Attachments {
			if a.Network.Name != n.Name {
				continue
			}
			ep := NetworkEndpointJSON{Name: c.Name, EndpointID: c.ID[:12] + "-" + a.IfName, MacAddress: a.MAC.String()}
			for _, ip := range a.IPs {
				if ip.IP.To4() != nil {
					ep.IPv4Address = ip.String()
				} else {
					ep.IPv6Address = ip.String()
				}
			}
			j.Containers[c.ID] = ep
		}
	}
	return j, nil
}

// RemoveNetwork removes a network. One that containers are configured to use is refused
// unless force, which removes those containers first, as Docker does.
func (e *Engine) RemoveNetwork(ctx context.Context, ref string, force bool) error {
	n, err := e.Network(ctx, ref)
	if err != nil {
		return err
	}
	if n.Name == e.defaultNetworkName() {
		return errdefs.Newf(errdefs.ErrInvalid, "network %s is the default network and cannot be removed", n.Name)
	}
	users, err := e.NetworkUsers(ctx, n.Name)
	if err != nil {
		return err
	}
	if len(users) > 0 && !force {
		var names []string
		for _, c := range users {
			names = append(names, c.Name)
		}
		sort.Strings(names)
		return errdefs.Newf(errdefs.ErrInUse, "network %s is in use by container(s): %s", n.Name, strings.Join(names, ", "))
	}
	for _, c := range users {
		if err := e.RemoveContainer(ctx, c.ID, RemoveOptions{Force: true}); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("remove network %s: %w", n.Name, err)
		}
	}
	return e.removeNetwork(ctx, n)
}

// PruneNetworks removes every user network no container is configured to use, and then the
// kernel leftovers (veths, bridges, rules, netns) nothing in the database accounts for.
// Only networks f matches are removed.
func (e *Engine) PruneNetworks(ctx context.Context, f PruneFilter) ([]string, error) {
	e.sweepNetworks(ctx)
	ns, err := e.Networks(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := e.containerRecords(ctx)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, c := range cs {
		for _, n := range c.NetworkNames() {
			used[n] = true
		}
	}
	var out []string
	for _, n := range ns {
		if used[n.Name] || n.Name == e.defaultNetworkName() || !f.Match(n.Labels, n.Created) {
			continue
		}
		if err := e.removeNetwork(ctx, n); err != nil {
			return out, err
		}
		out = append(out, n.Name)
	}
	if err := e.pruneNetworkLeftovers(ctx); err != nil {
		return out, err
	}
	e.pruneEvent(events.Network, 0)
	return out, nil
}

// FormatPorts renders published ports as `ps` does: 0.0.0.0:8080->80/tcp, ranges joined.
func FormatPorts(ports []libnet.PortMapping) string {
	var out []string
	for _, p := range ports {
		out = append(out, formatPort(p))
	}
	return strings.Join(out, ", ")
}

func formatPort(p libnet.PortMapping) string {
	host := p.HostIP
	if host == "" {
		host = "0.0.0.0"
	}
	hp, cp := strconv.Itoa(int(p.HostPort)), strconv.Itoa(int(p.ContainerPort))
	if p.Range > 1 {
		hp += "-" + strconv.Itoa(int(p.HostPort+p.Range-1))
		cp += "-" + strconv.Itoa(int(p.ContainerPort+p.Range-1))
	}
	return net.JoinHostPort(host, hp) + "->" + cp + "/" + p.Protocol
}

// PortBinding is one host side of a published container port.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// PortMap maps "80/tcp" to its host bindings, as inspect's NetworkSettings.Ports and `port` show.
func PortMap(ports []libnet.PortMapping) map[string][]PortBinding {
	out := map[string][]PortBinding{}
	for _, p := range ports {
		for i := uint16(0); i < max(p.Range, 1); i++ {
			k := strconv.Itoa(int(p.ContainerPort+i)) + "/" + p.Protocol
			host := p.HostIP
			if host == "" {
				host = "0.0.0.0"
			}
			out[k] = append(out[k], PortBinding{HostIP: host, HostPort: strconv.Itoa(int(p.HostPort + i))})
		}
	}
	return out
}

// ParsePorts checks -p/--publish values (see [libnet.ParsePorts]).
func ParsePorts(specs []string) ([]libnet.PortMapping, error) { return libnet.ParsePorts(specs) }
