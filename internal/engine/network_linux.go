package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/internal/state"
	"github.com/berth-project/berth/libnet"
	"github.com/berth-project/berth/libnet/dns"
)

func (e *Engine) netnsPath(id string) string { return filepath.Join(e.Config.RunRoot, "netns", id) }

// lockNetworks takes the locks of the named networks in name order (so two berths never
// wait on each other), serializing bridge creation and removal with joins and leaves.
func (e *Engine) lockNetworks(ctx context.Context, names []string) (func(), error) {
	names = dedupe(append([]string{}, names...))
	sort.Strings(names)
	var held []*lock.Lock
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i].Release()
		}
	}
	for _, n := range names {
		l, err := e.Lock(ctx, "network", n)
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, l)
	}
	return release, nil
}

// tryLockContainer takes the container's lock only if no one holds it.
func (e *Engine) tryLockContainer(id string) (*lock.Lock, bool) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // one attempt, no waiting
	l, err := e.Lock(ctx, "container", id)
	return l, err == nil
}

// resolveNetworkOptions checks a container's network intent at create time: the networks
// exist, --ip lies in the first one, container:REF names a container (stored by id), and
// rootless containers stay off bridges.
func (e *Engine) resolveNetworkOptions(ctx context.Context, o *CreateOptions) error {
	switch {
	case o.Network == "" && len(o.Networks) == 0:
		if e.Config.Rootless {
			o.Network = NetworkNone // rootless: its own network namespace with lo only
		} else {
			o.Networks = []NetworkRequest{{Name: e.defaultNetworkName()}}
		}
	case strings.HasPrefix(o.Network, "container:"):
		ref := strings.TrimPrefix(o.Network, "container:")
		other, err := e.Container(ctx, ref)
		if err != nil {
			return err
		}
		o.Network = "container:" + other.ID
	}
	if o.Network != "" {
		if len(o.Ports) > 0 || o.PublishAll {
			if o.Network != NetworkNone && o.Network != NetworkHost {
				return errdefs.Newf(errdefs.ErrInvalid, "conflicting options: port publishing and the container type network mode")
			}
			o.Ports, o.PublishAll = nil, false // Docker ignores -p with host and none
		}
		return nil
	}
	if e.Config.Rootless {
		return errdefs.Newf(errdefs.ErrNotSupported, "network %s: rootless containers cannot join bridge networks (use --network none or host)", o.Networks[0].Name)
	}
	for i, r := range o.Networks {
		n, err := e.Network(ctx, r.Name)
		if err != nil {
			return err
		}
		o.Networks[i].Name = n.Name
		if len(r.Aliases) > 0 && !n.DNS {
			return errdefs.Newf(errdefs.ErrInvalid, "network-scoped aliases are supported only on user-defined networks, not on %s", n.Name)
		}
		if r.IP != "" {
			ip := net.ParseIP(r.IP)
			if ip == nil {
				return errdefs.Newf(errdefs.ErrInvalid, "invalid --ip %q: not an IP address", r.IP)
			}
			ok := false
			var err error
			for _, s := range n.Subnets {
				if libnet.Contains(s, ip) {
					ok, err = true, libnet.ValidateIP(s, ip)
				}
			}
			if !ok {
				var subs []string
				for _, s := range n.Subnets {
					subs = append(subs, s.Subnet)
				}
				return errdefs.Newf(errdefs.ErrInvalid, "invalid --ip %s: outside the subnet %s of network %s", r.IP, strings.Join(subs, ", "), n.Name)
			}
			if err != nil {
				return err
			}
		}
		if r.MAC != "" {
			if _, err := net.ParseMAC(r.MAC); err != nil {
				return errdefs.Newf(errdefs.ErrInvalid, "invalid --mac-address %q", r.MAC)
			}
		}
	}
	return nil
}

// exposedPorts turns an image's EXPOSE list into -P's mappings to random host ports.
func exposedPorts(exposed map[string]struct{}) []libnet.PortMapping {
	var out []libnet.PortMapping
	for k := range exposed {
		port, proto, _ := strings.Cut(k, "/")
		if proto == "" {
			proto = "tcp"
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 || (proto != "tcp" && proto != "udp") {
			continue
		}
		out = append(out, libnet.PortMapping{ContainerPort: uint16(n), Protocol: proto})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ContainerPort != out[j].ContainerPort {
			return out[i].ContainerPort < out[j].ContainerPort
		}
		return out[i].Protocol < out[j].Protocol
	})
	return out
}

