package cli

import (
	"net"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/libnet"
)

// NetworkRequests turns the networks --network named (mode and nets, as engine.ParseNetworkMode
// returns them), --ip, --mac-address and --network-alias into the networks to join, as create, run
// and pod create take them: the address goes to the first network, and an address or alias without
// a network joins the default one.
func NetworkRequests(mode string, nets []string, ip, mac string, aliases []string, defaultNetwork string) ([]engine.NetworkRequest, error) {
	var reqs []engine.NetworkRequest
	for i, n := range nets {
		r := engine.NetworkRequest{Name: n, Aliases: aliases}
		if i == 0 {
			r.IP, r.MAC = ip, mac
		}
		reqs = append(reqs, r)
	}
	if ip == "" && mac == "" && len(aliases) == 0 {
		return reqs, nil
	}
	switch {
	case mode != "":
		return nil, Invalid("--ip, --mac-address and --network-alias need a network, not --network %s", mode)
	case len(nets) == 0:
		reqs = []engine.NetworkRequest{{Name: defaultNetwork, IP: ip, MAC: mac, Aliases: aliases}}
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return nil, Invalid("invalid --ip %q: not an IP address", ip)
	}
	if mac != "" {
		if _, err := net.ParseMAC(mac); err != nil {
			return nil, Invalid("invalid --mac-address %q", mac)
		}
	}
	return reqs, nil
}

// PortsHostsDNS validates --publish, --add-host and --dns into the ports to publish and the
// NAME:IP entries for /etc/hosts.
func PortsHostsDNS(publish, addHosts, dns []string) ([]libnet.PortMapping, []string, error) {
	ports, err := engine.ParsePorts(publish)
	if err != nil {
		return nil, nil, err
	}
	var hosts []string
	for _, h := range addHosts {
		v, err := engine.ParseAddHost(h)
		if err != nil {
			return nil, nil, err
		}
		hosts = append(hosts, v)
	}
	for _, d := range dns {
		if net.ParseIP(d) == nil {
			return nil, nil, Invalid("invalid --dns %q: not an IP address", d)
		}
	}
	return ports, hosts, nil
}
