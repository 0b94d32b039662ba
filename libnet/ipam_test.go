package libnet

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestParseSubnet(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"10.1.2.0/24", "10.1.2.0/24", ""},
		{"fd00:1::/64", "fd00:1::/64", ""},
		{"10.1.2.3/24", "", "host bits set"},
		{"10.1.2.0/31", "", "too small"},
		{"fd00::/127", "", "too small"},
		{"bogus", "", "not a CIDR"},
		{"10.1.2.0", "", "not a CIDR"},
	}
	for _, tt := range tests {
		got, err := ParseSubnet(tt.in)
		if tt.err != "" {
			if err == nil || !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.in) {
				t.Errorf("ParseSubnet(%q) = %v, want ErrInvalid containing %q and the value", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseSubnet(%q) = %v, %v, want %s", tt.in, got, err, tt.want)
		}
		if !IsIPv6(got) != (strings.Contains(tt.want, ".")) {
			t.Errorf("IsIPv6(%s) = %v", got, IsIPv6(got))
		}
	}
}

func TestValidateSubnet(t *testing.T) {
	tests := []struct {
		name string
		sub  Subnet
		err  string
	}{
		{"plain", Subnet{Subnet: "10.9.0.0/24"}, ""},
		{"gateway", Subnet{Subnet: "10.9.0.0/24", Gateway: "10.9.0.254"}, ""},
		{"range", Subnet{Subnet: "10.9.0.0/16", IPRange: "10.9.5.0/24"}, ""},
		{"gateway outside", Subnet{Subnet: "10.9.0.0/24", Gateway: "10.9.1.1"}, "10.9.1.1"},
		{"gateway is network", Subnet{Subnet: "10.9.0.0/24", Gateway: "10.9.0.0"}, "10.9.0.0"},
		{"gateway is broadcast", Subnet{Subnet: "10.9.0.0/24", Gateway: "10.9.0.255"}, "10.9.0.255"},
		{"gateway garbage", Subnet{Subnet: "10.9.0.0/24", Gateway: "x"}, `"x"`},
		{"range outside", Subnet{Subnet: "10.9.0.0/24", IPRange: "10.9.1.0/25"}, "10.9.1.0/25"},
		{"range bigger", Subnet{Subnet: "10.9.0.0/24", IPRange: "10.9.0.0/16"}, "10.9.0.0/16"},
		{"range garbage", Subnet{Subnet: "10.9.0.0/24", IPRange: "nope"}, "nope"},
		{"bad subnet", Subnet{Subnet: "10.9.0.0/33"}, "10.9.0.0/33"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSubnet(tt.sub)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("ValidateSubnet(%+v) = %v", tt.sub, err)
				}
				return
			}
			if err == nil || !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("ValidateSubnet(%+v) = %v, want ErrInvalid naming %s", tt.sub, err, tt.err)
			}
		})
	}
}

func TestGatewayAndContains(t *testing.T) {
	if got := DefaultGateway(mustCIDR(t, "10.2.3.0/24")); got.String() != "10.2.3.1" {
		t.Errorf("DefaultGateway(10.2.3.0/24) = %s", got)
	}
	if got := DefaultGateway(mustCIDR(t, "fd00:5::/64")); got.String() != "fd00:5::1" {
		t.Errorf("DefaultGateway(fd00:5::/64) = %s", got)
	}
	gw, _, err := GatewayIP(Subnet{Subnet: "10.2.3.0/24", Gateway: "10.2.3.9"})
	if err != nil || gw.String() != "10.2.3.9" {
		t.Errorf("GatewayIP = %v, %v", gw, err)
	}
	sub := Subnet{Subnet: "10.2.3.0/24"}
	if !Contains(sub, net.ParseIP("10.2.3.77")) || Contains(sub, net.ParseIP("10.2.4.1")) {
		t.Errorf("Contains is wrong")
	}
	if err := ValidateIP(sub, net.ParseIP("10.2.3.77")); err != nil {
		t.Errorf("ValidateIP(10.2.3.77) = %v", err)
	}
	for _, ip := range []string{"10.2.4.1", "10.2.3.0", "10.2.3.1", "10.2.3.255"} {
		err := ValidateIP(sub, net.ParseIP(ip))
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), ip) {
			t.Errorf("ValidateIP(%s) = %v, want ErrInvalid naming it", ip, err)
		}
	}
	if !SubnetContains(mustCIDR(t, "10.0.0.0/8"), mustCIDR(t, "10.1.0.0/16")) || SubnetContains(mustCIDR(t, "10.1.0.0/16"), mustCIDR(t, "10.0.0.0/8")) {
		t.Errorf("SubnetContains is wrong")
	}
}