// setupNetwork gives a starting container its network: for bridge and macvlan networks a
// netns under the runroot, an address on each network, the networks' bridges and rules,
// its interfaces and published ports. What it holds is recorded in c.Net before the first
// kernel object is made, so a berth killed halfway is cleaned by the next command.
func (e *Engine) setupNetwork(ctx context.Context, c *Container) (retErr error) {
	o := c.Options
	if o.Network != "" || len(o.Networks) == 0 {
		return nil
	}
	if e.Config.Rootless {
		return errdefs.Newf(errdefs.ErrNotSupported, "network %s: rootless containers cannot join bridge networks", o.Networks[0].Name)
	}
	start := time.Now()
	e.sweepNetworks(ctx)
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	c.Net = &NetworkState{NetNS: e.netnsPath(c.ID)}
	defer func() {
		if retErr != nil {
			if err := e.teardownNetwork(context.Background(), c); err != nil {
				logrus.WithField("container", c.ID).Warnf("undo network setup: %v", err)
			}
		}
	}()
	var names []string
	for i, r := range o.Networks {
		n, err := e.Network(ctx, r.Name)
		if err != nil {
			return err
		}
		a, err := e.allocate(ctx, db.Networks(), c, n, r, "eth"+strconv.Itoa(i))
		if err != nil {
			return err
		}
		c.Net.Attachments = append(c.Net.Attachments, a)
		names = append(names, n.Name)
	}
	if err := e.saveContainer(ctx, c); err != nil { // intent first
		return err
	}
	if err := e.resolvePorts(ctx, c); err != nil {
		return err
	}
	logrus.WithField("container", c.ID).Debugf("network: addresses and ports decided in %s", time.Since(start))
	if err := libnet.NewNetNS(c.Net.NetNS); err != nil {
		return fmt.Errorf("network of %s: %w", c.Name, err)
	}
	logrus.WithField("container", c.ID).Debugf("network: netns made at %s", time.Since(start))
	release, err := e.lockNetworks(ctx, names)
	if err != nil {
		return err
	}
	defer release()
	for _, a := range c.Net.Attachments {
		if err := libnet.EnsureNetwork(ctx, a.Network); err != nil {
			return fmt.Errorf("network %s: %w", a.Network.Name, err)
		}
	}
	logrus.WithField("container", c.ID).Debugf("network: networks ready at %s", time.Since(start))
	if err := libnet.Setup(ctx, c.Net.NetNS, libnet.SetupOptions{ContainerID: c.ID, Attachments: c.Net.Attachments, Ports: c.Net.Ports}); err != nil {
		return fmt.Errorf("network of %s: %w", c.Name, err)
	}
	for _, a := range c.Net.Attachments {
		if err := e.refreshNetwork(ctx, a.Network, false); err != nil {
			return err
		}
	}
	logrus.WithField("container", c.ID).Debugf("network: set up in %s", time.Since(start))
	return nil
}

// allocate reserves c's address(es) on n (the one asked for, or the lowest free one).
func (e *Engine) allocate(ctx context.Context, t state.NetworkTable, c *Container, n *Network, r NetworkRequest, ifName string) (libnet.Attachment, error) {
	a := libnet.Attachment{Network: n.Network, IfName: ifName, Aliases: r.Aliases}
	want := net.ParseIP(r.IP)
	for _, s := range n.Subnets {
		_, sn, err := net.ParseCIDR(s.Subnet)
		if err != nil {
			return a, errdefs.Newf(errdefs.ErrInvalid, "network %s: invalid subnet %q", n.Name, s.Subnet)
		}
		got, err := t.Allocate(ctx, n.Name, c.ID, func(used map[string]bool) (string, error) {
			if want != nil && sn.Contains(want) {
				if used[want.String()] {
					return "", errdefs.Newf(errdefs.ErrInUse, "address %s is already in use on network %s", want, n.Name)
				}
				return want.String(), nil
			}
			ip, err := libnet.AllocateIP(s, func(ip net.IP) bool { return used[ip.String()] })
			if err != nil {
				return "", fmt.Errorf("network %s: %w", n.Name, err)
			}
			return ip.String(), nil
		})
		if err != nil {
			return a, err
		}
		ip := net.ParseIP(got)
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		a.IPs = append(a.IPs, net.IPNet{IP: ip, Mask: sn.Mask})
	}
	switch {
	case r.MAC != "":
		a.MAC, _ = net.ParseMAC(r.MAC)
	case len(a.IPs) > 0:
		a.MAC = libnet.GenerateMAC(a.IPs[0].IP)
	}
	return a, nil
}

