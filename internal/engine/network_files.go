package engine

import (
	"net"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// hostEntry is one line of a hosts file: an address and its names.
type hostEntry struct {
	IP    string
	Names []string
}

// ParseAddHost checks one --add-host NAME:IP (or NAME=IP, as newer Docker writes it; IPv6
// addresses may be in brackets) and returns it as NAME:IP.
func ParseAddHost(spec string) (string, error) {
	name, ip, ok := strings.Cut(spec, "=")
	if !ok {
		name, ip, ok = strings.Cut(spec, ":")
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if !ok || name == "" || strings.ContainsAny(name, " \t") || (net.ParseIP(ip) == nil && ip != "host-gateway") {
		return "", errdefs.Newf(errdefs.ErrInvalid, "invalid --add-host %q: want NAME:IP", spec)
	}
	return name + ":" + ip, nil
}

// hostsFile renders a container's /etc/hosts: the loopback names, its own addresses, the
// --add-host entries and the other containers of its user-defined networks.
func hostsFile(own []hostEntry, addHosts []string, hostGateway string, others []hostEntry) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, h := range own {
		b.WriteString(h.IP + "\t" + strings.Join(dedupe(h.Names), " ") + "\n")
	}
	b.WriteString(addHostLines(addHosts, hostGateway))
	for _, h := range others {
		b.WriteString(h.IP + "\t" + strings.Join(dedupe(h.Names), " ") + "\n")
	}
	return b.String()
}

// addHostLines renders --add-host entries, stored as NAME:IP ([ParseAddHost]), as hosts
// file lines. host-gateway stands for hostGateway, the host's address as the container
// reaches it (as Docker's host-gateway-ip); with none the entry is left out rather than
// written as a line no resolver can read.
func addHostLines(addHosts []string, hostGateway string) string {
	var b strings.Builder
	for _, a := range addHosts {
		name, ip, _ := strings.Cut(a, ":") // the first colon: the IP may be IPv6
		if ip == "host-gateway" {
			if ip = hostGateway; ip == "" {
				continue
			}
		}
		b.WriteString(ip + "\t" + name + "\n")
	}
	return b.String()
}

func dedupe(names []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// resolvConfig is what a resolv.conf says that matters to a container.
type resolvConfig struct {
	Nameservers, Search, Options []string
}

func parseResolv(content string) resolvConfig {
	var r resolvConfig
	for _, l := range strings.Split(content, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			r.Nameservers = append(r.Nameservers, f[1])
		case "search", "domain":
			r.Search = f[1:]
		case "options":
			r.Options = append(r.Options, f[1:]...)
		}
	}
	return r
}

func isLoopback(ns string) bool {
	ip := net.ParseIP(strings.SplitN(ns, "%", 2)[0])
	return ip != nil && ip.IsLoopback()
}

// hostResolvers returns the host's name servers a container can reach: loopback ones (a
// local stub such as systemd-resolved's 127.0.0.53 is not there inside the container's
// network namespace) are replaced by the stub's upstreams from systemd (the content of
// /run/systemd/resolve/resolv.conf, "" if absent), or dropped.
func hostResolvers(host, systemd string) resolvConfig {
	r := parseResolv(host)
	var out []string
	replaced := false
	for _, ns := range r.Nameservers {
		if !isLoopback(ns) {
			out = append(out, ns)
			continue
		}
		if !replaced {
			replaced = true
			for _, up := range parseResolv(systemd).Nameservers {
				if !isLoopback(up) {
					out = append(out, up)
				}
			}
		}
	}
	r.Nameservers = dedupe(out)
	return r
}

// resolvFile renders a container's /etc/resolv.conf from the host's resolvers (see
// [hostResolvers]) or the name servers given (the network's DNS responder, --dns), with
// --dns-search and --dns-option replacing the host's when set ("." clears the search list).
func resolvFile(base resolvConfig, nameservers, search, options []string) string {
	r := base
	if len(nameservers) > 0 {
		r.Nameservers = nameservers
	}
	if len(search) > 0 {
		r.Search = nil
		for _, s := range search {
			if s != "." {
				r.Search = append(r.Search, s)
			}
		}
	}
	if len(options) > 0 {
		r.Options = options
	}
	var b strings.Builder
	if len(r.Search) > 0 {
		b.WriteString("search " + strings.Join(r.Search, " ") + "\n")
	}
	for _, ns := range r.Nameservers {
		b.WriteString("nameserver " + ns + "\n")
	}
	if len(r.Options) > 0 {
		b.WriteString("options " + strings.Join(r.Options, " ") + "\n")
	}
	return b.String()
}
