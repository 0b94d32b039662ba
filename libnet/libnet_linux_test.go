package libnet

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestNetNS(t *testing.T) {
	requireNet(t)
	p := testNS(t, "ns")
	h, closeH, err := handleAt(p)
	if err != nil {
		t.Fatal(err)
	}
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if lo.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("lo is not up in the new namespace")
	}
	links, _ := h.LinkList()
	if len(links) != 1 {
		t.Errorf("new namespace has %d links, want only lo", len(links))
	}
	closeH()
	if err := NewNetNS(p); !errors.Is(err, errdefs.ErrExists) {
		t.Errorf("NewNetNS on an existing path = %v, want ErrExists", err)
	}
	// The namespace is a real one: a listener on its loopback is not the host's.
	echoServer(t, p, "127.0.0.1:7", "ns")
	mustReach(t, p, "127.0.0.1:7", "ns")
	if err := RemoveNetNS(p); err != nil {
		t.Fatal(err)
	}
	if err := RemoveNetNS(p); err != nil {
		t.Errorf("second RemoveNetNS = %v, want idempotent", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("netns file still there: %v", err)
	}
	// A plain file at the path is what a NewNetNS killed before its mount leaves.
	if err := os.WriteFile(p, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := NewNetNS(p); err != nil {
		t.Fatalf("NewNetNS over a stale file: %v", err)
	}
	if !isNetNSMount(p) {
		t.Errorf("%s is not a namespace after NewNetNS", p)
	}
}

func TestBridgeContainersAndPorts(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := testNetwork(t, "lntest-a", "bt231a", "10.231.1.0/24", false)
	ns1, ns2 := testNS(t, "c1"), testNS(t, "c2")
	o1 := SetupOptions{ContainerID: "lnc1aaaaaaaaaaaa", Attachments: []Attachment{attachment(n, "eth0", "10.231.1.2/24")}}
	o2 := SetupOptions{ContainerID: "lnc2bbbbbbbbbbbb", Attachments: []Attachment{attachment(n, "eth0", "10.231.1.3/24")},
		Ports: []PortMapping{{ContainerPort: 8080, Protocol: "tcp"}}}
	if err := Setup(ctx, ns1, o1); err != nil {
		t.Fatalf("Setup c1: %v", err)
	}
	if err := Setup(ctx, ns2, o2); err != nil {
		t.Fatalf("Setup c2: %v", err)
	}
	hp := o2.Ports[0].HostPort
	if hp == 0 {
		t.Fatalf("Setup did not write the chosen host port back")
	}

	// The container side: name, MAC, address, default route via the gateway.
	h, closeH, err := handleAt(ns1)
	if err != nil {
		t.Fatal(err)
	}
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatalf("no eth0 in c1: %v", err)
	}
	if got := eth0.Attrs().HardwareAddr.String(); got != GenerateMAC(net.ParseIP("10.231.1.2")).String() {
		t.Errorf("eth0 MAC = %s", got)
	}
	routes, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var gw string
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			gw = r.Gw.String()
		}
	}
	if gw != "10.231.1.1" {
		t.Errorf("default route via %q, want 10.231.1.1 (routes %v)", gw, routes)
	}
	closeH()
	if v := vethsOf(t, o1.ContainerID); len(v) != 1 || v[0] != VethName(o1.ContainerID, 0) {
		t.Errorf("host veths of c1 = %v", v)
	}

	echoServer(t, ns2, ":8080", "hello from c2")
	mustReach(t, ns1, "10.231.1.3:8080", "hello from c2")
	// The published port answers on the host's loopback, on the bridge address, and from
	// the other container through the gateway (hairpin through the host's address).
	mustReach(t, "", "127.0.0.1:"+strconv.Itoa(int(hp)), "hello from c2")
	mustReach(t, "", "10.231.1.1:"+strconv.Itoa(int(hp)), "hello from c2")
	mustReach(t, ns1, "10.231.1.1:"+strconv.Itoa(int(hp)), "hello from c2")
	mustReach(t, ns2, "10.231.1.1:"+strconv.Itoa(int(hp)), "hello from c2")

	// Another container cannot publish the same host port.
	ns3 := testNS(t, "c3")
	o3 := SetupOptions{ContainerID: "lnc3cccccccccccc", Attachments: []Attachment{attachment(n, "eth0", "10.231.1.4/24")},
		Ports: []PortMapping{{HostPort: hp, ContainerPort: 80, Protocol: "tcp"}}}
	err = Setup(ctx, ns3, o3)
	if !errors.Is(err, errdefs.ErrInUse) || !strings.Contains(err.Error(), strconv.Itoa(int(hp))) {
		t.Errorf("Setup publishing a published port = %v, want ErrInUse naming %d", err, hp)
	}
	assertClean(t, o3.ContainerID)

	for _, c := range []nsSetup{{ns1, o1}, {ns2, o2}} {
		if err := Teardown(ctx, c.ns, c.o); err != nil {
			t.Errorf("Teardown %s: %v", c.o.ContainerID, err)
		}
		if err := Teardown(ctx, c.ns, c.o); err != nil {
			t.Errorf("second Teardown %s: %v", c.o.ContainerID, err)
		}
		assertClean(t, c.o.ContainerID)
	}
	mustNotReach(t, "", "127.0.0.1:"+strconv.Itoa(int(hp)))

	if err := RemoveNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	if linkExists(n.Interface) {
		t.Errorf("bridge %s still there after RemoveNetwork", n.Interface)
	}
	if r := netRules(t, n.Name); len(r) > 0 {
		t.Errorf("rules of %s left: %v", n.Name, r)
	}
	if bridgeInSet(t, n.Interface) {
		t.Errorf("bridge %s left in the isolation set", n.Interface)
	}
}