func TestAllocateIP(t *testing.T) {
	tests := []struct {
		name string
		sub  Subnet
		used []string
		want string
		err  bool
	}{
		{"first", Subnet{Subnet: "10.5.0.0/24"}, nil, "10.5.0.2", false},
		{"skips used", Subnet{Subnet: "10.5.0.0/24"}, []string{"10.5.0.2", "10.5.0.3"}, "10.5.0.4", false},
		{"gateway elsewhere", Subnet{Subnet: "10.5.0.0/24", Gateway: "10.5.0.254"}, nil, "10.5.0.1", false},
		{"gateway in the way", Subnet{Subnet: "10.5.0.0/24", Gateway: "10.5.0.2"}, []string{"10.5.0.1"}, "10.5.0.3", false},
		{"ip range", Subnet{Subnet: "10.5.0.0/16", IPRange: "10.5.7.0/24"}, nil, "10.5.7.1", false},
		{"ip range at start skips network", Subnet{Subnet: "10.5.0.0/16", IPRange: "10.5.0.0/30"}, nil, "10.5.0.2", false},
		{"full /30", Subnet{Subnet: "10.5.0.0/30"}, []string{"10.5.0.2"}, "", true},
		{"never broadcast", Subnet{Subnet: "10.5.0.0/29"}, []string{"10.5.0.2", "10.5.0.3", "10.5.0.4", "10.5.0.5", "10.5.0.6"}, "", true},
		{"ipv6", Subnet{Subnet: "fd00:7::/64"}, []string{"fd00:7::2"}, "fd00:7::3", false},
		{"bad subnet", Subnet{Subnet: "x"}, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			used := map[string]bool{}
			for _, u := range tt.used {
				used[u] = true
			}
			got, err := AllocateIP(tt.sub, func(ip net.IP) bool { return used[ip.String()] })
			if tt.err {
				if err == nil {
					t.Fatalf("AllocateIP(%+v) = %s, want error", tt.sub, got)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("AllocateIP(%+v) = %v, %v, want %s", tt.sub, got, err, tt.want)
			}
		})
	}
}

func TestNextFreeSubnet(t *testing.T) {
	tests := []struct {
		name  string
		taken []string
		pool  string
		want  string
	}{
		{"empty", nil, "10.124.0.0/16", "10.124.0.0/24"},
		{"skip taken", []string{"10.124.0.0/24", "10.124.1.0/24"}, "10.124.0.0/16", "10.124.2.0/24"},
		{"skip wide route", []string{"10.124.0.0/23"}, "10.124.0.0/16", "10.124.2.0/24"},
		{"skip narrow route", []string{"10.124.0.128/25"}, "10.124.0.0/16", "10.124.1.0/24"},
		{"ignores other family", []string{"fd00::/8"}, "10.124.0.0/16", "10.124.0.0/24"},
		{"pool smaller than step", nil, "10.124.0.0/26", "10.124.0.0/26"},
		{"ipv6", []string{"fd00:124::/64"}, "fd00:124::/48", "fd00:124:0:1::/64"},
		{"full", []string{"10.124.0.0/16"}, "10.124.0.0/16", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var taken []*net.IPNet
			for _, s := range tt.taken {
				taken = append(taken, mustCIDR(t, s))
			}
			got, err := NextFreeSubnet(taken, tt.pool)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("NextFreeSubnet = %s, want error", got)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("NextFreeSubnet(%v, %s) = %v, %v, want %s", tt.taken, tt.pool, got, err, tt.want)
			}
		})
	}
	if _, err := NextFreeSubnet(nil, "bad"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("NextFreeSubnet(bad pool) = %v, want ErrInvalid", err)
	}
}

