package libnet

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Setup gives the network namespace at nsPath one interface per attachment and publishes
// o.Ports on the first attachment's addresses. Bridge attachments get a veth pair whose
// host end (named by [VethName], alias the container ID) joins the network's bridge;
// macvlan attachments get a macvlan on the parent (bridge mode unless Options["mode"]).
// Each interface gets its MAC (derived from its first address when unset) and addresses;
// the first attachment to a non-internal network also gets the default route through its
// gateway, unless the namespace already has one (so Setup of one more attachment on a
// running container works).
//
// Ports with HostPort 0 get a free port, written back into o.Ports. A host port that some
// process holds, or that another container publishes, is an error naming it. The networks
// must have been made ready with [EnsureNetwork]. On failure everything Setup made is undone.
func Setup(ctx context.Context, nsPath string, o SetupOptions) (retErr error) {
	if o.ContainerID == "" {
		return errdefs.Newf(errdefs.ErrInvalid, "network setup: no container ID")
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink handle in %s: %w", nsPath, err)
	}
	defer h.Close()

	targets, err := resolvePorts(o)
	if err != nil {
		return err
	}

	var undo []func()
	defer func() {
		if retErr != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	routed := map[int]bool{} // address families that got a default route here
	for _, a := range o.Attachments {
		if err := ctx.Err(); err != nil {
			return err
		}
		var u func()
		var err error
		switch a.Network.Driver {
		case "", "bridge":
			u, err = attachBridge(h, ns, o.ContainerID, a)
		case "macvlan":
			u, err = attachMacvlan(h, ns, a)
		default:
			err = errdefs.Newf(errdefs.ErrInvalid, "network %s: unknown driver %q", a.Network.Name, a.Network.Driver)
		}
		if err != nil {
			return err
		}
		undo = append(undo, u)
		if err := configureInterface(h, a, routed); err != nil {
			return err
		}
	}
	if err := addPortRules(o.ContainerID, targets); err != nil {
		return err
	}
	logrus.WithFields(logrus.Fields{"container": o.ContainerID, "netns": nsPath}).Debug("network set up")
	return nil
}

// resolvePorts picks free host ports for HostPort 0, checks the others can be bound, and
// pairs every mapping with the first attachment's addresses.
func resolvePorts(o SetupOptions) ([]portTarget, error) {
	if len(o.Ports) == 0 {
		return nil, nil
	}
	if len(o.Attachments) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "cannot publish ports without a network")
	}
	first := o.Attachments[0]
	var targets []portTarget
	for i := range o.Ports {
		m := &o.Ports[i]
		if m.Protocol == "" {
			m.Protocol = "tcp"
		}
		if m.HostPort == 0 {
			if m.Range > 1 {
				return nil, errdefs.Newf(errdefs.ErrInvalid, "port range %d-%d needs host ports", m.ContainerPort, int(m.ContainerPort)+int(m.Range)-1)
			}
			p, err := FreePort(m.Protocol, m.HostIP)
			if err != nil {
				return nil, err
			}
			m.HostPort = p
		} else {
			for j := 0; j < int(max(m.Range, 1)); j++ {
				if err := CheckPortFree(m.Protocol, m.HostIP, m.HostPort+uint16(j)); err != nil {
					return nil, err
				}
			}
		}
		for _, ip := range first.IPs {
			targets = append(targets, portTarget{ifname: first.IfName, m: *m, ctr: ip.IP})
		}
	}
	return targets, nil
}

// ifIndex is the number that tells a container's interfaces apart in host veth names:
// the trailing digits of the interface name (eth1 → 1), else a hash of it.
func ifIndex(ifname string) int {
	i := len(ifname)
	for i > 0 && ifname[i-1] >= '0' && ifname[i-1] <= '9' {
		i--
	}
	if n, err := strconv.Atoi(ifname[i:]); err == nil && n < 1000 {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(ifname))
	return int(h.Sum32() % 1000)
}

func attachmentMAC(a Attachment) net.HardwareAddr {
	if len(a.MAC) > 0 {
		return a.MAC
	}
	for _, ip := range a.IPs {
		if ip.IP.To4() != nil {
			return GenerateMAC(ip.IP)
		}
	}
	if len(a.IPs) > 0 {
		return GenerateMAC(a.IPs[0].IP)
	}
	return nil
}

