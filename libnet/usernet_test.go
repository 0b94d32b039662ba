package libnet

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseUserNet(t *testing.T) {
	for _, c := range []struct {
		in       string
		want     UserNet
		wantFail bool
	}{
		{in: "pasta", want: UserNet{Mode: Pasta}},
		{in: "pasta:-4,--mtu,1500", want: UserNet{Mode: Pasta, Args: []string{"-4", "--mtu", "1500"}}},
		{in: "slirp4netns", want: UserNet{Mode: Slirp4netns}},
		{in: "slirp4netns:allow_host_loopback=true,cidr=10.9.0.0/24,mtu=1500,enable_ipv6=false,port_handler=slirp4netns",
			want: UserNet{Mode: Slirp4netns, Args: []string{"allow_host_loopback=true", "cidr=10.9.0.0/24", "mtu=1500", "enable_ipv6=false", "port_handler=slirp4netns"}}},
		{in: "pasta:", wantFail: true},
		{in: "pasta:-4,,-6", wantFail: true},
		{in: "slirp4netns:nope=1", wantFail: true},
		{in: "slirp4netns:allow_host_loopback", wantFail: true},
		{in: "slirp4netns:allow_host_loopback=maybe", wantFail: true},
		{in: "slirp4netns:cidr=fd00::/64", wantFail: true},
		{in: "slirp4netns:mtu=10", wantFail: true},
		{in: "slirp4netns:port_handler=rootlesskit", wantFail: true},
		{in: "bridge", wantFail: true},
	} {
		got, err := ParseUserNet(c.in)
		if (err != nil) != c.wantFail || (!c.wantFail && !cmp.Equal(got, c.want)) {
			t.Errorf("ParseUserNet(%q) = %+v, %v", c.in, got, err)
		}
	}
}

func TestPastaArgs(t *testing.T) {
	for _, c := range []struct {
		name  string
		u     UserNet
		ports []PortMapping
		want  string
	}{
		{"no ports", UserNet{Mode: Pasta}, nil, "-t none -u none"},
		{"ports", UserNet{Mode: Pasta, Args: []string{"-4"}}, []PortMapping{
			{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
			{HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
			{HostIP: "::1", HostPort: 9000, ContainerPort: 90, Range: 3, Protocol: "tcp"},
		}, "-t 8080:80 -t ::1/9000-9002:90-92 -u 127.0.0.1/5353:53 -4"},
	} {
		got := strings.Join(pastaArgs(c.u, c.ports, "/run/u/ID.pid"), " ")
		want := "--config-net --netns /proc/self/fd/3 --quiet --pid /run/u/ID.pid --dns-forward 169.254.1.1 -T none -U none " + c.want
		if got != want {
			t.Errorf("%s: pastaArgs = %q, want %q", c.name, got, want)
		}
	}
}

func TestSlirpArgs(t *testing.T) {
	for _, c := range []struct {
		mode, want, host, dns string
	}{
		{"slirp4netns", "--configure --mtu=65520 --enable-sandbox --enable-seccomp --api-socket S --ready-fd 4 --netns-type=path --disable-host-loopback /proc/self/fd/3 tap0", "", "10.0.2.3"},
		{"slirp4netns:allow_host_loopback=true,cidr=10.9.8.0/24,mtu=1500,enable_ipv6=true",
			"--configure --mtu=1500 --enable-sandbox --enable-seccomp --api-socket S --ready-fd 4 --netns-type=path --enable-ipv6 --cidr 10.9.8.0/24 /proc/self/fd/3 tap0", "10.9.8.2", "10.9.8.3"},
	} {
		u, err := ParseUserNet(c.mode)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(slirpArgs(u, "S"), " "); got != c.want {
			t.Errorf("slirpArgs(%q) = %q, want %q", c.mode, got, c.want)
		}
		if got := u.Nameserver(); got != c.dns {
			t.Errorf("Nameserver(%q) = %q, want %q", c.mode, got, c.dns)
		}
		if c.host != "" {
			if got := u.HostGateway(); got != c.host {
				t.Errorf("HostGateway(%q) = %q, want %q", c.mode, got, c.host)
			}
		}
	}
	if got := (UserNet{Mode: Pasta}).Nameserver(); got != "" {
		t.Errorf("pasta Nameserver = %q, want the host's", got)
	}
}
