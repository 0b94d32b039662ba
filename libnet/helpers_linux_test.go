package libnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestMain runs the package's tests, as root, in a network namespace of their own: other
// berth processes on this host (whose Prune removes what their database does not know)
// cannot touch the bridges, veths and rules the tests make, and the tests cannot touch
// theirs. The namespace dies with the test process, taking whatever a failed test left.
func TestMain(m *testing.M) {
	const env = "LIBNET_TEST_IN_NETNS"
	if os.Geteuid() == 0 && os.Getenv(env) == "" {
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), env+"=1")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			os.Exit(0)
		case errors.As(err, &ee):
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintf(os.Stderr, "libnet tests: cannot run in a network namespace of their own (%v); running in this one\n", err)
	}
	if os.Getenv(env) != "" {
		if lo, err := netlink.LinkByName("lo"); err == nil {
			if err := netlink.LinkSetUp(lo); err != nil {
				fmt.Fprintf(os.Stderr, "bring lo up: %v\n", err)
				os.Exit(1)
			}
		}
	}
	os.Exit(m.Run())
}

// requireNet skips unless the test can make namespaces, links and nftables rules.
func requireNet(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces, links and nftables rules")
	}
	c, err := nftables.New()
	if err != nil {
		t.Skipf("nftables unavailable: %v", err)
	}
	if _, err := c.ListTables(); err != nil {
		t.Skipf("nftables unavailable: %v", err)
	}
}

// testNetwork returns a bridge network with its own bridge and subnet and removes it when
// the test ends.
func testNetwork(t *testing.T, name, bridge, subnet string, internal bool) Network {
	t.Helper()
	n := Network{Name: name, ID: name + "-id", Driver: "bridge", Interface: bridge,
		Subnets: []Subnet{{Subnet: subnet}}, Internal: internal}
	t.Cleanup(func() {
		if err := RemoveNetwork(context.Background(), n); err != nil {
			t.Errorf("RemoveNetwork(%s): %v", name, err)
		}
	})
	if err := EnsureNetwork(context.Background(), n); err != nil {
		t.Fatalf("EnsureNetwork(%s): %v", name, err)
	}
	return n
}

// testNS makes a namespace under the test's temp dir, removed at the end.
func testNS(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := NewNetNS(p); err != nil {
		t.Fatalf("NewNetNS: %v", err)
	}
	t.Cleanup(func() {
		if err := RemoveNetNS(p); err != nil {
			t.Errorf("RemoveNetNS: %v", err)
		}
	})
	return p
}

func attachment(n Network, ifname, cidr string) Attachment {
	ip, ipn, err := net.ParseCIDR(cidr)
	if err != nil {
		panic(err)
	}
	ipn.IP = ip
	return Attachment{Network: n, IfName: ifname, IPs: []net.IPNet{*ipn}}
}

// inNS runs fn on a thread moved into the namespace at path (in the host's when path is
// ""). Sockets fn opens stay in that namespace after the thread moves back.
func inNS(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("return from netns: %w", err)
			return // thread stays locked and is discarded
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// echoServer listens on addr inside the namespace (host namespace when path is "") and
// answers every connection with reply.
func echoServer(t *testing.T, path, addr, reply string) net.Listener {
	t.Helper()
	return serve(t, path, addr, func(net.Conn) string { return reply })
}

// serve listens on addr in the namespace (host when path is "") and answers each
// connection with what answer says, until the test ends.
func serve(t *testing.T, path, addr string, answer func(net.Conn) string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := inNS(path, func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, path, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, answer(c))
			c.Close()
		}
	}()
	return l
}

// dial connects from the namespace (host when path is "") and returns what the peer sent.
func dial(path, addr string, timeout time.Duration) (string, error) {
	var c net.Conn
	if err := inNS(path, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(c)
	return string(b), err
}

// mustReach fails unless dialing addr from path gets want back.
func mustReach(t *testing.T, path, addr, want string) {
	t.Helper()
	got, err := dial(path, addr, 3*time.Second)
	if err != nil || got != want {
		t.Fatalf("dial %s from %q = %q, %v; want %q", addr, path, got, err, want)
	}
}

// mustNotReach fails if a connection to addr from path succeeds.
func mustNotReach(t *testing.T, path, addr string) {
	t.Helper()
	if got, err := dial(path, addr, time.Second); err == nil {
		t.Fatalf("dial %s from %q = %q; want no connection", addr, path, got)
	}
}

// vethsOf lists host links made for container id.
func vethsOf(t *testing.T, id string) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, VethPrefix) && l.Attrs().Alias == id {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// netRules lists the rule comments of network name.
func netRules(t *testing.T, name string) []string {
	t.Helper()
	all, err := TaggedRules("")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range all {
		if strings.Contains(r, " net="+name+" ") {
			out = append(out, r)
		}
	}
	return out
}

// assertClean fails when container id has veths or rules left.
func assertClean(t *testing.T, id string) {
	t.Helper()
	if v := vethsOf(t, id); len(v) > 0 {
		t.Errorf("veths left for %s: %v", id, v)
	}
	r, err := TaggedRules(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(r) > 0 {
		t.Errorf("rules left for %s: %v", id, r)
	}
}

func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// outsideHost makes a namespace standing for another machine, linked to the host by a veth
// pair: the host end bt231o0 holds 10.231.30.1/30, the far end 10.231.30.2/30, and the far
// side has no route back to any container subnet, so it sees only what NAT shows it.
func outsideHost(t *testing.T) string {
	t.Helper()
	p := testNS(t, "outside")
	ns, err := netns.GetFromPath(p)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "bt231o0"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatalf("create outside veth: %v", err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName("bt231o0"); err == nil {
			netlink.LinkDel(l)
		}
	})
	host, err := netlink.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	addrUp(t, host, "bt231o0", "10.231.30.1/30")
	addrUp(t, handleIn(t, p), "eth0", "10.231.30.2/30")
	return p
}

// addrUp gives link name of h's namespace the address cidr and sets it up.
func addrUp(t *testing.T, h *netlink.Handle, name, cidr string) {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatalf("add %s to %s: %v", cidr, name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatalf("set %s up: %v", name, err)
	}
}

// handleIn opens a netlink handle in the namespace at p, closed when the test ends.
func handleIn(t *testing.T, p string) *netlink.Handle {
	t.Helper()
	h, closeH, err := handleAt(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeH)
	return h
}

// nsSetup is one container's network: its namespace and what Setup gets.
type nsSetup struct {
	ns string
	o  SetupOptions
}

// setupAll sets up each container's network and tears it down when the test ends.
func setupAll(t *testing.T, ctx context.Context, cs []nsSetup) {
	t.Helper()
	for _, c := range cs {
		if err := Setup(ctx, c.ns, c.o); err != nil {
			t.Fatalf("Setup %s: %v", c.o.ContainerID, err)
		}
		t.Cleanup(func() { Teardown(ctx, c.ns, c.o) })
	}
}

// peerServer listens on addr in the namespace and answers each connection with the
// address it came from.
func peerServer(t *testing.T, path, addr string) {
	t.Helper()
	serve(t, path, addr, func(c net.Conn) string {
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		return host
	})
}

// bridgeInSet reports whether name is an element of the bridges set.
func bridgeInSet(t *testing.T, name string) bool {
	t.Helper()
	c, err := openNFT()
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseLasting()
	set, err := c.GetSetByName(nftTable, bridgesSet)
	if err != nil {
		t.Fatal(err)
	}
	elems, err := c.GetSetElements(set)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range elems {
		if string(e.Key) == string(ifnameKey(name)) {
			return true
		}
	}
	return false
}