// attachBridge creates the veth pair with its peer made directly inside the namespace
// under its final name, and returns how to undo it.
func attachBridge(h *netlink.Handle, ns netns.NsHandle, id string, a Attachment) (func(), error) {
	br, err := netlink.LinkByName(a.Network.Interface)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "network %s: bridge %s not found", a.Network.Name, a.Network.Interface)
	}
	if a.IfName == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "network %s: no interface name", a.Network.Name)
	}
	if _, err := h.LinkByName(a.IfName); err == nil {
		return nil, errdefs.Newf(errdefs.ErrExists, "interface %s already exists in the container", a.IfName)
	}
	hostName := VethName(id, ifIndex(a.IfName))
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{
			Name:        hostName,
			MTU:         br.Attrs().MTU,
			MasterIndex: br.Attrs().Index,
		},
		PeerName:         a.IfName,
		PeerHardwareAddr: attachmentMAC(a),
		PeerNamespace:    netlink.NsFd(int(ns)),
	}
	err = netlink.LinkAdd(veth)
	if errors.Is(err, unix.EEXIST) {
		// A veth of this name is left from a setup killed half-way; it carries the same
		// container's interface, so replace it.
		if old, lerr := netlink.LinkByName(hostName); lerr == nil && old.Attrs().Alias == id {
			_ = netlink.LinkDel(old)
			err = netlink.LinkAdd(veth)
		}
	}
	if err != nil {
		if l, lerr := netlink.LinkByName(hostName); lerr == nil && l.Attrs().Alias == id {
			_ = netlink.LinkDel(l)
		}
		return nil, fmt.Errorf("network %s: create veth %s: %w", a.Network.Name, hostName, err)
	}
	undo := func() {
		if l, err := netlink.LinkByName(hostName); err == nil {
			_ = netlink.LinkDel(l)
		}
	}
	host, err := netlink.LinkByName(hostName)
	if err == nil {
		// The kernel ignores IFLA_IFALIAS when it creates a link, so the container ID that
		// lets Prune find this veth's owner is set now, before the link goes up; Prune
		// treats a vb* veth that is down and has no alias as left by a killed setup.
		err = netlink.LinkSetAlias(host, id)
	}
	if err == nil {
		// Hairpin lets a container reach its own published port through the host.
		if err = netlink.LinkSetHairpin(host, true); err == nil {
			err = netlink.LinkSetUp(host)
		}
	}
	if err != nil {
		undo()
		return nil, fmt.Errorf("network %s: bring veth %s up: %w", a.Network.Name, hostName, err)
	}
	return undo, nil
}

// attachMacvlan creates a bridge-mode macvlan on the parent directly inside the namespace.
func attachMacvlan(h *netlink.Handle, ns netns.NsHandle, a Attachment) (func(), error) {
	parent, err := netlink.LinkByName(a.Network.Interface)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "network %s: parent interface %q not found", a.Network.Name, a.Network.Interface)
	}
	if _, err := h.LinkByName(a.IfName); err == nil {
		return nil, errdefs.Newf(errdefs.ErrExists, "interface %s already exists in the container", a.IfName)
	}
	mode, err := macvlanMode(a.Network)
	if err != nil {
		return nil, err
	}
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{
			Name:         a.IfName,
			ParentIndex:  parent.Attrs().Index,
			HardwareAddr: attachmentMAC(a),
			Namespace:    netlink.NsFd(int(ns)),
		},
		Mode: mode,
	}
	if err := netlink.LinkAdd(mv); err != nil {
		return nil, fmt.Errorf("network %s: create macvlan on %s: %w", a.Network.Name, a.Network.Interface, err)
	}
	return func() {
		if l, err := h.LinkByName(a.IfName); err == nil {
			_ = h.LinkDel(l)
		}
	}, nil
}

// macvlanMode reads -o mode= of a macvlan network: bridge (the default), private, vepa or
// passthru.
func macvlanMode(n Network) (netlink.MacvlanMode, error) {
	switch m := n.Options["mode"]; m {
	case "", "bridge":
		return netlink.MACVLAN_MODE_BRIDGE, nil
	case "private":
		return netlink.MACVLAN_MODE_PRIVATE, nil
	case "vepa":
		return netlink.MACVLAN_MODE_VEPA, nil
	case "passthru":
		return netlink.MACVLAN_MODE_PASSTHRU, nil
	default:
		return 0, errdefs.Newf(errdefs.ErrInvalid, "network %s: invalid macvlan mode %q: want bridge, private, vepa or passthru", n.Name, m)
	}
}

// configureInterface gives the container-side interface its addresses, brings it up and
// adds default routes for families not routed yet when the network is not internal.
func configureInterface(h *netlink.Handle, a Attachment, routed map[int]bool) error {
	link, err := h.LinkByName(a.IfName)
	if err != nil {
		return fmt.Errorf("find %s in the container: %w", a.IfName, err)
	}
	for _, ipn := range a.IPs {
		if len(ipn.Mask) == 0 {
			sub, ok := subnetFor(a.Network, ipn.IP)
			if !ok {
				return errdefs.Newf(errdefs.ErrInvalid, "address %s is outside network %s", ipn.IP, a.Network.Name)
			}
			ipn.Mask = sub.Mask
		}
		addr := &netlink.Addr{IPNet: &ipn}
		if ipn.IP.To4() == nil {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(link, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add address %s to %s: %w", ipn.String(), a.IfName, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring %s up: %w", a.IfName, err)
	}
	if a.Network.Internal {
		return nil
	}
	for _, ipn := range a.IPs {
		fam := unix.AF_INET
		if ipn.IP.To4() == nil {
			fam = unix.AF_INET6
		}
		if routed[fam] {
			continue
		}
		sub, ok := subnetFor(a.Network, ipn.IP)
		if !ok {
			continue
		}
		gw, _, err := GatewayIP(a.Network.Subnets[sub.idx])
		if err != nil {
			return err
		}
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw, Family: fam}
		if err := h.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add default route via %s on %s: %w", gw, a.IfName, err)
		}
		routed[fam] = true
	}
	return nil
}

