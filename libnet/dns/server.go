package dns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/lock"
)

// SearchDomain is the domain the responder answers for besides bare names: "web" and
// "web.dns.berth" both resolve to the container named web. The engine puts it in each
// container's resolv.conf search list.
const SearchDomain = "dns.berth"

// Files the responder uses in its directory.
const (
	hostsFile = "hosts"   // written by the engine, read here
	pidFile   = "dns.pid" // the running responder's pid, written by the responder itself
	lockFile  = "dns.lock"
	logFile   = "dns.log"
)

const (
	// ttl is short: containers come and go, and a stale address is worse than a re-query.
	ttl = 10
	// idleExit is how long the hosts file may stay missing or empty before the responder
	// exits by itself.
	idleExit = 2 * time.Second
	// upstreamTimeout bounds each upstream server; with the three resolv.conf allows, a dead
	// set still answers SERVFAIL before a client's default 5 s timeout.
	upstreamTimeout = 1500 * time.Millisecond
)

// Options says where the responder listens and where it forwards what it does not know.
type Options struct {
	// Listen are "ip:port" addresses served over both UDP and TCP, e.g. "10.123.0.1:53".
	Listen []string `json:"listen"`
	// Upstreams are "ip:port" resolvers asked in order for names not in the hosts file.
	// With none, such questions are REFUSED.
	Upstreams []string `json:"upstreams,omitempty"`
}

func (o Options) validate() error {
	if len(o.Listen) == 0 {
		return errdefs.Newf(errdefs.ErrInvalid, "dns responder: no listen address")
	}
	for _, a := range append(append([]string{}, o.Listen...), o.Upstreams...) {
		if _, err := netip.ParseAddrPort(a); err != nil {
			return errdefs.Newf(errdefs.ErrInvalid, "dns responder: invalid address %q: want ip:port", a)
		}
	}
	return nil
}

// Serve answers on o.Listen until ctx is done or until dir/hosts has been missing or without
// entries for two seconds, then returns nil. ready is called once every socket is bound.
// A socket that cannot be bound is returned as an error before ready is called.
func Serve(ctx context.Context, dir string, o Options, ready func()) error {
	if err := o.validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &responder{
		hostsPath: filepath.Join(dir, hostsFile),
		upstreams: upstreamsExcept(o.Upstreams, o.Listen),
		udp:       &dns.Client{Net: "udp", Timeout: upstreamTimeout},
		tcp:       &dns.Client{Net: "tcp", Timeout: upstreamTimeout},
	}
	r.hosts() // parse once before the first question
	var servers []*dns.Server
	closeAll := func() {
		for _, s := range servers {
			if s.PacketConn != nil {
				s.PacketConn.Close()
			}
			if s.Listener != nil {
				s.Listener.Close()
			}
		}
	}
	for _, addr := range o.Listen {
		pc, err := listenUDP(ctx, addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("dns responder: %w", err)
		}
		servers = append(servers, &dns.Server{PacketConn: pc, Handler: r})
		l, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("dns responder: %w", err)
		}
		servers = append(servers, &dns.Server{Listener: l, Handler: r})
	}
	errc := make(chan error, len(servers))
	started := make(chan struct{}, len(servers))
	for _, s := range servers {
		s.NotifyStartedFunc = func() { started <- struct{}{} }
		go func() { errc <- s.ActivateAndServe() }()
	}
	for range servers {
		select {
		case <-started:
		case err := <-errc:
			closeAll()
			return fmt.Errorf("dns responder: %w", err)
		}
	}
	if ready != nil {
		ready()
	}
	// The watchdog hands back dir/dns.lock when it ends us; it is released only once our
	// sockets are closed, so a Start waiting for it can bind the same addresses.
	var held *lock.Lock
	watchdog := make(chan struct{})
	go func() { defer close(watchdog); held = r.watch(ctx, dir, cancel) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("dns responder: %w", err)
		cancel()
	}
	for _, s := range servers {
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.ShutdownContext(sctx)
		scancel()
	}
	<-watchdog
	held.Release()
	return err
}