func TestPortAlreadyBound(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := testNetwork(t, "lntest-b", "bt231b", "10.231.2.0/24", false)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	ns := testNS(t, "c")
	o := SetupOptions{ContainerID: "lnboundxxxxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.2.2/24")},
		Ports: []PortMapping{{HostPort: port, ContainerPort: 80, Protocol: "tcp"}}}
	err = Setup(ctx, ns, o)
	if err == nil || !strings.Contains(err.Error(), strconv.Itoa(int(port))) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Setup on a bound port = %v, want a one-line error naming %d", err, port)
	}
	assertClean(t, o.ContainerID)
	h := handleIn(t, ns)
	if _, err := h.LinkByName("eth0"); err == nil {
		t.Errorf("eth0 left in the namespace after a failed Setup")
	}
}

func TestIsolationBetweenNetworks(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	a := testNetwork(t, "lntest-c", "bt231c", "10.231.3.0/24", false)
	b := testNetwork(t, "lntest-d", "bt231d", "10.231.4.0/24", false)
	nsA, nsB, nsB2 := testNS(t, "a"), testNS(t, "b"), testNS(t, "b2")
	oA := SetupOptions{ContainerID: "lnisoaaaaaaaaaaa", Attachments: []Attachment{attachment(a, "eth0", "10.231.3.2/24")}}
	oB := SetupOptions{ContainerID: "lnisobbbbbbbbbbb", Attachments: []Attachment{attachment(b, "eth0", "10.231.4.2/24")}}
	oB2 := SetupOptions{ContainerID: "lnisob2b2b2b2b2b", Attachments: []Attachment{attachment(b, "eth0", "10.231.4.3/24")}}
	setupAll(t, ctx, []nsSetup{{nsA, oA}, {nsB, oB}, {nsB2, oB2}})
	echoServer(t, nsB, ":9000", "b")
	echoServer(t, nsA, ":9000", "a")
	mustReach(t, nsB2, "10.231.4.2:9000", "b")
	mustNotReach(t, nsA, "10.231.4.2:9000")
	mustNotReach(t, nsB, "10.231.3.2:9000")
	// The host itself reaches both.
	mustReach(t, "", "10.231.3.2:9000", "a")
	mustReach(t, "", "10.231.4.2:9000", "b")
}

func TestInternalNetwork(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := testNetwork(t, "lntest-e", "bt231e", "10.231.5.0/24", true)
	ns1, ns2 := testNS(t, "c1"), testNS(t, "c2")
	o1 := SetupOptions{ContainerID: "lnint01xxxxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.5.2/24")}}
	o2 := SetupOptions{ContainerID: "lnint02xxxxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.5.3/24")}}
	setupAll(t, ctx, []nsSetup{{ns1, o1}, {ns2, o2}})
	h := handleIn(t, ns1)
	routes, err := h.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Gw != nil {
			t.Errorf("internal network container has a route via %s", r.Gw)
		}
	}
	echoServer(t, ns2, ":9000", "peer")
	mustReach(t, ns1, "10.231.5.3:9000", "peer")
	// Nothing is masqueraded out of an internal network.
	for _, r := range netRules(t, n.Name) {
		if strings.HasPrefix(r, "postrouting:") {
			t.Errorf("internal network has a NAT rule: %s", r)
		}
	}
}

