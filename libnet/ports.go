package libnet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth-project/berth/internal/errdefs"
)

// ParsePorts parses -p/--publish values of the form
// [hostIP:][hostPort:]containerPort[/tcp|udp], where hostIP may be an IPv6 address in
// brackets and both ports may be ranges (8000-8010:80-90). A host range must be as long as
// its container range. A container range without a host port becomes one mapping per port,
// each with HostPort 0, which means "pick a free port" (see [FreePort]). Errors name the
// value and wrap errdefs.ErrInvalid.
func ParsePorts(specs []string) ([]PortMapping, error) {
	var out []PortMapping
	type key struct {
		ip    string
		port  uint16
		proto string
	}
	seen := map[key]string{}
	for _, spec := range specs {
		ms, err := parsePort(spec)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			n := m.Range
			if n == 0 {
				n = 1
			}
			if m.HostPort == 0 {
				continue
			}
			for i := uint16(0); i < n; i++ {
				k := key{m.HostIP, m.HostPort + i, m.Protocol}
				if prev, ok := seen[k]; ok {
					return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid port spec %q: host port %d/%s already published by %q", spec, m.HostPort+i, m.Protocol, prev)
				}
				seen[k] = spec
			}
		}
		out = append(out, ms...)
	}
	return out, nil
}

func parsePort(spec string) ([]PortMapping, error) {
	bad := func(why string) error {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid port spec %q: %s", spec, why)
	}
	rest, proto := spec, "tcp"
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		rest, proto = rest[:i], strings.ToLower(rest[i+1:])
		if proto != "tcp" && proto != "udp" {
			return nil, bad("protocol must be tcp or udp")
		}
	}
	if rest == "" {
		return nil, bad("no container port")
	}
	var hostIP string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 || end+1 >= len(rest) || rest[end+1] != ':' {
			return nil, bad("unterminated IPv6 address")
		}
		hostIP = rest[1:end]
		ip := net.ParseIP(hostIP)
		if ip == nil || ip.To4() != nil {
			return nil, bad(fmt.Sprintf("host address %q is not an IPv6 address", hostIP))
		}
		hostIP = ip.String()
		rest = rest[end+2:]
		// After [ip]: comes hostPort:containerPort or :containerPort.
		parts := strings.Split(rest, ":")
		if len(parts) != 2 {
			return nil, bad("want [IPv6]:[hostPort]:containerPort")
		}
		return buildMappings(bad, hostIP, parts[0], parts[1], proto)
	}
	parts := strings.Split(rest, ":")
	switch len(parts) {
	case 1:
		return buildMappings(bad, "", "", parts[0], proto)
	case 2:
		return buildMappings(bad, "", parts[0], parts[1], proto)
	case 3:
		ip := net.ParseIP(parts[0])
		if ip == nil || ip.To4() == nil {
			return nil, bad(fmt.Sprintf("host address %q is not an IPv4 address (write IPv6 addresses in brackets)", parts[0]))
		}
		return buildMappings(bad, ip.String(), parts[1], parts[2], proto)
	default:
		return nil, bad("too many colons (write IPv6 addresses in brackets)")
	}
}

func buildMappings(bad func(string) error, hostIP, hostPart, ctrPart, proto string) ([]PortMapping, error) {
	cLo, cN, err := parseRange(ctrPart, false)
	if err != nil {
		return nil, bad("container port: " + err.Error())
	}
	if hostPart == "" {
		if cN == 1 {
			return []PortMapping{{HostIP: hostIP, ContainerPort: cLo, Protocol: proto}}, nil
		}
		out := make([]PortMapping, 0, cN)
		for i := uint16(0); i < cN; i++ {
			out = append(out, PortMapping{HostIP: hostIP, ContainerPort: cLo + i, Protocol: proto})
		}
		return out, nil
	}
	hLo, hN, err := parseRange(hostPart, true)
	if err != nil {
		return nil, bad("host port: " + err.Error())
	}
	if hLo == 0 {
		if hN != 1 {
			return nil, bad("host port range cannot start at 0")
		}
		return buildMappings(bad, hostIP, "", ctrPart, proto)
	}
	if hN != cN {
		return nil, bad(fmt.Sprintf("host range has %d ports, container range %d", hN, cN))
	}
	m := PortMapping{HostIP: hostIP, HostPort: hLo, ContainerPort: cLo, Protocol: proto}
	if cN > 1 {
		m.Range = cN
	}
	return []PortMapping{m}, nil
}

