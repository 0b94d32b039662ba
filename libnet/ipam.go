package libnet

import (
	"fmt"
	"math/big"
	"net"

	"github.com/berth-project/berth/internal/errdefs"
)

// ParseSubnet parses a CIDR and insists it names a network: 10.1.2.0/24, not 10.1.2.3/24,
// and leaves room for at least a gateway and one container (no /31, /32, /127, /128).
func ParseSubnet(s string) (*net.IPNet, error) {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid subnet %q: not a CIDR", s)
	}
	if !ip.Equal(n.IP) {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid subnet %q: host bits set, did you mean %s", s, n)
	}
	ones, bits := n.Mask.Size()
	if bits-ones < 2 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid subnet %q: too small", s)
	}
	if ip4 := n.IP.To4(); ip4 != nil {
		n.IP = ip4
	}
	return n, nil
}

// IsIPv6 reports whether a subnet is an IPv6 one.
func IsIPv6(n *net.IPNet) bool { return n.IP.To4() == nil }

// DefaultGateway returns the first host address of subnet, the bridge's address by default.
func DefaultGateway(subnet *net.IPNet) net.IP {
	return addOffset(subnet.IP, 1)
}

// ValidateSubnet checks one Subnet as a user gave it: the subnet itself, the gateway (inside
// and neither the network nor the broadcast address) and the IP range (inside the subnet).
func ValidateSubnet(sub Subnet) error {
	n, err := ParseSubnet(sub.Subnet)
	if err != nil {
		return err
	}
	if sub.Gateway != "" {
		gw := net.ParseIP(sub.Gateway)
		if gw == nil {
			return errdefs.Newf(errdefs.ErrInvalid, "invalid gateway %q: not an IP address", sub.Gateway)
		}
		if !n.Contains(gw) || isReserved(n, gw) {
			return errdefs.Newf(errdefs.ErrInvalid, "invalid gateway %s: not a host address of subnet %s", sub.Gateway, sub.Subnet)
		}
	}
	if sub.IPRange != "" {
		r, err := ParseSubnet(sub.IPRange)
		if err != nil {
			_, r2, err2 := net.ParseCIDR(sub.IPRange)
			if err2 != nil {
				return errdefs.Newf(errdefs.ErrInvalid, "invalid ip range %q: not a CIDR", sub.IPRange)
			}
			r = r2
		}
		if !SubnetContains(n, r) {
			return errdefs.Newf(errdefs.ErrInvalid, "invalid ip range %s: not inside subnet %s", sub.IPRange, sub.Subnet)
		}
	}
	return nil
}

// GatewayIP returns the subnet's gateway: the one given, else [DefaultGateway].
func GatewayIP(sub Subnet) (net.IP, *net.IPNet, error) {
	n, err := ParseSubnet(sub.Subnet)
	if err != nil {
		return nil, nil, err
	}
	if sub.Gateway != "" {
		gw := net.ParseIP(sub.Gateway)
		if gw == nil {
			return nil, nil, errdefs.Newf(errdefs.ErrInvalid, "invalid gateway %q: not an IP address", sub.Gateway)
		}
		if v4 := gw.To4(); v4 != nil {
			gw = v4
		}
		return gw, n, nil
	}
	return DefaultGateway(n), n, nil
}

// Contains reports whether ip lies inside sub's subnet.
func Contains(sub Subnet, ip net.IP) bool {
	n, err := ParseSubnet(sub.Subnet)
	return err == nil && n.Contains(ip)
}

// SubnetContains reports whether inner lies entirely inside outer.
func SubnetContains(outer, inner *net.IPNet) bool {
	oo, ob := outer.Mask.Size()
	io, ib := inner.Mask.Size()
	return ob == ib && io >= oo && outer.Contains(inner.IP)
}

// Overlaps reports whether two networks share any address.
func Overlaps(a, b *net.IPNet) bool {
	return a.Contains(b.IP) || b.Contains(a.IP)
}

// ValidateIP checks an address a user asked for with --ip: inside the subnet and not its
// network, broadcast or gateway address. Errors name the address.
func ValidateIP(sub Subnet, ip net.IP) error {
	gw, n, err := GatewayIP(sub)
	if err != nil {
		return err
	}
	if !n.Contains(ip) {
		return errdefs.Newf(errdefs.ErrInvalid, "address %s is outside subnet %s", ip, sub.Subnet)
	}
	if isReserved(n, ip) || ip.Equal(gw) {
		return errdefs.Newf(errdefs.ErrInvalid, "address %s is reserved in subnet %s", ip, sub.Subnet)
	}
	return nil
}

// AllocateIP returns the lowest address of sub (inside IPRange when set) that is not the
// network, gateway or broadcast address (of the subnet or of the range) and for which used
// returns false.
func AllocateIP(sub Subnet, used func(net.IP) bool) (net.IP, error) {
	return AllocateIPAfter(sub, nil, used)
}