func TestConnectDisconnect(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	a := testNetwork(t, "lntest-f", "bt231f", "10.231.6.0/24", false)
	b := testNetwork(t, "lntest-g", "bt231g", "10.231.7.0/24", false)
	ns, peerNS := testNS(t, "c"), testNS(t, "peer")
	id := "lnconn001xxxxxxx"
	first := SetupOptions{ContainerID: id, Attachments: []Attachment{attachment(a, "eth0", "10.231.6.2/24")}}
	if err := Setup(ctx, ns, first); err != nil {
		t.Fatal(err)
	}
	peer := SetupOptions{ContainerID: "lnconnpeer01xxxx", Attachments: []Attachment{attachment(b, "eth0", "10.231.7.9/24")}}
	if err := Setup(ctx, peerNS, peer); err != nil {
		t.Fatal(err)
	}
	defer Teardown(ctx, peerNS, peer)
	echoServer(t, peerNS, ":9000", "peer on b")
	mustNotReach(t, ns, "10.231.7.9:9000")

	second := SetupOptions{ContainerID: id, Attachments: []Attachment{attachment(b, "eth1", "10.231.7.2/24")}}
	if err := Setup(ctx, ns, second); err != nil {
		t.Fatalf("Setup of a second attachment: %v", err)
	}
	mustReach(t, ns, "10.231.7.9:9000", "peer on b")
	if v := vethsOf(t, id); len(v) != 2 {
		t.Errorf("veths after connect = %v, want two", v)
	}
	h := handleIn(t, ns)
	routes, _ := h.RouteList(nil, netlink.FAMILY_V4)
	for _, r := range routes {
		if r.Dst == nil && r.Gw.String() != "10.231.6.1" {
			t.Errorf("default route moved to %s on connect", r.Gw)
		}
	}

	if err := Teardown(ctx, ns, second); err != nil {
		t.Fatalf("Teardown of the second attachment: %v", err)
	}
	if _, err := h.LinkByName("eth1"); err == nil {
		t.Errorf("eth1 still there after disconnect")
	}
	if _, err := h.LinkByName("eth0"); err != nil {
		t.Errorf("eth0 gone after disconnecting eth1: %v", err)
	}
	mustNotReach(t, ns, "10.231.7.9:9000")
	if err := Teardown(ctx, ns, first); err != nil {
		t.Fatal(err)
	}
	assertClean(t, id)
}

func TestIPv6(t *testing.T) {
	requireNet(t)
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		t.Skip("no IPv6 in this kernel")
	}
	ctx := context.Background()
	n := Network{Name: "lntest-h", Driver: "bridge", Interface: "bt231h", IPv6: true,
		Subnets: []Subnet{{Subnet: "10.231.8.0/24"}, {Subnet: "fd00:231:8::/64"}}}
	t.Cleanup(func() { RemoveNetwork(ctx, n) })
	if err := EnsureNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	ns1, ns2 := testNS(t, "c1"), testNS(t, "c2")
	mk := func(id, v4, v6 string) SetupOptions {
		a := attachment(n, "eth0", v4)
		a.IPs = append(a.IPs, attachment(n, "eth0", v6).IPs...)
		return SetupOptions{ContainerID: id, Attachments: []Attachment{a}}
	}
	o1, o2 := mk("lnv6c1aaaaaaaaaa", "10.231.8.2/24", "fd00:231:8::2/64"), mk("lnv6c2bbbbbbbbbb", "10.231.8.3/24", "fd00:231:8::3/64")
	setupAll(t, ctx, []nsSetup{{ns1, o1}, {ns2, o2}})
	h := handleIn(t, ns1)
	routes, _ := h.RouteList(nil, netlink.FAMILY_V6)
	found := false
	for _, r := range routes {
		if r.Gw != nil && r.Gw.String() == "fd00:231:8::1" {
			found = true
		}
	}
	if !found {
		t.Errorf("no IPv6 default route via fd00:231:8::1: %v", routes)
	}
	echoServer(t, ns2, "[::]:9000", "v6")
	mustReach(t, ns1, "[fd00:231:8::3]:9000", "v6")
	mustReach(t, "", "[fd00:231:8::3]:9000", "v6")

	// Published ports reach the container over IPv6 too, through the host's v6 address.
	ns3 := testNS(t, "c3")
	o3 := mk("lnv6c3cccccccccc", "10.231.8.4/24", "fd00:231:8::4/64")
	o3.Ports = []PortMapping{{ContainerPort: 9000, Protocol: "tcp"}}
	if err := Setup(ctx, ns3, o3); err != nil {
		t.Fatal(err)
	}
	defer Teardown(ctx, ns3, o3)
	echoServer(t, ns3, "[::]:9000", "v6 published")
	hp := strconv.Itoa(int(o3.Ports[0].HostPort))
	mustReach(t, ns1, "[fd00:231:8::1]:"+hp, "v6 published")
	mustReach(t, "", "127.0.0.1:"+hp, "v6 published")
}

