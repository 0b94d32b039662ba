package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-project/berth/libnet"
)

func TestHostResolvers(t *testing.T) {
	for _, c := range []struct {
		name, host, systemd string
		want                []string
	}{
		{"plain", "nameserver 10.0.0.2\nnameserver 10.0.0.3\n", "", []string{"10.0.0.2", "10.0.0.3"}},
		{"systemd stub replaced", "nameserver 127.0.0.53\noptions edns0\nsearch corp\n", "nameserver 10.1.1.1\nnameserver 10.1.1.2\n", []string{"10.1.1.1", "10.1.1.2"}},
		{"stub without upstreams dropped", "nameserver 127.0.0.53\nnameserver 10.0.0.2\n", "", []string{"10.0.0.2"}},
		{"ipv6 loopback dropped", "nameserver ::1\n", "", nil},
		{"upstream loopback dropped too", "nameserver 127.0.0.1\n", "nameserver 127.0.0.1\nnameserver 10.9.9.9\n", []string{"10.9.9.9"}},
		{"comments ignored", "# nameserver 10.0.0.9\nnameserver 10.0.0.2\n", "", []string{"10.0.0.2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := hostResolvers(c.host, c.systemd).Nameservers; !cmp.Equal(got, c.want) {
				t.Errorf("hostResolvers(%q, %q) = %q, want %q", c.host, c.systemd, got, c.want)
			}
		})
	}
}

func TestResolvFile(t *testing.T) {
	base := parseResolv("search corp.example\nnameserver 10.0.0.2\noptions edns0\n")
	for _, c := range []struct {
		name                     string
		servers, search, options []string
		want                     string
	}{
		{"host's", nil, nil, nil, "search corp.example\nnameserver 10.0.0.2\noptions edns0\n"},
		{"responder and search", []string{"10.124.0.1"}, []string{"dns.berth", "corp.example"}, nil,
			"search dns.berth corp.example\nnameserver 10.124.0.1\noptions edns0\n"},
		{"overrides", []string{"10.9.9.9"}, []string{"."}, []string{"ndots:2"}, "nameserver 10.9.9.9\noptions ndots:2\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := resolvFile(base, c.servers, c.search, c.options); got != c.want {
				t.Errorf("resolvFile = %q, want %q", got, c.want)
			}
		})
	}
}

func TestHostsFile(t *testing.T) {
	got := hostsFile([]hostEntry{{IP: "10.124.0.3", Names: []string{"box", "box", "web"}}}, []string{"db:10.9.9.9", "v6:fd00::1", "gw:host-gateway"},
		"10.124.0.1", []hostEntry{{IP: "10.124.0.2", Names: []string{"api", "backend", "0123456789ab"}}})
	want := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.124.0.3\tbox web\n10.9.9.9\tdb\nfd00::1\tv6\n10.124.0.1\tgw\n10.124.0.2\tapi backend 0123456789ab\n"
	if got != want {
		t.Errorf("hostsFile = %q, want %q", got, want)
	}
}

func TestAddHostLines(t *testing.T) {
	for _, c := range []struct {
		name, gateway string
		want          string
	}{
		{"gateway", "10.124.0.1", "10.9.9.9\tdb\n10.124.0.1\tgw\n"},
		{"no gateway: left out", "", "10.9.9.9\tdb\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := addHostLines([]string{"db:10.9.9.9", "gw:host-gateway"}, c.gateway); got != c.want {
				t.Errorf("addHostLines(%q) = %q, want %q", c.gateway, got, c.want)
			}
		})
	}
}

func TestParseAddHost(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"db:10.0.0.1", "db:10.0.0.1"}, {"db=10.0.0.1", "db:10.0.0.1"}, {"v6:[fd00::1]", "v6:fd00::1"}, {"v6=fd00::1", "v6:fd00::1"},
		{"gw:host-gateway", "gw:host-gateway"}, {"nocolon", ""}, {"db:notanip", ""}, {":10.0.0.1", ""},
	} {
		got, err := ParseAddHost(c.in)
		if (err != nil) != (c.want == "") || got != c.want {
			t.Errorf("ParseAddHost(%q) = %q, %v, want %q", c.in, got, err, c.want)
		}
	}
}

func TestParseNetworkMode(t *testing.T) {
	for _, c := range []struct {
		in       []string
		mode     string
		nets     []string
		wantFail bool
	}{
		{nil, "", nil, false},
		{[]string{"none"}, "none", nil, false},
		{[]string{"host"}, "host", nil, false},
		{[]string{"container:web"}, "container:web", nil, false},
		{[]string{"bridge"}, "", []string{"berth"}, false},
		{[]string{"a", "b"}, "", []string{"a", "b"}, false},
		{[]string{"none", "a"}, "", nil, true},
		{[]string{"a", "a"}, "", nil, true},
		{[]string{"container:"}, "", nil, true},
		{[]string{"pasta"}, "pasta", nil, false},
		{[]string{"pasta:-4,--mtu,1500"}, "pasta:-4,--mtu,1500", nil, false},
		{[]string{"pasta:"}, "", nil, true},
		{[]string{"slirp4netns:allow_host_loopback=true,cidr=10.9.0.0/24"}, "slirp4netns:allow_host_loopback=true,cidr=10.9.0.0/24", nil, false},
		{[]string{"slirp4netns:bogus=1"}, "", nil, true},
		{[]string{"slirp4netns:mtu=x"}, "", nil, true},
		{[]string{"pasta", "a"}, "", nil, true},
		{[]string{""}, "", nil, true},
	} {
		mode, nets, err := ParseNetworkMode(c.in, "berth")
		if (err != nil) != c.wantFail || mode != c.mode || !cmp.Equal(nets, c.nets) {
			t.Errorf("ParseNetworkMode(%q) = %q, %q, %v", c.in, mode, nets, err)
		}
	}
}

func TestFormatPorts(t *testing.T) {
	ports := []libnet.PortMapping{
		{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
		{HostPort: 9000, ContainerPort: 90, Range: 3, Protocol: "tcp"},
		{HostIP: "::1", HostPort: 8443, ContainerPort: 443, Protocol: "tcp"},
	}
	want := "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp, 0.0.0.0:9000-9002->90-92/tcp, [::1]:8443->443/tcp"
	if got := FormatPorts(ports); got != want {
		t.Errorf("FormatPorts = %q, want %q", got, want)
	}
	m := PortMap(ports)
	if got := m["91/tcp"]; len(got) != 1 || got[0] != (PortBinding{HostIP: "0.0.0.0", HostPort: "9001"}) {
		t.Errorf("PortMap[91/tcp] = %+v", got)
	}
	if len(m) != 6 {
		t.Errorf("PortMap has %d keys, want 6", len(m))
	}
}

func TestExposedPorts(t *testing.T) {
	got := exposedPorts(map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8080": {}, "bad/tcp": {}, "0/tcp": {}, "22/sctp": {}})
	want := []libnet.PortMapping{{ContainerPort: 53, Protocol: "udp"}, {ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 8080, Protocol: "tcp"}}
	if !cmp.Equal(got, want) {
		t.Errorf("exposedPorts = %+v, want %+v", got, want)
	}
}