// AllocateIPAfter is [AllocateIP] walking from the address after last (the previous
// allocation) round to it, so that allocating costs a probe or two whatever the number of
// addresses held, as a cursor does in Docker's and netavark's IPAM; nil or an address
// outside the pool starts at its beginning.
func AllocateIPAfter(sub Subnet, last net.IP, used func(net.IP) bool) (net.IP, error) {
	gw, n, err := GatewayIP(sub)
	if err != nil {
		return nil, err
	}
	pool := n
	if sub.IPRange != "" {
		_, r, err := net.ParseCIDR(sub.IPRange)
		if err != nil {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid ip range %q: not a CIDR", sub.IPRange)
		}
		if ip4 := r.IP.To4(); ip4 != nil {
			r.IP = ip4
		}
		if !SubnetContains(n, r) {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid ip range %s: not inside subnet %s", sub.IPRange, sub.Subnet)
		}
		pool = r
	}
	ones, bits := pool.Mask.Size()
	// Walk at most 2^20 candidates so an exhausted /64 fails instead of spinning.
	size := uint64(1) << 20
	if bits-ones < 20 {
		size = uint64(1) << uint(bits-ones)
	}
	first := uint64(0)
	if last != nil && pool.Contains(last) {
		first = offsetIn(pool, last) + 1
	}
	for i := uint64(0); i < size; i++ {
		cand := addOffset(pool.IP, int64((first+i)%size))
		// The range's own first and last addresses look like network and broadcast
		// addresses to people and to some tools, so they are skipped too.
		if !pool.Contains(cand) || isReserved(n, cand) || isReserved(pool, cand) || cand.Equal(gw) || used(cand) {
			continue
		}
		return cand, nil
	}
	return nil, errdefs.Newf(errdefs.ErrInUse, "no free address left in %s", pool)
}

// offsetIn returns ip's offset from the start of pool, which contains it (low 64 bits).
func offsetIn(pool *net.IPNet, ip net.IP) uint64 {
	a, b := pool.IP.To16(), ip.To16()
	var off uint64
	for i := 8; i < 16; i++ {
		off = off<<8 | uint64(b[i]-a[i])
	}
	return off
}

func isReserved(n *net.IPNet, ip net.IP) bool {
	if ip.Equal(n.IP) {
		return true
	}
	if n.IP.To4() != nil {
		return ip.Equal(lastAddr(n))
	}
	return false
}

func lastAddr(n *net.IPNet) net.IP {
	ip := make(net.IP, len(n.IP))
	for i := range n.IP {
		ip[i] = n.IP[i] | ^n.Mask[i]
	}
	return ip
}

// addOffset returns ip+off in the same length as ip.
func addOffset(ip net.IP, off int64) net.IP {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	x := new(big.Int).SetBytes(ip)
	x.Add(x, big.NewInt(off))
	b := x.Bytes()
	out := make(net.IP, len(ip))
	if len(b) > len(out) {
		b = b[len(b)-len(out):]
	}
	copy(out[len(out)-len(b):], b)
	return out
}

// NextFreeSubnet returns the first subnet of pool, in /24 steps for IPv4 (/64 for IPv6, or
// the pool itself when it is smaller), that overlaps none of taken (other networks'
// subnets and the host's routes).
func NextFreeSubnet(taken []*net.IPNet, pool string) (*net.IPNet, error) {
	_, p, err := net.ParseCIDR(pool)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid subnet pool %q: not a CIDR", pool)
	}
	if v4 := p.IP.To4(); v4 != nil {
		p.IP = v4
	}
	pones, bits := p.Mask.Size()
	step := 24
	if bits == 128 {
		step = 64
	}
	if pones > step {
		step = pones
	}
	count := uint64(1) << uint(min(step-pones, 24))
	mask := net.CIDRMask(step, bits)
	size := new(big.Int).Lsh(big.NewInt(1), uint(bits-step))
	base := new(big.Int).SetBytes(p.IP)
	for i := uint64(0); i < count; i++ {
		off := new(big.Int).Mul(size, new(big.Int).SetUint64(i))
		b := new(big.Int).Add(base, off).Bytes()
		ip := make(net.IP, len(p.IP))
		copy(ip[len(ip)-len(b):], b)
		cand := &net.IPNet{IP: ip, Mask: mask}
		free := true
		for _, t := range taken {
			if t != nil && len(t.IP.To16()) > 0 && sameFamily(t.IP, ip) && Overlaps(t, cand) {
				free = false
				break
			}
		}
		if free {
			return cand, nil
		}
	}
	return nil, errdefs.Newf(errdefs.ErrInUse, "no free subnet left in pool %s", pool)
}

func sameFamily(a, b net.IP) bool { return (a.To4() == nil) == (b.To4() == nil) }

// GenerateMAC derives a locally administered unicast MAC from an address, so a container
// keeps its MAC for as long as it keeps its address and neighbours' ARP caches stay right.
func GenerateMAC(ip net.IP) net.HardwareAddr {
	b := ip.To16()
	if v4 := ip.To4(); v4 != nil {
		b = v4
	}
	mac := net.HardwareAddr{0x02, 0xb3, 0, 0, 0, 0}
	if len(b) >= 4 {
		copy(mac[2:], b[len(b)-4:])
	}
	return mac
}

// VethPrefix starts the name of every host-side veth berth makes, so stale ones are found.
const VethPrefix = "vb"

// VethName returns the host-side veth name for a container's idx-th interface: "vb", nine
// characters of the ID, "_" and the index, at most 15 characters (IFNAMSIZ-1) for idx < 1000.
func VethName(containerID string, idx int) string {
	id := containerID
	if len(id) > 9 {
		id = id[:9]
	}
	return fmt.Sprintf("%s%s_%d", VethPrefix, id, idx)
}

// BridgeName returns the name of the n-th bridge berth makes: berth0, berth1, ...
func BridgeName(n int) string { return fmt.Sprintf("berth%d", n) }
