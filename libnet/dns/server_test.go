package dns

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const testHosts = `10.88.0.2 web web-alias
fd00::2 web web-alias
10.88.0.3 db
`

// freePort returns a loopback port free for both UDP and TCP at the time of asking.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free loopback port for both UDP and TCP")
	return 0
}

func writeHosts(t *testing.T, dir, content string) {
	t.Helper()
	tmp := filepath.Join(dir, "hosts.tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, hostsFile)); err != nil {
		t.Fatal(err)
	}
}

// serve runs Serve in the background on a free loopback port and returns its address and a
// channel with Serve's result.
func serve(t *testing.T, dir string, upstreams ...string) (string, <-chan error) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- Serve(ctx, dir, Options{Listen: []string{addr}, Upstreams: upstreams}, func() { close(ready) })
		close(finished)
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Serve: %v", err)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("Serve not ready after 5s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return addr, done
}

func query(t *testing.T, net, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: net, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s %s over %s: %v", name, dns.TypeToString[qtype], net, err)
	}
	return r
}

// answers renders an answer section as "TYPE value" strings.
func answers(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, "A "+v.A.String())
		case *dns.AAAA:
			out = append(out, "AAAA "+v.AAAA.String())
		case *dns.PTR:
			out = append(out, "PTR "+v.Ptr)
		case *dns.TXT:
			out = append(out, "TXT "+strings.Join(v.Txt, ""))
		default:
			out = append(out, rr.String())
		}
	}
	return out
}

func TestServeLocalNames(t *testing.T) {
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	addr, _ := serve(t, dir) // no upstreams: nothing here may need one
	tests := []struct {
		name  string
		net   string
		qname string
		qtype uint16
		rcode int
		want  string
	}{
		{"A", "udp", "web.", dns.TypeA, dns.RcodeSuccess, "A 10.88.0.2"},
		{"AAAA", "udp", "web.", dns.TypeAAAA, dns.RcodeSuccess, "AAAA fd00::2"},
		{"alias", "udp", "web-alias.", dns.TypeA, dns.RcodeSuccess, "A 10.88.0.2"},
		{"upper case", "udp", "WeB.", dns.TypeA, dns.RcodeSuccess, "A 10.88.0.2"},
		{"search domain", "udp", "web.dns.berth.", dns.TypeA, dns.RcodeSuccess, "A 10.88.0.2"},
		{"search domain upper case", "udp", "DB.DNS.Berth.", dns.TypeA, dns.RcodeSuccess, "A 10.88.0.3"},
		{"over TCP", "tcp", "db.", dns.TypeA, dns.RcodeSuccess, "A 10.88.0.3"},
		{"v4-only name has no AAAA", "udp", "db.", dns.TypeAAAA, dns.RcodeSuccess, ""},
		{"known name, other type", "udp", "web.", dns.TypeMX, dns.RcodeSuccess, ""},
		{"unknown in our domain", "udp", "nosuch.dns.berth.", dns.TypeA, dns.RcodeNameError, ""},
		{"PTR v4", "udp", "2.0.88.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, "PTR web.,PTR web-alias."},
		{"PTR v6", "udp", "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", dns.TypePTR, dns.RcodeSuccess, "PTR web.,PTR web-alias."},
		{"unknown name without upstreams", "udp", "example.test.", dns.TypeA, dns.RcodeRefused, ""},
		{"unknown PTR without upstreams", "udp", "9.0.88.10.in-addr.arpa.", dns.TypePTR, dns.RcodeRefused, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := query(t, tc.net, addr, tc.qname, tc.qtype)
			if r.Rcode != tc.rcode {
				t.Fatalf("%s %s: rcode %s, want %s", tc.qname, dns.TypeToString[tc.qtype], dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
			if got := strings.Join(answers(r), ","); got != tc.want {
				t.Errorf("%s %s = %q, want %q", tc.qname, dns.TypeToString[tc.qtype], got, tc.want)
			}
			if tc.rcode != dns.RcodeRefused && !r.Authoritative {
				t.Errorf("%s %s: answer not authoritative", tc.qname, dns.TypeToString[tc.qtype])
			}
			for _, rr := range r.Answer {
				if rr.Header().Name != tc.qname {
					t.Errorf("answer owner %q, want the name asked, %q", rr.Header().Name, tc.qname)
				}
			}
		})
	}
}

// fakeUpstream is a resolver on loopback that knows a few test names and counts queries.
type fakeUpstream struct {
	addr     string
	udp, tcp atomic.Int32
}

func startUpstream(t *testing.T) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		overUDP := w.LocalAddr().Network() == "udp"
		if overUDP {
			u.udp.Add(1)
		} else {
			u.tcp.Add(1)
		}
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		switch q.Name {
		case "example.test.":
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP("192.0.2.1")})
		case "big.test.":
			if overUDP {
				m.Truncated = true // too big for UDP: ask again over TCP
				break
			}
			for i := 0; i < 40; i++ {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 30}, Txt: []string{fmt.Sprintf("record %02d padded to make the answer large", i)}})
			}
		case "broken.test.":
			m.Rcode = dns.RcodeServerFailure
		case "1.2.0.192.in-addr.arpa.":
			m.Answer = append(m.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 30}, Ptr: "example.test."})
		default:
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	for _, n := range []string{"udp", "tcp"} {
		ready := make(chan struct{})
		s := &dns.Server{Addr: u.addr, Net: n, Handler: h, NotifyStartedFunc: func() { close(ready) }}
		go func() { _ = s.ListenAndServe() }()
		<-ready
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	return u
}

