package libnet

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// User-mode network helpers give a rootless container's own network namespace a way out
// without any privilege on the host: pasta (from passt) or slirp4netns connect a tap device
// in the namespace to sockets of the user on the host, and publish ports by listening there.
const (
	Pasta       = "pasta"
	Slirp4netns = "slirp4netns"
)

// Addresses the helpers give a container.
const (
	// PastaDNS is where pasta forwards DNS queries to the host's first resolver (--dns-forward).
	PastaDNS = "169.254.1.1"
	// slirpCIDR is slirp4netns's default network: .2 is the host, .3 its DNS forwarder.
	slirpCIDR = "10.0.2.0/24"
)

// UserNet is a parsed --network pasta[:OPTIONS] or slirp4netns[:OPTIONS].
type UserNet struct {
	Mode string   // Pasta or Slirp4netns
	Args []string // pasta: extra command-line options; slirp4netns: KEY=VALUE options
}

// IsUserNet says whether a network mode names a user-mode helper.
func IsUserNet(mode string) bool {
	m, _, _ := strings.Cut(mode, ":")
	return m == Pasta || m == Slirp4netns
}

// slirpOptions are the slirp4netns:KEY=VALUE options berth understands, as podman spells them.
var slirpOptions = map[string]bool{"allow_host_loopback": true, "cidr": true, "enable_ipv6": true, "mtu": true, "port_handler": true}

// ParseUserNet parses a network mode pasta[:OPT,OPT...] or slirp4netns[:KEY=VALUE,...].
func ParseUserNet(mode string) (UserNet, error) {
	m, opts, hasOpts := strings.Cut(mode, ":")
	u := UserNet{Mode: m}
	if m != Pasta && m != Slirp4netns {
		return u, errdefs.Newf(errdefs.ErrInvalid, "invalid network mode %q: want pasta or slirp4netns", mode)
	}
	if !hasOpts {
		return u, nil
	}
	for _, o := range strings.Split(opts, ",") {
		if o == "" {
			return u, errdefs.Newf(errdefs.ErrInvalid, "invalid --network %q: empty option", mode)
		}
		u.Args = append(u.Args, o)
	}
	if m == Pasta {
		return u, nil
	}
	for _, o := range u.Args {
		k, v, ok := strings.Cut(o, "=")
		if !ok || !slirpOptions[k] {
			return u, errdefs.Newf(errdefs.ErrInvalid, "invalid --network %q: unknown slirp4netns option %q (want allow_host_loopback, cidr, enable_ipv6, mtu or port_handler=slirp4netns)", mode, o)
		}
		switch k {
		case "allow_host_loopback", "enable_ipv6":
			if _, err := strconv.ParseBool(v); err != nil {
				return u, errdefs.Newf(errdefs.ErrInvalid, "invalid --network %q: %s wants true or false", mode, k)
			}
		case "cidr":
			if _, n, err := net.ParseCIDR(v); err != nil || n.IP.To4() == nil {
				return u, errdefs.Newf(errdefs.ErrInvalid, "invalid --network %q: cidr wants an IPv4 CIDR", mode)
			}
		case "mtu":
			if n, err := strconv.Atoi(v); err != nil || n < 68 || n > 65521 {
				return u, errdefs.Newf(errdefs.ErrInvalid, "invalid --network %q: mtu wants 68 to 65521", mode)
			}
		case "port_handler":
			if v != "slirp4netns" {
				return u, errdefs.Newf(errdefs.ErrInvalid, "invalid --network %q: port_handler %q is not supported (slirp4netns only)", mode, v)
			}
		}
	}
	return u, nil
}

// UserNetOptions say what StartUserNet connects and where it keeps the helper's files.
type UserNetOptions struct {
	ID       string        // the container's ID: names the helper's files
	StateDir string        // a directory of the runtime root for pid files and API sockets
	Ports    []PortMapping // host ports already checked free
}

func helperPidFile(dir, id string) string { return filepath.Join(dir, id+".pid") }
func slirpSocket(dir, id string) string   { return filepath.Join(dir, id+".sock") }

// slirpOpt returns the value of a slirp4netns option, or def.
func (u UserNet) slirpOpt(key, def string) string {
	for _, o := range u.Args {
		if k, v, _ := strings.Cut(o, "="); k == key {
			def = v
		}
	}
	return def
}

// pastaArgs is pasta's command line for a namespace open as fd 3: configure the
// interface, forward DNS and the published ports, nothing from the namespace to the host's
// loopback, write its pid to pidFile (which also names it: the sweep checks its cmdline).
func pastaArgs(u UserNet, ports []PortMapping, pidFile string) []string {
	args := []string{"--config-net", "--netns", "/proc/self/fd/3", "--quiet", "--pid", pidFile,
		"--dns-forward", PastaDNS, "-T", "none", "-U", "none"}
	var tcp, udp []string
	for _, p := range ports {
		spec := portSpec(p)
		if p.Protocol == "udp" {
			udp = append(udp, spec)
		} else {
			tcp = append(tcp, spec)
		}
	}
	if len(tcp) == 0 {
		tcp = []string{"none"}
	}
	if len(udp) == 0 {
		udp = []string{"none"}
	}
	for _, s := range tcp {
		args = append(args, "-t", s)
	}
	for _, s := range udp {
		args = append(args, "-u", s)
	}
	return append(args, u.Args...)
}

// portSpec renders one mapping as pasta's -t/-u SPEC: [ADDR/]HOST[-END]:CTR[-END].
func portSpec(p PortMapping) string {
	n := max(p.Range, 1) - 1
	rng := func(a uint16) string {
		if n == 0 {
			return strconv.Itoa(int(a))
		}
		return fmt.Sprintf("%d-%d", a, a+n)
	}
	s := rng(p.HostPort) + ":" + rng(p.ContainerPort)
	if p.HostIP != "" {
		s = p.HostIP + "/" + s
	}
	return s
}

// slirpArgs is slirp4netns's command line for a namespace open as fd 3, its readiness
// reported on fd 4 and its API socket (which also names it) at sock.
func slirpArgs(u UserNet, sock string) []string {
	args := []string{"--configure", "--mtu=" + u.slirpOpt("mtu", "65520"), "--enable-sandbox", "--enable-seccomp",
		"--api-socket", sock, "--ready-fd", "4", "--netns-type=path"}
	if b, _ := strconv.ParseBool(u.slirpOpt("allow_host_loopback", "false")); !b {
		args = append(args, "--disable-host-loopback")
	}
	if b, _ := strconv.ParseBool(u.slirpOpt("enable_ipv6", "false")); b {
		args = append(args, "--enable-ipv6")
	}
	if c := u.slirpOpt("cidr", ""); c != "" {
		args = append(args, "--cidr", c)
	}
	return append(args, "/proc/self/fd/3", "tap0")
}

// slirpHost returns the nth address of slirp4netns's network (2: the host, 3: DNS).
func (u UserNet) slirpHost(nth byte) string {
	_, n, err := net.ParseCIDR(u.slirpOpt("cidr", slirpCIDR))
	if err != nil || n.IP.To4() == nil {
		return ""
	}
	ip := append(net.IP{}, n.IP.To4()...)
	ip[3] += nth
	return ip.String()
}

// Nameserver is the address a container on u resolves names through, or "" to use the
// host's resolvers as they are (pasta carries traffic to them; PastaDNS stands in for a
// loopback-only host resolver).
func (u UserNet) Nameserver() string {
	if u.Mode == Slirp4netns {
		return u.slirpHost(3)
	}
	return ""
}