// resolvePorts picks free host ports for the mappings that leave them open and checks the
// others are free, both on the host and among berth's own published ports (DNAT rules hold
// no socket), under one lock so two starts never take the same port.
func (e *Engine) resolvePorts(ctx context.Context, c *Container) error {
	if len(c.Options.Ports) == 0 {
		return nil
	}
	l, err := e.Lock(ctx, "network", "_ports")
	if err != nil {
		return err
	}
	defer l.Release()
	cs, err := e.containerRecords(ctx)
	if err != nil {
		return err
	}
	type key struct {
		proto string
		port  uint16
	}
	taken := map[key]string{}
	for _, o := range cs {
		if o.ID == c.ID || o.Net == nil {
			continue
		}
		for _, p := range o.Net.Ports {
			for i := uint16(0); i < max(p.Range, 1); i++ {
				taken[key{p.Protocol, p.HostPort + i}] = o.Name
			}
		}
	}
	var out []libnet.PortMapping
	for _, p := range c.Options.Ports {
		if p.HostPort != 0 {
			for i := uint16(0); i < max(p.Range, 1); i++ {
				if by, ok := taken[key{p.Protocol, p.HostPort + i}]; ok {
					return errdefs.Newf(errdefs.ErrInUse, "host port %d/%s is already published by container %s", p.HostPort+i, p.Protocol, by)
				}
				if err := libnet.CheckPortFree(p.Protocol, p.HostIP, p.HostPort+i); err != nil {
					return err
				}
				taken[key{p.Protocol, p.HostPort + i}] = c.Name
			}
			out = append(out, p)
			continue
		}
		for try := 0; ; try++ {
			port, err := libnet.FreePort(p.Protocol, p.HostIP)
			if err != nil {
				return err
			}
			if _, ok := taken[key{p.Protocol, port}]; !ok {
				p.HostPort = port
				taken[key{p.Protocol, port}] = c.Name
				break
			}
			if try > 100 {
				return errdefs.Newf(errdefs.ErrInUse, "no free host port for %d/%s", p.ContainerPort, p.Protocol)
			}
		}
		out = append(out, p)
	}
	c.Net.Ports = out
	return e.saveContainer(ctx, c)
}

