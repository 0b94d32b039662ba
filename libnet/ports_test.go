package libnet

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/google/go-cmp/cmp"
)

func TestParsePorts(t *testing.T) {
	tests := []struct {
		name  string
		specs []string
		want  []PortMapping
	}{
		{"container only", []string{"80"}, []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}},
		{"host and container", []string{"8080:80"}, []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{"udp", []string{"53:53/udp"}, []PortMapping{{HostPort: 53, ContainerPort: 53, Protocol: "udp"}}},
		{"upper case proto", []string{"53/UDP"}, []PortMapping{{ContainerPort: 53, Protocol: "udp"}}},
		{"ip host container", []string{"127.0.0.1:8080:80"}, []PortMapping{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{"ip random host", []string{"127.0.0.1::80"}, []PortMapping{{HostIP: "127.0.0.1", ContainerPort: 80, Protocol: "tcp"}}},
		{"ipv6", []string{"[::1]:8080:80"}, []PortMapping{{HostIP: "::1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{"ipv6 random", []string{"[::1]::80/udp"}, []PortMapping{{HostIP: "::1", ContainerPort: 80, Protocol: "udp"}}},
		{"ranges", []string{"8000-8010:80-90"}, []PortMapping{{HostPort: 8000, ContainerPort: 80, Range: 11, Protocol: "tcp"}}},
		{"container range random", []string{"80-82"}, []PortMapping{
			{ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 81, Protocol: "tcp"}, {ContainerPort: 82, Protocol: "tcp"}}},
		{"explicit zero host", []string{"0:80"}, []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}},
		{"same port tcp and udp", []string{"53:53", "53:53/udp"}, []PortMapping{
			{HostPort: 53, ContainerPort: 53, Protocol: "tcp"}, {HostPort: 53, ContainerPort: 53, Protocol: "udp"}}},
		{"same port two ips", []string{"127.0.0.1:80:80", "127.0.0.2:80:80"}, []PortMapping{
			{HostIP: "127.0.0.1", HostPort: 80, ContainerPort: 80, Protocol: "tcp"},
			{HostIP: "127.0.0.2", HostPort: 80, ContainerPort: 80, Protocol: "tcp"}}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePorts(tt.specs)
			if err != nil {
				t.Fatalf("ParsePorts(%q) error: %v", tt.specs, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePorts(%q) mismatch (-want +got):\n%s", tt.specs, diff)
			}
		})
	}
}

func TestParsePortsInvalid(t *testing.T) {
	tests := []struct {
		name, spec string
	}{
		{"empty", ""},
		{"not a number", "http"},
		{"too big", "70000"},
		{"zero container", "8080:0"},
		{"bad proto", "80/sctp"},
		{"range size mismatch", "8000-8010:80"},
		{"range sizes differ", "8000-8001:80-85"},
		{"reversed range", "90-80"},
		{"bad ip", "1.2.3:80:80"},
		{"bare ipv6", "::1:80:80"},
		{"ipv6 in brackets not v6", "[1.2.3.4]:80:80"},
		{"unterminated bracket", "[::1:80"},
		{"too many colons", "1:2:3:4"},
		{"empty host range start", "-5:80"},
		{"duplicate", "8080:80,8080:81"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs := strings.Split(tt.spec, ",")
			_, err := ParsePorts(specs)
			if err == nil {
				t.Fatalf("ParsePorts(%q) = nil error, want one", specs)
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("ParsePorts(%q) = %v, want ErrInvalid", specs, err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(specs[len(specs)-1])) {
				t.Errorf("ParsePorts(%q) = %q, want the value named", specs, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("ParsePorts(%q) error has several lines: %q", specs, err)
			}
		})
	}
}

func TestFreePortAndCheck(t *testing.T) {
	for _, proto := range []string{"tcp", "udp"} {
		p, err := FreePort(proto, "127.0.0.1")
		if err != nil {
			t.Fatalf("FreePort(%s): %v", proto, err)
		}
		if p == 0 {
			t.Fatalf("FreePort(%s) = 0", proto)
		}
		if err := CheckPortFree(proto, "127.0.0.1", p); err != nil {
			t.Errorf("CheckPortFree(%s, %d) on a free port = %v", proto, p, err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	err = CheckPortFree("tcp", "127.0.0.1", port)
	if !errors.Is(err, errdefs.ErrInUse) {
		t.Fatalf("CheckPortFree on a bound port = %v, want ErrInUse", err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(int(port))) {
		t.Errorf("CheckPortFree error %q does not name port %d", err, port)
	}
	if _, err := FreePort("sctp", ""); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("FreePort(sctp) = %v, want ErrInvalid", err)
	}
}

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"80", "8080:80", "127.0.0.1::80/udp", "[::1]:8080:80", "8000-8010:80-90", "80-82", "1:2:3:4", "[::1", "65535-65535:1-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ms, err := ParsePorts([]string{spec})
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("ParsePorts(%q) = %v, want a one-line ErrInvalid", spec, err)
			}
			return
		}
		for _, m := range ms {
			n := int(max(m.Range, 1))
			if m.ContainerPort == 0 || int(m.ContainerPort)+n-1 > 65535 || int(m.HostPort)+n-1 > 65535 {
				t.Fatalf("ParsePorts(%q) = %+v: port out of range", spec, m)
			}
			if m.Protocol != "tcp" && m.Protocol != "udp" {
				t.Fatalf("ParsePorts(%q) = %+v: bad protocol", spec, m)
			}
			if m.HostIP != "" && net.ParseIP(m.HostIP) == nil {
				t.Fatalf("ParsePorts(%q) = %+v: bad host IP", spec, m)
			}
			if m.HostPort == 0 && m.Range > 1 {
				t.Fatalf("ParsePorts(%q) = %+v: random host port with a range", spec, m)
			}
		}
	})
}
