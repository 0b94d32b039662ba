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
			m, err := libnet.DefaultUserNet(e.Config.Network.DefaultRootlessNetworkCmd) // rootless: its own namespace, connected out by a helper
			if err != nil {
				return err
			}
			o.Network = m
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
	if libnet.IsUserNet(o.Network) && !e.Config.Rootless {
		return errdefs.Newf(errdefs.ErrNotSupported, "--network %s: pasta and slirp4netns networks are for rootless berth; as root use a bridge network", o.Network)
	}
	if o.Network != "" {
		if libnet.IsUserNet(o.Network) {
			return nil // ports are published by its helper
		}
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
	if libnet.IsUserNet(o.Network) {
		return e.prepareUserNet(ctx, c)
	}
	if o.Network != "" || len(o.Networks) == 0 {
		return nil
	}
	if e.Config.Rootless {
		return errdefs.Newf(errdefs.ErrNotSupported, "network %s: rootless containers cannot join bridge networks", o.Networks[0].Name)
	}
	start := time.Now()
	if len(o.Ports) > 0 {
		e.sweepNetworks(ctx) // rules a killed start left would hold their host ports
	}
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
		if errors.Is(err, errdefs.ErrInUse) {
			// What killed commands left may hold the address: release it, then try again.
			if err := db.Networks().Release(ctx, c.ID, n.Name); err != nil {
				return err
			}
			e.sweepNetworks(ctx)
			a, err = e.allocate(ctx, db.Networks(), c, n, r, "eth"+strconv.Itoa(i))
		}
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
		got, err := t.Allocate(ctx, n.Name, s.Subnet, c.ID, func(last string, used func(string) bool) (string, error) {
			if want != nil && sn.Contains(want) {
				if used(want.String()) {
					return "", errdefs.Newf(errdefs.ErrInUse, "address %s is already in use on network %s", want, n.Name)
				}
				return want.String(), nil
			}
			ip, err := libnet.AllocateIPAfter(s, net.ParseIP(last), func(ip net.IP) bool { return used(ip.String()) })
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
					// Docker's words, which scripts look for.
					return errdefs.Newf(errdefs.ErrInUse, "Bind for %s failed: port is already allocated (published by container %s)", libnet.PortName(p.Protocol, p.HostIP, p.HostPort+i), by)
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
	if st.UserNet != "" {
		if err := libnet.StopUserNet(e.userNetDir(), c.ID); err != nil {
			errs = append(errs, fmt.Errorf("network teardown of %s: %w", c.Name, err))
		}
	}
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
	if len(errs) == 0 {
		e.disconnectEvents(c.ID, st.Attachments)
	}
	return errors.Join(errs...)
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
	if err := db.Networks().Delete(ctx, n.Name); err != nil {
		return err
	}
	e.networkEvent("destroy", n.Network, "")
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

// bridgeInUse says whether n's bridge still has ports (read from sysfs).
func bridgeInUse(n libnet.Network) bool {
	if n.Driver != "bridge" || n.Interface == "" {
		return false
	}
	ents, err := os.ReadDir(filepath.Join("/sys/class/net", n.Interface, "brif"))
	return err == nil && len(ents) > 0
}