func TestNames(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		got, want string
	}{
		{VethName(id, 0), "vb012345678_0"},
		{VethName(id, 999), "vb012345678_999"},
		{VethName("c1", 2), "vbc1_2"},
		{BridgeName(0), "berth0"},
		{BridgeName(12), "berth12"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
		if len(tt.got) > 15 {
			t.Errorf("%q is longer than IFNAMSIZ-1", tt.got)
		}
	}
	mac := GenerateMAC(net.ParseIP("10.1.2.3"))
	if mac.String() != "02:b3:0a:01:02:03" {
		t.Errorf("GenerateMAC(10.1.2.3) = %s", mac)
	}
	if mac[0]&0x02 == 0 || mac[0]&0x01 != 0 {
		t.Errorf("GenerateMAC %s is not locally administered unicast", mac)
	}
	if GenerateMAC(net.ParseIP("fd00::1:2")).String() != "02:b3:00:01:00:02" {
		t.Errorf("GenerateMAC(fd00::1:2) = %s", GenerateMAC(net.ParseIP("fd00::1:2")))
	}
}

func FuzzSubnet(f *testing.F) {
	f.Add("10.5.0.0/24", "10.5.0.1", "10.5.0.128/25")
	f.Add("fd00::/64", "", "")
	f.Add("10.5.0.0/30", "10.5.0.2", "")
	f.Add("1.2.3.4/33", "x", "y")
	f.Fuzz(func(t *testing.T, subnet, gateway, ipRange string) {
		sub := Subnet{Subnet: subnet, Gateway: gateway, IPRange: ipRange}
		err := ValidateSubnet(sub)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("ValidateSubnet(%+v) = %v, want a one-line ErrInvalid", sub, err)
			}
			return
		}
		n, _ := ParseSubnet(subnet)
		n2 := 0
		ip, err := AllocateIP(sub, func(net.IP) bool { n2++; return n2 < 3 })
		if err != nil {
			return // a tiny subnet or range may have no address left
		}
		if !n.Contains(ip) || ValidateIP(sub, ip) != nil {
			t.Fatalf("AllocateIP(%+v) = %s, not a usable address of the subnet", sub, ip)
		}
	})
}

func TestAllocateIPAfter(t *testing.T) {
	tests := []struct {
		name   string
		sub    Subnet
		last   string
		used   []string
		want   string
		probes int // addresses asked about, at most
	}{
		{"after the last", Subnet{Subnet: "10.5.0.0/16"}, "10.5.3.7", nil, "10.5.3.8", 1},
		{"no last", Subnet{Subnet: "10.5.0.0/16"}, "", nil, "10.5.0.2", 1},
		{"last outside the pool", Subnet{Subnet: "10.5.0.0/16"}, "10.6.0.9", nil, "10.5.0.2", 1},
		{"skips used after last", Subnet{Subnet: "10.5.0.0/16"}, "10.5.0.9", []string{"10.5.0.10"}, "10.5.0.11", 2},
		{"crosses a byte", Subnet{Subnet: "10.5.0.0/16"}, "10.5.0.255", nil, "10.5.1.0", 1},
		{"wraps past broadcast", Subnet{Subnet: "10.5.0.0/24"}, "10.5.0.254", []string{"10.5.0.2"}, "10.5.0.3", 2},
		{"range", Subnet{Subnet: "10.5.0.0/16", IPRange: "10.5.7.0/24"}, "10.5.7.40", nil, "10.5.7.41", 1},
		{"ipv6", Subnet{Subnet: "fd00:7::/64"}, "fd00:7::1:ff", nil, "fd00:7::1:100", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			used := map[string]bool{}
			for _, u := range tt.used {
				used[u] = true
			}
			probes := 0
			got, err := AllocateIPAfter(tt.sub, net.ParseIP(tt.last), func(ip net.IP) bool { probes++; return used[ip.String()] })
			if err != nil || got.String() != tt.want || probes > tt.probes {
				t.Errorf("AllocateIPAfter(%+v, %s) = %s, %v after %d probes, want %s after at most %d", tt.sub, tt.last, got, err, probes, tt.want, tt.probes)
			}
		})
	}
}