func TestServeForwards(t *testing.T) {
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	up := startUpstream(t)
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens: tried first, skipped
	addr, _ := serve(t, dir, dead, up.addr)

	r := query(t, "udp", addr, "example.test.", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || strings.Join(answers(r), ",") != "A 192.0.2.1" {
		t.Errorf("example.test. A = %s %v, want NOERROR [A 192.0.2.1]", dns.RcodeToString[r.Rcode], answers(r))
	}
	if !r.RecursionAvailable {
		t.Error("forwarded answer without RA")
	}
	r = query(t, "udp", addr, "nosuch.test.", dns.TypeA)
	if r.Rcode != dns.RcodeNameError {
		t.Errorf("nosuch.test. A rcode = %s, want NXDOMAIN from the upstream", dns.RcodeToString[r.Rcode])
	}
	r = query(t, "udp", addr, "nosuch.", dns.TypeA) // a bare name not in hosts goes upstream too
	if r.Rcode != dns.RcodeNameError {
		t.Errorf("nosuch. A rcode = %s, want NXDOMAIN from the upstream", dns.RcodeToString[r.Rcode])
	}
	r = query(t, "udp", addr, "1.2.0.192.in-addr.arpa.", dns.TypePTR)
	if got := strings.Join(answers(r), ","); got != "PTR example.test." {
		t.Errorf("PTR 192.0.2.1 = %q, want the upstream's answer", got)
	}
	r = query(t, "udp", addr, "broken.test.", dns.TypeA)
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("broken.test. rcode = %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	// Still local: a name in hosts never reaches the upstream.
	before := up.udp.Load() + up.tcp.Load()
	r = query(t, "udp", addr, "web.", dns.TypeAAAA)
	if strings.Join(answers(r), ",") != "AAAA fd00::2" || up.udp.Load()+up.tcp.Load() != before {
		t.Errorf("web. AAAA = %v (upstream queries %d -> %d), want local answer", answers(r), before, up.udp.Load()+up.tcp.Load())
	}

	// Truncated over UDP upstream: retried over TCP, and the client that allowed 4096 bytes
	// gets the whole answer.
	tcpBefore := up.tcp.Load()
	m := new(dns.Msg)
	m.SetQuestion("big.test.", dns.TypeTXT)
	m.SetEdns0(4096, false)
	r, _, err := (&dns.Client{Net: "udp", UDPSize: 4096, Timeout: 5 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 40 || r.Truncated {
		t.Errorf("big.test. TXT: %d records, truncated %v; want 40, not truncated", len(r.Answer), r.Truncated)
	}
	if up.tcp.Load() != tcpBefore+1 {
		t.Errorf("upstream TCP queries %d -> %d, want one TCP retry", tcpBefore, up.tcp.Load())
	}
	// A client limited to 512 bytes gets a truncated answer and retries over TCP itself.
	r = query(t, "udp", addr, "big.test.", dns.TypeTXT)
	if !r.Truncated {
		t.Errorf("big.test. TXT to a 512-byte client: not truncated (%d records)", len(r.Answer))
	}
	r = query(t, "tcp", addr, "big.test.", dns.TypeTXT)
	if len(r.Answer) != 40 {
		t.Errorf("big.test. TXT over TCP: %d records, want 40", len(r.Answer))
	}
}

func TestServeServfailWhenUpstreamsDead(t *testing.T) {
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	dead1 := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dead2 := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	addr, _ := serve(t, dir, dead1, dead2)
	for _, n := range []string{"udp", "tcp"} {
		r := query(t, n, addr, "example.test.", dns.TypeA)
		if r.Rcode != dns.RcodeServerFailure {
			t.Errorf("example.test. over %s with dead upstreams: rcode %s, want SERVFAIL", n, dns.RcodeToString[r.Rcode])
		}
	}
	if r := query(t, "udp", addr, "db.", dns.TypeA); strings.Join(answers(r), ",") != "A 10.88.0.3" {
		t.Errorf("db. A = %v, want local answer despite dead upstreams", answers(r))
	}
}

func TestServeReloadsHosts(t *testing.T) {
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	addr, _ := serve(t, dir)
	if r := query(t, "udp", addr, "cache.", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Fatalf("cache. before it joins: rcode %s, want REFUSED (not ours, no upstream)", dns.RcodeToString[r.Rcode])
	}
	// Replaced by rename, as the engine writes it.
	writeHosts(t, dir, testHosts+"10.88.0.4 cache\n")
	if got := strings.Join(answers(query(t, "udp", addr, "cache.", dns.TypeA)), ","); got != "A 10.88.0.4" {
		t.Errorf("cache. after it joined = %q, want A 10.88.0.4", got)
	}
	// Rewritten in place, shorter: web left.
	if err := os.WriteFile(filepath.Join(dir, hostsFile), []byte("10.88.0.3 db\n10.88.0.4 cache\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := query(t, "udp", addr, "web.dns.berth.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("web.dns.berth. after it left: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if r := query(t, "udp", addr, "2.0.88.10.in-addr.arpa.", dns.TypePTR); len(r.Answer) != 0 {
		t.Errorf("PTR of web's old address after it left = %v, want none", answers(r))
	}
}

func TestServeExitsWithoutHosts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(path string) error
	}{
		{"removed", os.Remove},
		{"emptied", func(p string) error { return os.WriteFile(p, []byte("# no containers\n"), 0o644) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeHosts(t, dir, testHosts)
			addr, done := serve(t, dir)
			query(t, "udp", addr, "web.", dns.TypeA)
			time.Sleep(600 * time.Millisecond) // longer than a watchdog tick: it saw entries
			if err := tc.change(filepath.Join(dir, hostsFile)); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Serve returned %v, want nil", err)
				}
				if d := time.Since(start); d < idleExit-300*time.Millisecond {
					t.Errorf("Serve exited after %v, before the %v grace", d, idleExit)
				}
			case <-time.After(idleExit + 3*time.Second):
				t.Fatal("Serve still running with its hosts file " + tc.name)
			}
			if _, err := net.Dial("tcp", addr); err == nil {
				t.Error("still listening on TCP after exit")
			}
		})
	}
}

func TestServeStaysWhenHostsComeBack(t *testing.T) {
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	addr, done := serve(t, dir)
	os.Remove(filepath.Join(dir, hostsFile))
	time.Sleep(idleExit / 2)
	writeHosts(t, dir, testHosts)
	select {
	case err := <-done:
		t.Fatalf("Serve exited (%v) although the hosts file came back within the grace", err)
	case <-time.After(idleExit + time.Second):
	}
	if got := strings.Join(answers(query(t, "udp", addr, "web.", dns.TypeA)), ","); got != "A 10.88.0.2" {
		t.Errorf("web. A = %q, want A 10.88.0.2", got)
	}
}

func TestServeAddressInUse(t *testing.T) {
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // no SO_REUSEADDR: nobody may share it
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	called := false
	err = Serve(context.Background(), dir, Options{Listen: []string{pc.LocalAddr().String()}}, func() { called = true })
	if err == nil || !strings.Contains(err.Error(), "address already in use") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Serve on a bound port = %v, want one line with address already in use", err)
	}
	if called {
		t.Error("ready called although Serve failed")
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"good", Options{Listen: []string{"10.88.0.1:53"}, Upstreams: []string{"192.0.2.53:53", "[2001:db8::53]:53"}}, true},
		{"no listen", Options{Upstreams: []string{"192.0.2.53:53"}}, false},
		{"listen without port", Options{Listen: []string{"10.88.0.1"}}, false},
		{"upstream host name", Options{Listen: []string{"10.88.0.1:53"}, Upstreams: []string{"dns.example:53"}}, false},
	}
	for _, tc := range tests {
		if err := tc.o.validate(); (err == nil) != tc.ok {
			t.Errorf("%s: validate(%+v) = %v, want ok %v", tc.name, tc.o, err, tc.ok)
		}
	}
}

// A responder whose whole directory was removed exits without creating it again.
func TestServeExitsWhenDirRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeHosts(t, dir, testHosts)
	_, done := serve(t, dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v, want nil", err)
		}
	case <-time.After(idleExit + 3*time.Second):
		t.Fatal("Serve still running with its directory removed")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory after exit: %v, want it still gone", err)
	}
}

// The responder listens on IPv6 addresses too (a network's IPv6 gateway).
func TestServeIPv6Listen(t *testing.T) {
	pc, err := net.ListenPacket("udp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	addr := fmt.Sprintf("[::1]:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, dir, Options{Listen: []string{addr}}, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Serve on %s: %v", addr, err)
	}
	for _, n := range []string{"udp", "tcp"} {
		if got := strings.Join(answers(query(t, n, addr, "web.", dns.TypeAAAA)), ","); got != "AAAA fd00::2" {
			t.Errorf("web. AAAA over %s on %s = %q, want AAAA fd00::2", n, addr, got)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}