// parseRange parses "80" or "80-90" and returns the first port and the count.
func parseRange(s string, zeroOK bool) (uint16, uint16, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := parseOnePort(lo, zeroOK && !isRange)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return a, 1, nil
	}
	b, err := parseOnePort(hi, false)
	if err != nil {
		return 0, 0, err
	}
	if b < a {
		return 0, 0, fmt.Errorf("range %q ends before it starts", s)
	}
	return a, b - a + 1, nil
}

func parseOnePort(s string, zeroOK bool) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("empty port")
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	if n == 0 && !zeroOK {
		return 0, fmt.Errorf("port 0 is not allowed")
	}
	return uint16(n), nil
}

// FreePort asks the kernel for a free port on hostIP ("" for all addresses) by binding port
// 0 for proto ("tcp" or "udp") and reports the port it got. The port is released before
// returning, so the caller should use it promptly.
func FreePort(proto, hostIP string) (uint16, error) {
	addr := net.JoinHostPort(hostIP, "0")
	switch proto {
	case "", "tcp":
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return 0, fmt.Errorf("find free tcp port on %q: %w", hostIP, err)
		}
		defer l.Close()
		return uint16(l.Addr().(*net.TCPAddr).Port), nil
	case "udp":
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return 0, fmt.Errorf("find free udp port on %q: %w", hostIP, err)
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
	}
	return 0, errdefs.Newf(errdefs.ErrInvalid, "invalid protocol %q", proto)
}

// CheckPortFree reports an error naming the port when hostIP:port/proto cannot be bound,
// that is when some process on the host already holds it. It binds and releases at once.
func CheckPortFree(proto, hostIP string, port uint16) error {
	addr := net.JoinHostPort(hostIP, strconv.Itoa(int(port)))
	var err error
	switch proto {
	case "", "tcp":
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			l.Close()
		}
	case "udp":
		var c net.PacketConn
		if c, err = net.ListenPacket("udp", addr); err == nil {
			c.Close()
		}
	default:
		return errdefs.Newf(errdefs.ErrInvalid, "invalid protocol %q", proto)
	}
	if err != nil {
		if proto == "" {
			proto = "tcp"
		}
		name := PortName(proto, hostIP, port)
		// syscall, not x/sys/unix: this file builds everywhere and EADDRINUSE exists everywhere.
		if errors.Is(err, syscall.EADDRINUSE) {
			return errdefs.Newf(errdefs.ErrInUse, "host port %s is already in use", name)
		}
		if errors.Is(err, syscall.EACCES) {
			start := "1024"
			if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
				start = strings.TrimSpace(string(b))
			}
			return errdefs.Newf(errdefs.ErrInvalid, "cannot publish on %s: ports below %s need root (net.ipv4.ip_unprivileged_port_start); use a higher host port", name, start)
		}
		return errdefs.Newf(errdefs.ErrInvalid, "cannot publish on %s: %v", name, errors.Unwrap(err))
	}
	return nil
}

// portName shows a host port as errors name it: 0.0.0.0:8080/tcp.
// PortName names a host port as Docker's messages do: 0.0.0.0:8080/tcp.
func PortName(proto, hostIP string, port uint16) string {
	if hostIP == "" {
		hostIP = "0.0.0.0"
	}
	return net.JoinHostPort(hostIP, strconv.Itoa(int(port))) + "/" + proto
}
