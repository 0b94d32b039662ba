package dns

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseHosts(t *testing.T) {
	const in = `# berth network hosts
10.88.0.2 web Web-Alias 1234abcd
fd00::2   web
10.88.0.3 db.  # trailing dot, comment
not-an-ip foo
10.88.0.4
fe80::1%eth0 zoned
::ffff:10.88.0.5 mapped
10.88.0.2 web
`
	tab, err := parseHosts(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	tests := []struct {
		name string
		want []netip.Addr
	}{
		{"web", []netip.Addr{a("10.88.0.2"), a("fd00::2")}},
		{"web-alias", []netip.Addr{a("10.88.0.2")}},
		{"1234abcd", []netip.Addr{a("10.88.0.2")}},
		{"db", []netip.Addr{a("10.88.0.3")}},
		{"mapped", []netip.Addr{a("10.88.0.5")}},
		{"foo", nil},
		{"zoned", nil},
	}
	for _, tc := range tests {
		got, _ := tab.lookup(tc.name)
		if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
			t.Errorf("lookup(%q) mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
	if got, want := tab.names(a("10.88.0.2")), []string{"web", "web-alias", "1234abcd"}; !cmp.Equal(got, want) {
		t.Errorf("names(10.88.0.2) = %v, want %v", got, want)
	}
	if got := tab.entries(); got != 5 {
		t.Errorf("entries() = %d, want 5", got)
	}
}

func TestReverseAddr(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for not a reverse name
	}{
		{"2.0.88.10.in-addr.arpa.", "10.88.0.2"},
		{"2.0.88.10.IN-ADDR.ARPA", "10.88.0.2"},
		{"2.0.88.in-addr.arpa.", ""},
		{"x.0.88.10.in-addr.arpa.", ""},
		{"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", "fd00::2"},
		{"b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", "fd00::ab"},
		{"0.0.d.f.ip6.arpa.", ""},
		{"web.", ""},
	}
	for _, tc := range tests {
		got, ok := reverseAddr(tc.in)
		if tc.want == "" {
			if ok {
				t.Errorf("reverseAddr(%q) = %v, want not ok", tc.in, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(tc.want) {
			t.Errorf("reverseAddr(%q) = %v, %v, want %s", tc.in, got, ok, tc.want)
		}
	}
}