func TestMacvlan(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	// A veth end stands in for the physical parent (this kernel may lack dummy links).
	parent := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "bt231dummy"}, PeerName: "bt231dummyp"}
	if err := netlink.LinkAdd(parent); err != nil {
		t.Fatalf("create a parent for macvlan: %v", err)
	}
	defer netlink.LinkDel(parent)
	// Both ends up, or the parent has no carrier and neither have its macvlans.
	for _, name := range []string{"bt231dummy", "bt231dummyp"} {
		if err := netlink.LinkSetUp(mustLink(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	n := Network{Name: "lntest-mv", Driver: "macvlan", Interface: "bt231dummy", Subnets: []Subnet{{Subnet: "10.231.9.0/24"}}}
	if err := EnsureNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	ns1, ns2 := testNS(t, "c1"), testNS(t, "c2")
	o1 := SetupOptions{ContainerID: "lnmv001xxxxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.9.2/24")}}
	o2 := SetupOptions{ContainerID: "lnmv002xxxxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.9.3/24")}}
	if err := Setup(ctx, ns1, o1); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if err := Setup(ctx, ns2, o2); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	echoServer(t, ns2, ":9000", "mv")
	mustReach(t, ns1, "10.231.9.3:9000", "mv")
	for _, c := range []nsSetup{{ns1, o1}, {ns2, o2}} {
		if err := Teardown(ctx, c.ns, c.o); err != nil {
			t.Errorf("Teardown: %v", err)
		}
		h, closeH, err := handleAt(c.ns)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.LinkByName("eth0"); err == nil {
			t.Errorf("macvlan still in the namespace after Teardown")
		}
		closeH()
	}
	if err := EnsureNetwork(ctx, Network{Name: "lntest-mv2", Driver: "macvlan", Interface: "nosuchparent0"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("EnsureNetwork with a missing parent = %v, want ErrNotFound", err)
	}
	if err := EnsureNetwork(ctx, Network{Name: "lntest-mv3", Driver: "macvlan", Interface: "bt231dummy", Options: map[string]string{"mode": "sideways"}}); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "sideways") {
		t.Errorf("EnsureNetwork with mode=sideways = %v, want ErrInvalid naming it", err)
	}
	if err := EnsureNetwork(ctx, Network{Name: "two words", Driver: "bridge", Interface: "bt231sp"}); !errors.Is(err, errdefs.ErrInvalid) || linkExists("bt231sp") {
		t.Errorf("EnsureNetwork with a space in the name = %v, want ErrInvalid and no bridge", err)
	}
	long := Network{Name: strings.Repeat("x", 200), Driver: "bridge", Interface: "bt231long"}
	if err := EnsureNetwork(ctx, long); !errors.Is(err, errdefs.ErrInvalid) || linkExists("bt231long") {
		t.Errorf("EnsureNetwork with a 200-character name = %v, want ErrInvalid and no bridge", err)
	}
}

func TestEnsureNetworkConcurrentAndChanged(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := Network{Name: "lntest-i", Driver: "bridge", Interface: "bt231i", Subnets: []Subnet{{Subnet: "10.231.10.0/24"}}}
	t.Cleanup(func() { RemoveNetwork(ctx, n) })
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = EnsureNetwork(ctx, n)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("EnsureNetwork #%d: %v", i, err)
		}
	}
	first := netRules(t, n.Name)
	if len(first) == 0 {
		t.Fatalf("no rules for %s", n.Name)
	}
	if err := EnsureNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	if again := netRules(t, n.Name); len(again) != len(first) {
		t.Errorf("rules after a second EnsureNetwork: %d, want %d", len(again), len(first))
	}
	// A network recreated under the same name with other settings gets its rules replaced,
	// and its bridge loses addresses it no longer has.
	stale, _ := netlink.ParseAddr("10.231.10.200/24")
	if err := netlink.AddrAdd(mustLink(t, n.Interface), stale); err != nil {
		t.Fatal(err)
	}
	n.Internal = true
	if err := EnsureNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	for _, r := range netRules(t, n.Name) {
		if !strings.Contains(r, "fp="+networkFingerprint(n)) {
			t.Errorf("stale rule left after the network changed: %s", r)
		}
		if strings.HasPrefix(r, "postrouting:") {
			t.Errorf("NAT rule left after the network became internal: %s", r)
		}
	}
	if !bridgeInSet(t, n.Interface) {
		t.Errorf("bridge %s missing from the isolation set after its rules were replaced", n.Interface)
	}
	addrs, err := netlink.AddrList(mustLink(t, n.Interface), unix.AF_INET)
	if err != nil || len(addrs) != 1 || addrs[0].IP.String() != "10.231.10.1" {
		t.Errorf("bridge addresses = %v, %v, want only 10.231.10.1", addrs, err)
	}
}

