package dns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzReverseAddr: PTR names come from containers; whatever they send, a name that parses
// maps back to itself.
func FuzzReverseAddr(f *testing.F) {
	f.Add("2.0.88.10.in-addr.arpa.")
	f.Add("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.")
	f.Add("..in-addr.arpa")
	f.Fuzz(func(t *testing.T, name string) {
		a, ok := reverseAddr(name)
		if !ok {
			return
		}
		back, err := dns.ReverseAddr(a.String())
		if err != nil {
			t.Fatalf("reverseAddr(%q) = %v, which does not reverse: %v", name, a, err)
		}
		if again, ok := reverseAddr(back); !ok || again != a {
			t.Errorf("reverseAddr(%q) = %v; its reverse name %q gives %v, %v", name, a, back, again, ok)
		}
	})
}

// FuzzParseHosts: any hosts content parses, and every name found maps to addresses that map
// back to it.
func FuzzParseHosts(f *testing.F) {
	f.Add(testHosts)
	f.Add("::ffff:1.2.3.4 A a. # x\n\x00 \t")
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := parseHosts(strings.NewReader(in))
		if err != nil {
			return // a line longer than the scanner's buffer
		}
		for n, addrs := range tab.byName {
			if n != strings.ToLower(n) || strings.HasSuffix(n, ".") {
				t.Errorf("name %q kept its case or trailing dot", n)
			}
			for _, a := range addrs {
				if !containsName(tab.names(a), n) || a != a.Unmap() {
					t.Errorf("%q -> %v, but not back", n, a)
				}
			}
		}
	})
}

// FuzzAnswer: any message a container sends gets an answer without a panic, and the answer
// is a reply to it.
func FuzzAnswer(f *testing.F) {
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, hostsFile), []byte(testHosts), 0o644); err != nil {
		f.Fatal(err)
	}
	r := &responder{hostsPath: filepath.Join(dir, hostsFile)}
	for _, q := range []struct {
		name string
		t    uint16
	}{{"web.", dns.TypeA}, {"WEB.dns.berth.", dns.TypeAAAA}, {"2.0.88.10.in-addr.arpa.", dns.TypePTR}, {"x.", dns.TypeMX}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.t)
		b, _ := m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(dns.Msg)
		if req.Unpack(b) != nil {
			return
		}
		for _, overTCP := range []bool{false, true} {
			m := r.answer(req, overTCP)
			if m == nil || m.Id != req.Id || !m.Response {
				t.Fatalf("answer to %v = %v, want a reply with id %d", req, m, req.Id)
			}
			if _, err := m.Pack(); err != nil {
				t.Fatalf("answer to %v does not pack: %v", req, err)
			}
		}
	})
}