type subnetMatch struct {
	*net.IPNet
	idx int
}

func subnetFor(n Network, ip net.IP) (subnetMatch, bool) {
	for i, s := range n.Subnets {
		if sn, err := ParseSubnet(s.Subnet); err == nil && sn.Contains(ip) {
			return subnetMatch{sn, i}, true
		}
	}
	return subnetMatch{}, false
}

// Teardown removes what [Setup] made for the attachments in o: the host-side veths (which
// takes their peers with them), macvlans inside the namespace when it still exists, and
// the container's port rules on those interfaces. It is idempotent and works when the
// namespace at nsPath is already gone (or nsPath is ""): then a veth whose peer is still in
// some namespace is left to the kernel, which deletes the pair as that namespace dies,
// moments later, instead of blocking ~30 ms on a synchronous delete (see also [Release]).
func Teardown(ctx context.Context, nsPath string, o SetupOptions) error {
	var errs []error
	var h *netlink.Handle
	if nsPath != "" {
		if ns, err := netns.GetFromPath(nsPath); err == nil {
			if hh, err := netlink.NewHandleAt(ns); err == nil {
				h = hh
				defer h.Close()
			}
			ns.Close()
		}
	}
	var ifnames []string
	for _, a := range o.Attachments {
		ifnames = append(ifnames, a.IfName)
		switch a.Network.Driver {
		case "macvlan":
			if h == nil {
				continue
			}
			if l, err := h.LinkByName(a.IfName); err == nil {
				if err := h.LinkDel(l); err != nil && !isNotFound(err) {
					errs = append(errs, fmt.Errorf("delete %s in the container: %w", a.IfName, err))
				}
			}
		default:
			name := VethName(o.ContainerID, ifIndex(a.IfName))
			l, err := netlink.LinkByName(name)
			if err != nil {
				continue
			}
			if al := l.Attrs().Alias; al != "" && al != o.ContainerID {
				continue // another container's whose ID shares the prefix
			}
			if h == nil && l.Attrs().NetNsID >= 0 {
				// The namespace is gone from its path but the peer still lives in one:
				// the kernel is destroying it (asynchronously, 15-50 ms here) and deletes
				// the pair with it. Deleting it now would block for as long (the
				// unregister's rcu_barrier). Should something hold the namespace alive,
				// the pair goes when it lets go, and Prune finds it by its alias meanwhile.
				continue
			}
			if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("delete veth %s: %w", name, err))
			}
		}
	}
	if len(o.Attachments) == 0 {
		ifnames = nil // no attachment named: every rule of the container
	}
	if err := removeContainerRules(o.ContainerID, ifnames); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Prune removes what crashed or killed berth processes left behind: host veths whose
// container is not kept (or that a setup killed before it named their owner left down),
// port rules of containers not kept, and bridges and rules of networks not kept. The engine calls it from `network prune` and when it finds a dead
// container's network unreleased.
func Prune(ctx context.Context, keepContainer func(id string) bool, keepNetwork func(name string) bool) error {
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		a := l.Attrs()
		switch {
		case l.Type() == "veth" && strings.HasPrefix(a.Name, VethPrefix):
			if a.Alias == "" && a.Flags&net.FlagUp != 0 || a.Alias != "" && keepContainer(a.Alias) {
				continue
			}
			logrus.WithFields(logrus.Fields{"veth": a.Name, "container": a.Alias}).Debug("prune stale veth")
		case l.Type() == "bridge" && strings.HasPrefix(a.Alias, bridgeAliasPrefix):
			if keepNetwork(strings.TrimPrefix(a.Alias, bridgeAliasPrefix)) {
				continue
			}
			logrus.WithFields(logrus.Fields{"bridge": a.Name, "network": a.Alias}).Debug("prune stale bridge")
		default:
			continue
		}
		if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", a.Name, err))
		}
	}
	if err := pruneRules(keepContainer, keepNetwork); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Release ends a container's networking together with its namespace, for a container
// that is done with it (exited, removed): it removes the container's port rules and
// unmounts and removes the namespace at nsPath. The kernel then deletes the veth pairs
// and macvlans inside as the namespace dies, in one batch and off this thread, which
// spares the ~30 ms a synchronous veth delete costs (its synchronize_net); [Teardown] then
// [RemoveNetNS] gives the same end state, slower. When nothing else holds the namespace
// the links are gone within milliseconds; should something hold it, they go when it lets
// go, and [Prune] finds them by their owner meanwhile. When the namespace is already gone,
// Release does what [Teardown] does with no namespace.
func Release(ctx context.Context, nsPath string, o SetupOptions) error {
	var errs []error
	if err := removeContainerRules(o.ContainerID, nil); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(nsPath); err != nil || nsPath == "" {
		// No namespace to take the links with it: delete them one by one.
		if err := Teardown(ctx, "", o); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	if err := RemoveNetNS(nsPath); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