func mustLink(t *testing.T, name string) netlink.Link {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestOutboundNATAndInboundPorts(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	out := outsideHost(t)
	peerServer(t, out, "10.231.30.2:9100")

	n := testNetwork(t, "lntest-l", "bt231l", "10.231.13.0/24", false)
	ns := testNS(t, "c")
	o := SetupOptions{ContainerID: "lnnatxxxxxxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.13.2/24")},
		Ports: []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}}
	if err := Setup(ctx, ns, o); err != nil {
		t.Fatal(err)
	}
	defer Teardown(ctx, ns, o)
	// Outbound: the other machine sees the host's address, not the container's.
	mustReach(t, ns, "10.231.30.2:9100", "10.231.30.1")
	// Inbound: the published port answers on the host's address facing the other machine.
	peerServer(t, ns, ":80")
	mustReach(t, out, "10.231.30.1:"+strconv.Itoa(int(o.Ports[0].HostPort)), "10.231.30.2")
	// An unpublished port of the container is not reachable from outside even with a route.
	h := handleIn(t, out)
	_, dst, _ := net.ParseCIDR("10.231.13.0/24")
	if err := h.RouteAdd(&netlink.Route{Dst: dst, Gw: net.ParseIP("10.231.30.1")}); err != nil {
		t.Fatal(err)
	}
	echoServer(t, ns, ":81", "unpublished")
	mustNotReach(t, out, "10.231.13.2:81")

	// Internal: no route out, and no forwarding even when the container adds one.
	in := testNetwork(t, "lntest-m", "bt231m", "10.231.14.0/24", true)
	nsIn := testNS(t, "internal")
	oIn := SetupOptions{ContainerID: "lnnatinternalxxx", Attachments: []Attachment{attachment(in, "eth0", "10.231.14.2/24")}}
	if err := Setup(ctx, nsIn, oIn); err != nil {
		t.Fatal(err)
	}
	defer Teardown(ctx, nsIn, oIn)
	mustNotReach(t, nsIn, "10.231.30.2:9100")
	hin := handleIn(t, nsIn)
	if err := hin.RouteAdd(&netlink.Route{Gw: net.ParseIP("10.231.14.1")}); err != nil {
		t.Fatal(err)
	}
	mustNotReach(t, nsIn, "10.231.30.2:9100")
}

func TestUDPPort(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := testNetwork(t, "lntest-r", "bt231r", "10.231.20.0/24", false)
	ns := testNS(t, "c")
	o := SetupOptions{ContainerID: "lnudpxxxxxxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.20.2/24")},
		Ports: []PortMapping{{HostIP: "127.0.0.1", ContainerPort: 5353, Protocol: "udp"}}}
	if err := Setup(ctx, ns, o); err != nil {
		t.Fatal(err)
	}
	defer Teardown(ctx, ns, o)
	var pc net.PacketConn
	if err := inNS(ns, func() error {
		var err error
		pc, err = net.ListenPacket("udp", ":5353")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("re:"), buf[:n]...), from)
		}
	}()
	c, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(int(o.Ports[0].HostPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	k, err := c.Read(buf)
	if err != nil || string(buf[:k]) != "re:ping" {
		t.Fatalf("UDP through the published port = %q, %v", buf[:k], err)
	}
	// A mapping bound to 127.0.0.1 does not answer on the bridge address.
	if r, _ := TaggedRules(o.ContainerID); len(r) != 1 || !strings.Contains(r[0], "port=udp/127.0.0.1/") {
		t.Errorf("rules = %v", r)
	}
}
