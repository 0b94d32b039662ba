package libnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// bridgeAliasPrefix starts the IFLA_IFALIAS of every bridge berth makes, followed by the
// network name, so [Prune] can tell its bridges and their networks apart from others.
const bridgeAliasPrefix = "berth:"

// maxNetworkName bounds network names so rule comments stay within nftables' limit.
const maxNetworkName = 128

// EnsureNetwork makes network n usable on this host: for a bridge network, its bridge
// exists, is up and holds the gateway address of every subnet, forwarding is on unless the
// network is internal, and the network's nftables rules (NAT, isolation) are in place. It
// is idempotent and safe when several processes race (an existing bridge is success). For
// a macvlan network it checks the parent interface exists.
func EnsureNetwork(ctx context.Context, n Network) (retErr error) {
	switch n.Driver {
	case "macvlan":
		if _, err := macvlanMode(n); err != nil {
			return err
		}
		if _, err := netlink.LinkByName(n.Interface); err != nil {
			return errdefs.Newf(errdefs.ErrNotFound, "network %s: parent interface %q not found", n.Name, n.Interface)
		}
		return nil
	case "", "bridge":
	default:
		return errdefs.Newf(errdefs.ErrInvalid, "network %s: unknown driver %q", n.Name, n.Driver)
	}
	if n.Name == "" || len(n.Name) > maxNetworkName || strings.ContainsAny(n.Name, " \t\n=/") {
		// The name rides in rule comments ("net=NAME", space separated, capped at 255
		// bytes by nftables) and in the bridge's alias.
		return errdefs.Newf(errdefs.ErrInvalid, "invalid network name %q: 1 to %d characters, no spaces, '=' or '/'", n.Name, maxNetworkName)
	}
	if n.Interface == "" || len(n.Interface) >= unix.IFNAMSIZ {
		return errdefs.Newf(errdefs.ErrInvalid, "network %s: invalid bridge name %q", n.Name, n.Interface)
	}
	subnets, err := networkSubnets(n)
	if err != nil {
		return err
	}
	log := logrus.WithFields(logrus.Fields{"network": n.Name, "bridge": n.Interface})

	link, created, err := ensureBridge(n)
	if err != nil {
		return err
	}
	if created {
		log.Debug("created bridge")
		defer func() {
			if retErr != nil {
				_ = netlink.LinkDel(link)
			}
		}()
	}
	hasV6 := false
	for _, s := range subnets {
		if IsIPv6(s) {
			hasV6 = true
		}
	}
	if hasV6 {
		// A tentative gateway address would make the first seconds of every container's
		// IPv6 traffic fail; the address is ours alone on this bridge.
		if err := writeIfaceSysctl("ipv6", n.Interface, "accept_dad", "0"); err != nil {
			return err
		}
	}
	want := map[string]bool{}
	for _, s := range subnets {
		gw, _, err := GatewayIP(n.Subnets[subnetIndex(n, s)])
		if err != nil {
			return err
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw, Mask: s.Mask}}
		want[addr.IPNet.String()] = true
		if IsIPv6(s) {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(link, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("network %s: add address %s to %s: %w", n.Name, addr.IPNet, n.Interface, err)
		}
	}
	// A bridge left by an earlier network of the same bridge name may carry its old
	// gateway addresses; only this network's belong on it (link-local ones aside).
	if !created {
		addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_ALL) })
		if err != nil {
			return fmt.Errorf("network %s: list addresses of %s: %w", n.Name, n.Interface, err)
		}
		for _, a := range addrs {
			if want[a.IPNet.String()] || a.IP.IsLinkLocalUnicast() {
				continue
			}
			if err := netlink.AddrDel(link, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return fmt.Errorf("network %s: remove stale address %s from %s: %w", n.Name, a.IPNet, n.Interface, err)
			}
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("network %s: bring %s up: %w", n.Name, n.Interface, err)
	}
	// DNAT of connections to the host's 127.0.0.1 sends packets with a loopback source out
	// of the bridge; the kernel drops those as martians unless route_localnet is set on it
	// (netavark does the same).
	if err := writeIfaceSysctl("ipv4", n.Interface, "route_localnet", "1"); err != nil {
		return err
	}
	if !n.Internal {
		if err := writeSysctl("net.ipv4.ip_forward", "1"); err != nil {
			return err
		}
		if hasV6 {
			if err := writeSysctl("net.ipv6.conf.all.forwarding", "1"); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return ensureNetworkRules(n)
}

// subnetIndex finds which of n.Subnets parsed to s.
func subnetIndex(n Network, s *net.IPNet) int {
	for i, sub := range n.Subnets {
		if p, err := ParseSubnet(sub.Subnet); err == nil && p.String() == s.String() {
			return i
		}
	}
	return 0
}

// ensureBridge returns n's bridge, creating it when missing; created says whether this
// call made it.
func ensureBridge(n Network) (netlink.Link, bool, error) {
	if l, err := netlink.LinkByName(n.Interface); err == nil {
		if l.Type() != "bridge" {
			return nil, false, errdefs.Newf(errdefs.ErrExists, "network %s: interface %s exists and is not a bridge", n.Name, n.Interface)
		}
		if l.Attrs().Alias == "" {
			// Made by an EnsureNetwork killed before it could name it: name it now so
			// Prune can still tell whose it is.
			if err := netlink.LinkSetAlias(l, bridgeAliasPrefix+n.Name); err != nil {
				return nil, false, fmt.Errorf("network %s: name bridge %s: %w", n.Name, n.Interface, err)
			}
		}
		return l, false, nil
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = n.Interface
	attrs.Alias = bridgeAliasPrefix + n.Name // set after creation, see below
	// A fixed MAC keeps the bridge's address from changing to the lowest port's as
	// containers come and go, which would leave stale neighbour entries behind.
	for _, s := range n.Subnets {
		if gw, sn, err := GatewayIP(s); err == nil && !IsIPv6(sn) {
			attrs.HardwareAddr = GenerateMAC(gw)
			break
		}
	}
	err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs})
	created := err == nil
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, false, fmt.Errorf("network %s: create bridge %s: %w", n.Name, n.Interface, err)
	}
	l, err := netlink.LinkByName(n.Interface)
	if err != nil {
		return nil, false, fmt.Errorf("network %s: find bridge %s: %w", n.Name, n.Interface, err)
	}
	if created {
		// The kernel ignores IFLA_IFALIAS at creation; the alias names the network for Prune.
		if err := netlink.LinkSetAlias(l, attrs.Alias); err != nil {
			_ = netlink.LinkDel(l)
			return nil, false, fmt.Errorf("network %s: name bridge %s: %w", n.Name, n.Interface, err)
		}
	}
	return l, created, nil
}

// RemoveNetwork deletes network n's bridge and its nftables rules. Missing pieces are
// success. Containers should be torn down first: their veths would lose their master.
func RemoveNetwork(ctx context.Context, n Network) error {
	var errs []error
	if n.Driver == "" || n.Driver == "bridge" {
		if l, err := netlink.LinkByName(n.Interface); err == nil && l.Type() == "bridge" {
			if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("network %s: delete bridge %s: %w", n.Name, n.Interface, err))
			}
		}
	}
	if err := removeNetworkRules(n.Name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}
