package engine

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/libnet"
	"github.com/berth-project/berth/libnet/dns"
)

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
	gateway := ""
	if c.Net != nil {
		for _, a := range c.Net.Attachments {
			if gateway == "" && a.Network.Driver == "bridge" {
				gateway = ipv4Gateway(a.Network)
			}
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
	if c.Net != nil && c.Net.UserNet != "" {
		// A user-mode network reaches the host at an address of the helper's choosing, named
		// as podman names it.
		if u, err := libnet.ParseUserNet(c.Net.UserNet); err == nil {
			if gateway = u.HostGateway(); gateway != "" {
				own = append(own, hostEntry{IP: gateway, Names: []string{"host.containers.internal"}})
			}
		}
	}
	return hostsFile(own, c.Options.AddHosts, gateway, others)
}

// onDNSNetwork says whether c holds an address on a network with name resolution.
func onDNSNetwork(c *Container) bool {
	if c.Net != nil {
		for _, a := range c.Net.Attachments {
			if a.Network.DNS {
				return true
			}
		}
	}
	return false
}

// ipv4Gateway is n's first IPv4 gateway: the host's address on a bridge network.
func ipv4Gateway(n libnet.Network) string {
	for _, s := range n.Subnets {
		if s.Gateway != "" && net.ParseIP(s.Gateway).To4() != nil {
			return s.Gateway
		}
	}
	return ""
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
		hosts = string(b) + addHostLines(o.AddHosts, "127.0.0.1") // the host is local here
		r, _ := os.ReadFile("/etc/resolv.conf")                   // the host's own stub is reachable here
		return hosts, resolvFile(parseResolv(string(r)), o.DNS, o.DNSSearch, o.DNSOptions), nil
	case strings.HasPrefix(o.Network, "container:"):
		id := strings.TrimPrefix(o.Network, "container:")
		h, _ := os.ReadFile(filepath.Join(e.containerRunDir(id), "hosts"))
		r, _ := os.ReadFile(filepath.Join(e.containerRunDir(id), "resolv.conf"))
		return string(h), string(r), nil
	}
	var cs []*Container
	if onDNSNetwork(c) { // only there does its hosts file list the other containers
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
	if c.Net != nil && c.Net.UserNet != "" {
		if u, err := libnet.ParseUserNet(c.Net.UserNet); err == nil {
			switch {
			case u.Nameserver() != "":
				servers = []string{u.Nameserver()}
			case len(base.Nameservers) == 0 && u.Mode == libnet.Pasta:
				servers = []string{libnet.PastaDNS} // pasta forwards it to the host's resolver
			}
		}
	}
	if len(o.DNS) > 0 {
		servers = o.DNS
	}
	if len(o.DNSSearch) > 0 {
		search = o.DNSSearch
	}
	return hosts, resolvFile(base, dedupe(servers), search, o.DNSOptions), nil
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