// upstreamsExcept drops upstreams that are one of our own addresses, which would loop.
func upstreamsExcept(ups, listen []string) []string {
	var out []string
	for _, u := range ups {
		self := false
		for _, l := range listen {
			if u == l {
				self = true
			}
		}
		if !self {
			out = append(out, u)
		}
	}
	return out
}

// watch ends the responder once the hosts file has stayed missing or empty for idleExit.
// The final check is made holding dir/dns.lock, which Start holds too, so a Start that
// saw us alive cannot be left without a responder: either we see its entries and stay, or
// we remove the pid file before it looks. The lock is returned still held.
func (r *responder) watch(ctx context.Context, dir string, stop context.CancelFunc) *lock.Lock {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var emptySince time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			if r.hosts().entries() > 0 {
				emptySince = time.Time{}
				continue
			}
			if emptySince.IsZero() {
				emptySince = now
				continue
			}
			if now.Sub(emptySince) < idleExit {
				continue
			}
			if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				// The engine removed the network's directory: nobody can be starting us
				// there, and taking the lock would create it again.
				stop()
				return nil
			}
			l, err := lock.Acquire(ctx, filepath.Join(dir, lockFile))
			if err != nil && !errors.Is(err, errdefs.ErrNotSupported) {
				return nil // ctx is done: we are stopping anyway
			}
			if r.hosts().entries() > 0 {
				l.Release()
				emptySince = time.Time{}
				continue
			}
			logrus.WithField("dir", dir).Debug("dns responder: hosts file missing or empty, exiting")
			removePidFile(dir, os.Getpid())
			stop()
			return l
		}
	}
}

// removePidFile removes dir/dns.pid if it names pid.
func removePidFile(dir string, pid int) {
	p := filepath.Join(dir, pidFile)
	b, err := os.ReadFile(p)
	if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid) {
		_ = os.Remove(p)
	}
}

// responder answers questions from its hosts table and forwards the rest.
type responder struct {
	hostsPath string
	upstreams []string
	udp, tcp  *dns.Client

	mu    sync.Mutex
	table *hostsTable
	stamp fileStamp
}

// fileStamp tells whether the hosts file changed since it was read.
type fileStamp struct {
	ok    bool
	size  int64
	mtime time.Time
	ino   uint64
}

// hosts returns the current table, re-reading the file when its stamp changed (a stat per
// question, which is cheap next to the round trip).
func (r *responder) hosts() *hostsTable {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := statStamp(r.hostsPath)
	if st == r.stamp && r.table != nil {
		return r.table
	}
	r.stamp = st
	r.table = nil
	if !st.ok {
		return nil
	}
	f, err := os.Open(r.hostsPath)
	if err != nil {
		r.stamp = fileStamp{}
		return nil
	}
	defer f.Close()
	t, err := parseHosts(f)
	if err != nil {
		logrus.WithError(err).WithField("file", r.hostsPath).Warn("dns responder: read hosts file")
		r.stamp = fileStamp{}
		return nil
	}
	r.table = t
	return t
}

func statStamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{ok: true, size: fi.Size(), mtime: fi.ModTime(), ino: fileIno(fi)}
}

// ServeDNS implements dns.Handler.
func (r *responder) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	overTCP := false
	if a := w.LocalAddr(); a != nil {
		overTCP = a.Network() == "tcp"
	}
	m := r.answer(req, overTCP)
	if !overTCP {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	if err := w.WriteMsg(m); err != nil {
		logrus.WithError(err).Debug("dns responder: write answer")
	}
}

// answer builds the reply to one question: from the hosts table when the name (or address)
// is ours, else from an upstream.
func (r *responder) answer(req *dns.Msg, overTCP bool) *dns.Msg {
	if req.Opcode != dns.OpcodeQuery {
		return r.reply(req, dns.RcodeNotImplemented)
	}
	if len(req.Question) != 1 {
		return r.reply(req, dns.RcodeFormatError)
	}
	if q := req.Question[0]; q.Qclass == dns.ClassINET {
		if m := r.local(req, q); m != nil {
			return m
		}
	}
	return r.forward(req, overTCP)
}

