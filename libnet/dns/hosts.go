package dns

import (
	"bufio"
	"io"
	"net/netip"
	"strings"
)

// hostsTable is the parsed hosts file: names (lower case, no trailing dot) to addresses and
// addresses to names, both in file order.
type hostsTable struct {
	byName map[string][]netip.Addr
	byAddr map[netip.Addr][]string
}

// entries is how many (address, name) pairs the table holds.
func (t *hostsTable) entries() int {
	if t == nil {
		return 0
	}
	return len(t.byName)
}

func (t *hostsTable) lookup(name string) ([]netip.Addr, bool) {
	if t == nil {
		return nil, false
	}
	a, ok := t.byName[name]
	return a, ok
}

func (t *hostsTable) names(a netip.Addr) []string {
	if t == nil {
		return nil
	}
	return t.byAddr[a]
}

// parseHosts reads hosts-file lines ("IP name alias... # comment"). Lines whose first field
// is not an address, or that name nothing, are skipped: a half-written line must not stop
// every other name from resolving.
func parseHosts(r io.Reader) (*hostsTable, error) {
	t := &hostsTable{byName: map[string][]netip.Addr{}, byAddr: map[netip.Addr][]string{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil || a.Zone() != "" {
			continue
		}
		a = a.Unmap()
		for _, n := range f[1:] {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			if n == "" {
				continue
			}
			if !containsAddr(t.byName[n], a) {
				t.byName[n] = append(t.byName[n], a)
			}
			if !containsName(t.byAddr[a], n) {
				t.byAddr[a] = append(t.byAddr[a], n)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

func containsAddr(s []netip.Addr, a netip.Addr) bool {
	for _, x := range s {
		if x == a {
			return true
		}
	}
	return false
}

func containsName(s []string, n string) bool {
	for _, x := range s {
		if x == n {
			return true
		}
	}
	return false
}

// reverseAddr turns a PTR question name (4.3.2.1.in-addr.arpa., or 32 nibbles then
// ip6.arpa.) into the address it asks about.
func reverseAddr(name string) (netip.Addr, bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		l := strings.Split(rest, ".")
		if len(l) != 4 {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(l[3] + "." + l[2] + "." + l[1] + "." + l[0])
		return a, err == nil
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		l := strings.Split(rest, ".")
		if len(l) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, nib := range l {
			if len(nib) != 1 {
				return netip.Addr{}, false
			}
			v := strings.IndexByte("0123456789abcdef", nib[0])
			if v < 0 {
				return netip.Addr{}, false
			}
			// l[0] is the lowest nibble of the last byte.
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= byte(v) << 4
			} else {
				b[pos/2] |= byte(v)
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