// teardownNetwork releases everything c.Net records: interfaces, rules, netns, addresses;
// then the networks it leaves are refreshed (hosts files, DNS responder). Every step is
// idempotent; c.Net is cleared once nothing failed.
func (e *Engine) teardownNetwork(ctx context.Context, c *Container) error {
	st := c.Net
	if st == nil {
		return nil
	}
	start := time.Now()
	defer func() { logrus.WithField("container", c.ID).Debugf("network: torn down in %s", time.Since(start)) }()
	var errs []error
	if st.NetNS != "" {
		opts := libnet.SetupOptions{ContainerID: c.ID, Attachments: st.Attachments, Ports: st.Ports}
		// The namespace goes first: with no process left in it the kernel destroys it in the
		// background, veth peers included, which spares Teardown the slow synchronous
		// deletes; Teardown then removes the rules and whatever is still there.
		if err := libnet.RemoveNetNS(st.NetNS); err != nil {
			errs = append(errs, fmt.Errorf("network teardown of %s: %w", c.Name, err))
		}
		logrus.WithField("container", c.ID).Debugf("network: netns gone at %s", time.Since(start))
		if err := libnet.Teardown(ctx, "", opts); err != nil {
			errs = append(errs, fmt.Errorf("network teardown of %s: %w", c.Name, err))
		}
		logrus.WithField("container", c.ID).Debugf("network: interfaces gone at %s", time.Since(start))
	}
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	if err := db.Networks().Release(ctx, c.ID, ""); err != nil {
		return err
	}
	if len(errs) == 0 {
		c.Net = nil
		if err := e.saveContainer(ctx, c); err != nil {
			return err
		}
	}
	for _, a := range st.Attachments {
		if err := e.leaveNetwork(ctx, a.Network); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// leaveNetwork runs after a container left n: the members' hosts files are rewritten and,
// once no one is left, the DNS responder stops. The bridge and the network's own rules stay
// until `network rm` or `network prune`, as with Docker and Podman: deleting a bridge costs
// the kernel tens of milliseconds of RCU grace periods, which every `run --rm` would pay.
func (e *Engine) leaveNetwork(ctx context.Context, n libnet.Network) error {
	if !n.DNS {
		return nil // nothing to refresh, no responder
	}
	release, err := e.lockNetworks(ctx, []string{n.Name})
	if err != nil {
		return err
	}
	defer release()
	return e.refreshNetwork(ctx, n, false)
}

// memberEntries lists the hosts entries of every container holding an address on network
// name: its address, name, aliases and short id.
func memberEntries(cs []*Container, name string) []hostEntry {
	var out []hostEntry
	for _, c := range cs {
		if c.Net == nil {
			continue
		}
		for _, a := range c.Net.Attachments {
			if a.Network.Name != name {
				continue
			}
			for _, ip := range a.IPs {
				out = append(out, hostEntry{IP: ip.IP.String(), Names: append(append([]string{c.Name}, a.Aliases...), c.ID[:12])})
			}
		}
	}
	return out
}

// refreshNetwork brings a DNS-enabled network's name data up to date: the responder's
// hosts file, each member's /etc/hosts (rewritten in place: a rename would leave the
// container reading the old inode), and the responder itself, running only while there are
// members. gone says the network has no members left. The caller holds the network's lock.
func (e *Engine) refreshNetwork(ctx context.Context, n libnet.Network, gone bool) error {
	if !n.DNS {
		return nil
	}
	dir := e.networkDir(n.Name)
	var cs []*Container
	if !gone {
		var err error
		if cs, err = e.containerRecords(ctx); err != nil {
			return err
		}
	}
	entries := memberEntries(cs, n.Name)
	if len(entries) == 0 {
		if err := dns.Stop(dir); err != nil {
			logrus.WithField("network", n.Name).Debugf("stop dns responder: %v", err)
		}
		os.RemoveAll(dir)
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	var b strings.Builder
	for _, h := range entries {
		b.WriteString(h.IP + " " + strings.Join(dedupe(h.Names), " ") + "\n")
	}
	if err := writeFileAtomic(filepath.Join(dir, "hosts"), []byte(b.String())); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	for _, c := range cs {
		if c.Net == nil || !memberOf(c, n.Name) {
			continue
		}
		p := e.runFile(c, "hosts")
		if _, err := os.Stat(p); err != nil {
			continue // not started far enough to have one; it writes its own
		}
		if err := os.WriteFile(p, []byte(e.hostsFor(c, cs)), 0o644); err != nil {
			return fmt.Errorf("update hosts of %s: %w", c.Name, err)
		}
	}
	var listen []string
	for _, s := range n.Subnets {
		if s.Gateway != "" && net.ParseIP(s.Gateway).To4() != nil {
			listen = append(listen, net.JoinHostPort(s.Gateway, "53"))
		}
	}
	if len(listen) == 0 || n.Driver != "bridge" {
		return nil // the host has no address there to answer on
	}
	var ups []string
	for _, ns := range e.hostResolvConf().Nameservers {
		if ip := net.ParseIP(ns); ip != nil {
			ups = append(ups, net.JoinHostPort(ip.String(), "53"))
		}
	}
	if err := dns.Start(dir, dns.Options{Listen: listen, Upstreams: ups}); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	return nil
}

func memberOf(c *Container, name string) bool {
	if c.Net == nil {
		return false
	}
	for _, a := range c.Net.Attachments {
		if a.Network.Name == name {
			return true
		}
	}
	return false
}

func writeFileAtomic(p string, b []byte) error {
	tmp := p + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// hostsFor renders c's /etc/hosts given every container record (for its user networks' members).
func (e *Engine) hostsFor(c *Container, cs []*Container) string {
	var own, others []hostEntry
	if c.Net != nil {
		for _, a := range c.Net.Attachments {
			for _, ip := range a.IPs {
				names := []string{hostname(c)}
				if a.Network.DNS {
					names = append(append(names, c.Name), a.Aliases...)
				}
				own = append(own, hostEntry{IP: ip.IP.String(), Names: names})
			}
			if a.Network.DNS {
				for _, o := range cs {
					if o.ID != c.ID {
						others = append(others, memberEntries([]*Container{o}, a.Network.Name)...)
					}
				}
			}
		}
	}
	if len(own) == 0 {
		own = []hostEntry{{IP: "127.0.1.1", Names: []string{hostname(c)}}}
	}
	return hostsFile(own, c.Options.AddHosts, others)
}

// hostResolvConf reads the host's resolvers as a container can use them.
func (e *Engine) hostResolvConf() resolvConfig {
	host, _ := os.ReadFile("/etc/resolv.conf")
	systemd, _ := os.ReadFile("/run/systemd/resolve/resolv.conf")
	return hostResolvers(string(host), string(systemd))
}

// etcFiles returns the content of c's /etc/hosts and /etc/resolv.conf for its network mode.
func (e *Engine) etcFiles(ctx context.Context, c *Container) (hosts, resolv string, err error) {
	o := c.Options
	switch {
	case o.Network == NetworkHost:
		b, _ := os.ReadFile("/etc/hosts")
		hosts = string(b)
		for _, a := range o.AddHosts {
			i := strings.Index(a, ":")
			hosts += a[i+1:] + "\t" + a[:i] + "\n"
		}
		r, _ := os.ReadFile("/etc/resolv.conf") // the host's own stub is reachable here
		return hosts, resolvFile(parseResolv(string(r)), o.DNS, o.DNSSearch, o.DNSOptions), nil
	case strings.HasPrefix(o.Network, "container:"):
		id := strings.TrimPrefix(o.Network, "container:")
		h, _ := os.ReadFile(filepath.Join(e.containerRunDir(id), "hosts"))
		r, _ := os.ReadFile(filepath.Join(e.containerRunDir(id), "resolv.conf"))
		return string(h), string(r), nil
	}
	var cs []*Container
	if c.Net != nil {
		if cs, err = e.containerRecords(ctx); err != nil {
			return "", "", err
		}
	}
	hosts = e.hostsFor(c, cs)
	base := e.hostResolvConf()
	var servers, search []string
	if c.Net != nil {
		for _, a := range c.Net.Attachments {
			if !a.Network.DNS || a.Network.Driver != "bridge" {
				continue
			}
			for _, s := range a.Network.Subnets {
				if s.Gateway != "" && net.ParseIP(s.Gateway).To4() != nil {
					servers = append(servers, s.Gateway)
				}
			}
		}
	}
	if len(servers) > 0 {
		search = append([]string{dns.SearchDomain}, base.Search...)
	}
	if len(o.DNS) > 0 {
		servers = o.DNS
	}
	if len(o.DNSSearch) > 0 {
		search = o.DNSSearch
	}
	return hosts, resolvFile(base, dedupe(servers), search, o.DNSOptions), nil
}

// networkNamespace says which network namespace c's spec joins: "" for a new one made by
// the runtime (none), a path, or host (the runtime must not make one).
func (e *Engine) networkNamespace(ctx context.Context, c *Container) (path string, host bool, err error) {
	o := c.Options
	switch {
	case o.Network == NetworkHost:
		return "", true, nil
	case strings.HasPrefix(o.Network, "container:"):
		id := strings.TrimPrefix(o.Network, "container:")
		other, err := e.Container(ctx, id)
		if err != nil {
			return "", false, err
		}
		if !other.Active() {
			return "", false, errdefs.Newf(errdefs.ErrInvalid, "cannot join the network of container %s: it is not running", other.Name)
		}
		if other.Options.Network == NetworkHost {
			return "", true, nil
		}
		if other.Net != nil && other.Net.NetNS != "" {
			return other.Net.NetNS, false, nil
		}
		return "/proc/" + strconv.Itoa(other.Pid) + "/ns/net", false, nil
	case c.Net != nil:
		return c.Net.NetNS, false, nil
	}
	return "", false, nil
}

// sweepNetworks releases what containers no longer running still hold: a berth killed in
// the middle of a start, or a monitor killed with its container. A container whose lock is
// held is being worked on and left alone.
func (e *Engine) sweepNetworks(ctx context.Context) {
	db, err := e.DB(ctx)
	if err != nil {
		return
	}
	allocs, err := db.Networks().Allocations(ctx, "")
	if err != nil || len(allocs) == 0 {
		return
	}
	cs, err := e.containerRecords(ctx)
	if err != nil {
		return
	}
	byID := map[string]*Container{}
	for _, c := range cs {
		byID[c.ID] = c
	}
	done := map[string]bool{}
	for _, a := range allocs {
		if done[a.Container] {
			continue
		}
		done[a.Container] = true
		if c := byID[a.Container]; c != nil && c.Active() {
			continue
		}
		e.tryTeardown(ctx, a.Container)
	}
}

// tryTeardown tears down the network of container id if it is not active and no one holds
// its lock, and says whether it did; a container whose record is gone only gives its
// addresses back.
func (e *Engine) tryTeardown(ctx context.Context, id string) bool {
	l, ok := e.tryLockContainer(id)
	if !ok {
		return false
	}
	defer l.Release()
	db, err := e.DB(ctx)
	if err != nil {
		return false
	}
	var c Container
	if _, err := db.Containers().Get(ctx, id, &c); errors.Is(err, errdefs.ErrNotFound) {
		allocs, _ := db.Networks().Allocations(ctx, "")
		_ = db.Networks().Release(ctx, id, "")
		for _, a := range allocs {
			if a.Container == id {
				if n, err := e.Network(ctx, a.Network); err == nil {
					_ = e.leaveNetwork(ctx, n.Network)
				}
			}
		}
		return true
	} else if err != nil || c.Active() || e.monitorAlive(&c) {
		return false // a start killed after the monitor began leaves a running container
	}
	if c.Net == nil {
		return db.Networks().Release(ctx, id, "") == nil
	}
	logrus.WithField("container", id).Debug("network: releasing what a stopped container still held")
	if err := e.teardownNetwork(ctx, &c); err != nil {
		logrus.WithField("container", id).Warnf("release network: %v", err)
		return false
	}
	return true
}

// removeNetwork removes a network's kernel objects (if any are left) and its record.
func (e *Engine) removeNetwork(ctx context.Context, n *Network) error {
	release, err := e.lockNetworks(ctx, []string{n.Name})
	if err != nil {
		return err
	}
	defer release()
	if n.DNS {
		_ = dns.Stop(e.networkDir(n.Name))
		os.RemoveAll(e.networkDir(n.Name))
	}
	if bridgeInUse(n.Network) {
		// Ports on it that are not ours: another berth root uses a bridge of that name
		// (tests, several --root). Removing it would cut its containers off.
		logrus.WithField("network", n.Name).Warnf("bridge %s is still in use, leaving it", n.Interface)
	} else if err := libnet.RemoveNetwork(ctx, n.Network); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	return db.Networks().Delete(ctx, n.Name)
}

// pruneNetworkLeftovers removes kernel objects berth made for this root's containers that
// no longer hold a network: veths, port rules, netns files. Objects of containers and
// networks this root does not know are left alone: another root (--root, tests) may be
// using them, and this root's own are always recorded before they are made.
func (e *Engine) pruneNetworkLeftovers(ctx context.Context) error {
	if e.Config.Rootless {
		return nil
	}
	// The netns files first, then the records: a file made after the listing belongs to a
	// container whose intent the records already show.
	ents, _ := os.ReadDir(filepath.Join(e.Config.RunRoot, "netns"))
	cs, err := e.containerRecords(ctx)
	if err != nil {
		return err
	}
	known, holds := map[string]bool{}, map[string]bool{}
	var names []string
	for _, c := range cs {
		known[c.ID], holds[c.ID] = true, c.Net != nil
	}
	ns, err := e.Networks(ctx)
	if err != nil {
		return err
	}
	for _, n := range ns {
		names = append(names, n.Name)
	}
	// With every network locked no container of this root is between its recorded intent
	// and its interfaces.
	release, err := e.lockNetworks(ctx, names)
	if err != nil {
		return err
	}
	defer release()
	keepContainer := func(id string) bool { return !known[id] || holds[id] }
	keepNetwork := func(string) bool { return true } // removed with their records, never left
	if err := libnet.Prune(ctx, keepContainer, keepNetwork); err != nil {
		return fmt.Errorf("prune network leftovers: %w", err)
	}
	for _, ent := range ents {
		if !holds[ent.Name()] {
			_ = libnet.RemoveNetNS(filepath.Join(e.Config.RunRoot, "netns", ent.Name()))
		}
	}
	return nil
}

// hostRoutes lists the host's IPv4 routes (from /proc/net/route), which automatic subnets
// avoid: the host's own networks, and bridges of other berth roots.
func hostRoutes() []*net.IPNet {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []*net.IPNet
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 8 {
			continue
		}
		dst, err1 := strconv.ParseUint(fl[1], 16, 32)
		mask, err2 := strconv.ParseUint(fl[7], 16, 32)
		if err1 != nil || err2 != nil || mask == 0 {
			continue // the default route covers everything; it blocks nothing
		}
		le := func(v uint64) net.IP { return net.IPv4(byte(v), byte(v>>8), byte(v>>16), byte(v>>24)).To4() }
		out = append(out, &net.IPNet{IP: le(dst), Mask: net.IPMask(le(mask))})
	}
	return out
}

// ConnectOptions are `network connect`'s flags.
type ConnectOptions struct {
	IP      string
	Aliases []string
}

// ConnectNetwork connects a container to a network: a running one gains an interface at
// once, a stopped one at its next start.
func (e *Engine) ConnectNetwork(ctx context.Context, netRef, ctrRef string, o ConnectOptions) (retErr error) {
	if e.Config.Rootless {
		return errdefs.Newf(errdefs.ErrNotSupported, "network connect: rootless containers cannot join bridge networks")
	}
	n, err := e.Network(ctx, netRef)
	if err != nil {
		return err
	}
	c, release, err := e.lockedContainer(ctx, ctrRef)
	if err != nil {
		return err
	}
	defer release()
	if c.Options.Network != "" {
		return errdefs.Newf(errdefs.ErrInvalid, "container %s uses network mode %s and cannot be connected to other networks", c.Name, c.Options.Network)
	}
	if memberOfOptions(c, n.Name) {
		return errdefs.Newf(errdefs.ErrExists, "container %s is already connected to network %s", c.Name, n.Name)
	}
	r := NetworkRequest{Name: n.Name, IP: o.IP, Aliases: o.Aliases}
	probe := CreateOptions{Networks: []NetworkRequest{r}}
	if err := e.resolveNetworkOptions(ctx, &probe); err != nil {
		return err
	}
	before := c.Options.Networks
	c.Options.Networks = append(append([]NetworkRequest{}, before...), r)
	if !c.Active() || c.Net == nil || c.Net.NetNS == "" {
		return e.saveContainer(ctx, c) // joins at its next start
	}
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, a := range c.Net.Attachments {
		used[a.IfName] = true
	}
	ifName := ""
	for i := 0; ifName == ""; i++ {
		if !used["eth"+strconv.Itoa(i)] {
			ifName = "eth" + strconv.Itoa(i)
		}
	}
	a, err := e.allocate(ctx, db.Networks(), c, n, r, ifName)
	if err != nil {
		_ = db.Networks().Release(ctx, c.ID, n.Name)
		return err
	}
	c.Net.Attachments = append(c.Net.Attachments, a)
	if err := e.saveContainer(ctx, c); err != nil { // intent first
		return err
	}
	defer func() {
		if retErr != nil {
			_ = libnet.Teardown(context.Background(), c.Net.NetNS, libnet.SetupOptions{ContainerID: c.ID, Attachments: []libnet.Attachment{a}})
			_ = db.Networks().Release(context.Background(), c.ID, n.Name)
			c.Options.Networks, c.Net.Attachments = before, c.Net.Attachments[:len(c.Net.Attachments)-1]
			_ = e.saveContainer(context.Background(), c)
			_ = e.leaveNetwork(context.Background(), n.Network)
		}
	}()
	unlock, err := e.lockNetworks(ctx, []string{n.Name})
	if err != nil {
		return err
	}
	defer unlock()
	if err := libnet.EnsureNetwork(ctx, n.Network); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	if err := libnet.Setup(ctx, c.Net.NetNS, libnet.SetupOptions{ContainerID: c.ID, Attachments: []libnet.Attachment{a}}); err != nil {
		return fmt.Errorf("connect %s to %s: %w", c.Name, n.Name, err)
	}
	if err := e.refreshNetwork(ctx, n.Network, false); err != nil {
		return err
	}
	return e.rewriteOwnEtc(ctx, c)
}

func memberOfOptions(c *Container, name string) bool {
	for _, r := range c.Options.Networks {
		if r.Name == name {
			return true
		}
	}
	return false
}

// rewriteOwnEtc rewrites a running container's /etc/hosts and resolv.conf in place.
func (e *Engine) rewriteOwnEtc(ctx context.Context, c *Container) error {
	hosts, resolv, err := e.etcFiles(ctx, c)
	if err != nil {
		return err
	}
	for name, content := range map[string]string{"hosts": hosts, "resolv.conf": resolv} {
		if err := os.WriteFile(e.runFile(c, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("update %s of %s: %w", name, c.Name, err)
		}
	}
	return nil
}

// DisconnectNetwork disconnects a container from a network: a running one loses its
// interface there at once. force disconnects even a network record that is gone.
func (e *Engine) DisconnectNetwork(ctx context.Context, netRef, ctrRef string, force bool) error {
	name := netRef
	n, err := e.Network(ctx, netRef)
	switch {
	case err == nil:
		name = n.Name
	case !force || !errors.Is(err, errdefs.ErrNotFound):
		return err
	}
	c, release, err := e.lockedContainer(ctx, ctrRef)
	if err != nil {
		return err
	}
	defer release()
	if !memberOfOptions(c, name) && !memberOf(c, name) {
		return errdefs.Newf(errdefs.ErrNotFound, "container %s is not connected to network %s", c.Name, name)
	}
	var keep []NetworkRequest
	for _, r := range c.Options.Networks {
		if r.Name != name {
			keep = append(keep, r)
		}
	}
	c.Options.Networks = keep
	if len(keep) == 0 {
		c.Options.Network = NetworkNone // Docker leaves such a container with no network
	}
	if c.Net == nil {
		return e.saveContainer(ctx, c)
	}
	var gone *libnet.Attachment
	var rest []libnet.Attachment
	for i, a := range c.Net.Attachments {
		if a.Network.Name == name {
			gone = &c.Net.Attachments[i]
		} else {
			rest = append(rest, a)
		}
	}
	if gone == nil {
		return e.saveContainer(ctx, c)
	}
	opts := libnet.SetupOptions{ContainerID: c.ID, Attachments: []libnet.Attachment{*gone}}
	if gone.IfName == c.Net.Attachments[0].IfName {
		opts.Ports, c.Net.Ports = c.Net.Ports, nil // published on this interface's address
	}
	if err := libnet.Teardown(ctx, c.Net.NetNS, opts); err != nil {
		return fmt.Errorf("disconnect %s from %s: %w", c.Name, name, err)
	}
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	if err := db.Networks().Release(ctx, c.ID, name); err != nil {
		return err
	}
	left := *gone
	c.Net.Attachments = rest
	if err := e.saveContainer(ctx, c); err != nil {
		return err
	}
	if err := e.leaveNetwork(ctx, left.Network); err != nil {
		return err
	}
	return e.rewriteOwnEtc(ctx, c)
}

// bridgeInUse says whether n's bridge still has ports (read from sysfs).
func bridgeInUse(n libnet.Network) bool {
	if n.Driver != "bridge" || n.Interface == "" {
		return false
	}
	ents, err := os.ReadDir(filepath.Join("/sys/class/net", n.Interface, "brif"))
	return err == nil && len(ents) > 0
}