func (r *responder) reply(req *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req, rcode)
	m.RecursionAvailable = len(r.upstreams) > 0
	return m
}

// local answers from the hosts table, or returns nil when the question is not ours.
func (r *responder) local(req *dns.Msg, q dns.Question) *dns.Msg {
	t := r.hosts()
	if q.Qtype == dns.TypePTR {
		a, ok := reverseAddr(q.Name)
		if !ok {
			return nil
		}
		names := t.names(a.Unmap())
		if len(names) == 0 {
			return nil
		}
		m := r.authoritative(req, dns.RcodeSuccess)
		for _, n := range names {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: r.hdr(q, dns.TypePTR), Ptr: dns.Fqdn(n)})
		}
		return m
	}
	name := strings.ToLower(strings.TrimSuffix(q.Name, "."))
	inDomain := false
	if name == SearchDomain {
		return r.authoritative(req, dns.RcodeSuccess) // the domain exists, holds no records
	}
	if n, ok := strings.CutSuffix(name, "."+SearchDomain); ok {
		name, inDomain = n, true
	}
	addrs, ok := t.lookup(name)
	if !ok {
		if inDomain {
			return r.authoritative(req, dns.RcodeNameError) // our domain: nobody else knows it
		}
		return nil
	}
	m := r.authoritative(req, dns.RcodeSuccess)
	for _, a := range addrs {
		switch {
		case a.Is4() && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
			m.Answer = append(m.Answer, &dns.A{Hdr: r.hdr(q, dns.TypeA), A: a.AsSlice()})
		case a.Is6() && (q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY):
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: r.hdr(q, dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{soa()} // NODATA: the name exists without this type
	}
	return m
}

func (r *responder) authoritative(req *dns.Msg, rcode int) *dns.Msg {
	m := r.reply(req, rcode)
	m.Authoritative = true
	if rcode == dns.RcodeNameError {
		m.Ns = []dns.RR{soa()}
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(dns.DefaultMsgSize, false)
	}
	return m
}

func (r *responder) hdr(q dns.Question, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

// soa is the authority record of negative answers, so resolvers cache them only briefly.
func soa() *dns.SOA {
	zone := SearchDomain + "."
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      "ns." + zone,
		Mbox:    "hostmaster." + zone,
		Serial:  1,
		Refresh: 3600, Retry: 600, Expire: 86400, Minttl: ttl,
	}
}

// forward asks each upstream in turn, over UDP with a TCP retry when the answer is truncated
// (over TCP directly when the client asked over TCP). An upstream that fails, times out,
// answers SERVFAIL or REFUSES is skipped; when none answers the client gets SERVFAIL. With
// no upstreams at all the question is REFUSED, as a non-recursive server would.
func (r *responder) forward(req *dns.Msg, overTCP bool) *dns.Msg {
	if len(r.upstreams) == 0 {
		return r.reply(req, dns.RcodeRefused)
	}
	for _, up := range r.upstreams {
		c := r.udp
		if overTCP {
			c = r.tcp
		}
		resp, _, err := c.Exchange(req, up)
		if err == nil && resp.Truncated && !overTCP {
			resp, _, err = r.tcp.Exchange(req, up)
		}
		if err != nil {
			logrus.WithError(err).WithField("upstream", up).Debug("dns responder: forward")
			continue
		}
		if resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
			logrus.WithField("upstream", up).WithField("rcode", dns.RcodeToString[resp.Rcode]).Debug("dns responder: forward")
			continue
		}
		resp.Id = req.Id
		resp.RecursionAvailable = true // we recursed on the client's behalf
		return resp
	}
	return r.reply(req, dns.RcodeServerFailure)
}
