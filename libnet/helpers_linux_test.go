package libnet

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

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

// inNS runs fn on a thread moved into the namespace at path. Sockets fn opens stay in that
// namespace after the thread moves back.
func inNS(path string, fn func() error) error {
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
	var l net.Listener
	listen := func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	}
	var err error
	if path == "" {
		err = listen()
	} else {
		err = inNS(path, listen)
	}
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, path, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, reply)
			c.Close()
		}
	}()
	return l
}

// dial connects from the namespace (host when path is "") and returns what the peer sent.
func dial(path, addr string, timeout time.Duration) (string, error) {
	var c net.Conn
	d := func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	}
	var err error
	if path == "" {
		err = d()
	} else {
		err = inNS(path, d)
	}
	if err != nil {
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
