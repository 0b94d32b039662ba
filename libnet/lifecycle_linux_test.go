package libnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/vishvananda/netlink"
)

func TestPrune(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := Network{Name: "lntest-j", Driver: "bridge", Interface: "bt231j", Subnets: []Subnet{{Subnet: "10.231.11.0/24"}}}
	t.Cleanup(func() { RemoveNetwork(ctx, n) })
	if err := EnsureNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	kept := Network{Name: "lntest-k", Driver: "bridge", Interface: "bt231k", Subnets: []Subnet{{Subnet: "10.231.12.0/24"}}}
	t.Cleanup(func() { RemoveNetwork(ctx, kept) })
	if err := EnsureNetwork(ctx, kept); err != nil {
		t.Fatal(err)
	}
	ns, nsKept := testNS(t, "dead"), testNS(t, "alive")
	dead := SetupOptions{ContainerID: "lnprdead1xxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.11.2/24")},
		Ports: []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}}
	alive := SetupOptions{ContainerID: "lnpralivexxxxxxx", Attachments: []Attachment{attachment(kept, "eth0", "10.231.12.2/24")},
		Ports: []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}}
	if err := Setup(ctx, ns, dead); err != nil {
		t.Fatal(err)
	}
	if err := Setup(ctx, nsKept, alive); err != nil {
		t.Fatal(err)
	}
	defer Teardown(ctx, nsKept, alive)
	// The "crash": the dead container's namespace goes, nothing is torn down. Its host
	// veth survives only while the namespace is held; simulate the worse case where the
	// namespace is still mounted somewhere by keeping it.
	if len(vethsOf(t, dead.ContainerID)) != 1 {
		t.Fatalf("setup made no veth")
	}
	// Prune only what this test made: other berth processes may share the host.
	mine := map[string]bool{dead.ContainerID: true}
	err := Prune(ctx,
		func(id string) bool { return !mine[id] },
		func(name string) bool { return name != n.Name })
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	assertClean(t, dead.ContainerID)
	if linkExists(n.Interface) {
		t.Errorf("bridge of a pruned network left")
	}
	if r := netRules(t, n.Name); len(r) > 0 {
		t.Errorf("rules of a pruned network left: %v", r)
	}
	if len(vethsOf(t, alive.ContainerID)) != 1 || !linkExists(kept.Interface) || len(netRules(t, kept.Name)) == 0 {
		t.Errorf("Prune removed what it was told to keep")
	}
	if r, _ := TaggedRules(alive.ContainerID); len(r) == 0 {
		t.Errorf("Prune removed the kept container's port rules")
	}
}

func TestTeardownAfterNamespaceGone(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := testNetwork(t, "lntest-n", "bt231n", "10.231.15.0/24", false)
	ns := testNS(t, "c")
	o := SetupOptions{ContainerID: "lngonexxxxxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.15.2/24")},
		Ports: []PortMapping{{ContainerPort: 53, Protocol: "udp"}, {HostPort: 0, ContainerPort: 80, Protocol: "tcp"}}}
	if err := Setup(ctx, ns, o); err != nil {
		t.Fatal(err)
	}
	if r, _ := TaggedRules(o.ContainerID); len(r) != 2 {
		t.Errorf("port rules = %v, want one per port", r)
	}
	if err := RemoveNetNS(ns); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Teardown(ctx, ns, o); err != nil {
		t.Fatalf("Teardown with the namespace gone: %v", err)
	}
	t.Logf("Teardown after RemoveNetNS took %s", time.Since(start))
	deadline := time.Now().Add(5 * time.Second)
	for len(vethsOf(t, o.ContainerID)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assertClean(t, o.ContainerID)
}

func TestSetupRollsBack(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := testNetwork(t, "lntest-o", "bt231o", "10.231.16.0/24", false)
	ns := testNS(t, "c")
	// The second attachment names a bridge that does not exist: the first must be undone.
	missing := Network{Name: "lntest-missing", Driver: "bridge", Interface: "bt231nope", Subnets: []Subnet{{Subnet: "10.231.17.0/24"}}}
	o := SetupOptions{ContainerID: "lnrollbackxxxxxx", Attachments: []Attachment{
		attachment(n, "eth0", "10.231.16.2/24"), attachment(missing, "eth1", "10.231.17.2/24")}}
	err := Setup(ctx, ns, o)
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "bt231nope") {
		t.Fatalf("Setup with a missing bridge = %v, want ErrNotFound naming it", err)
	}
	assertClean(t, o.ContainerID)
	h := handleIn(t, ns)
	if links, _ := h.LinkList(); len(links) != 1 {
		t.Errorf("namespace has %d links after a failed Setup, want only lo", len(links))
	}
}

// BenchmarkContainerNetwork measures what networking adds to one container's life: a new
// namespace, EnsureNetwork of an existing network, Setup with one published port, Release.
func BenchmarkContainerNetwork(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	ctx := context.Background()
	n := Network{Name: "lnbench", Driver: "bridge", Interface: "bt231z", Subnets: []Subnet{{Subnet: "10.231.99.0/24"}}}
	if err := EnsureNetwork(ctx, n); err != nil {
		b.Fatal(err)
	}
	defer RemoveNetwork(ctx, n)
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		p := dir + "/ns"
		// A fresh ID each time, as real containers have: the previous veth may still be
		// on its way out with its namespace.
		o := SetupOptions{ContainerID: "lnbench" + strconv.Itoa(i) + "xxxxxxxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.99.2/24")},
			Ports: []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}}
		if err := NewNetNS(p); err != nil {
			b.Fatal(err)
		}
		if err := EnsureNetwork(ctx, n); err != nil {
			b.Fatal(err)
		}
		if err := Setup(ctx, p, o); err != nil {
			b.Fatal(err)
		}
		if err := Release(ctx, p, o); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRelease(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := testNetwork(t, "lntest-p", "bt231p", "10.231.18.0/24", false)
	dir := t.TempDir()
	p := dir + "/ns"
	if err := NewNetNS(p); err != nil {
		t.Fatal(err)
	}
	o := SetupOptions{ContainerID: "lnreleasexxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.18.2/24")},
		Ports: []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}}
	if err := Setup(ctx, p, o); err != nil {
		t.Fatal(err)
	}
	if err := Release(ctx, p, o); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if r, _ := TaggedRules(o.ContainerID); len(r) > 0 {
		t.Errorf("rules left after Release: %v", r)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("namespace file left after Release: %v", err)
	}
	// The kernel removes the veth as the namespace dies, asynchronously but promptly.
	deadline := time.Now().Add(5 * time.Second)
	for len(vethsOf(t, o.ContainerID)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assertClean(t, o.ContainerID)
	if err := Release(ctx, p, o); err != nil {
		t.Errorf("second Release: %v", err)
	}
}

func TestParallelContainers(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := testNetwork(t, "lntest-q", "bt231q", "10.231.19.0/24", false)
	dir := t.TempDir()
	const N = 12
	var wg sync.WaitGroup
	errs := make([]error, N)
	ids := make([]string, N)
	for i := 0; i < N; i++ {
		ids[i] = fmt.Sprintf("lnpar%02dxxxxxxxxxx", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := fmt.Sprintf("%s/ns%d", dir, i)
			o := SetupOptions{ContainerID: ids[i], Attachments: []Attachment{attachment(n, "eth0", fmt.Sprintf("10.231.19.%d/24", i+2))},
				Ports: []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}}
			if err := NewNetNS(p); err != nil {
				errs[i] = err
				return
			}
			if err := EnsureNetwork(ctx, n); err != nil {
				errs[i] = err
				return
			}
			if err := Setup(ctx, p, o); err != nil {
				errs[i] = err
				return
			}
			if r, err := TaggedRules(ids[i]); err != nil || len(r) != 1 {
				errs[i] = fmt.Errorf("rules of %s = %v, %v", ids[i], r, err)
			}
			if err := Release(ctx, p, o); err != nil && errs[i] == nil {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("container %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, id := range ids {
		for len(vethsOf(t, id)) > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		assertClean(t, id)
	}
}

func TestPruneUnnamedVeth(t *testing.T) {
	requireNet(t)
	// What a setup killed between creating the veth and naming its owner leaves: a vb*
	// veth, down, without alias.
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vblnunnamd_0"}, PeerName: "vblnunnamdp"}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName("vblnunnamd_0"); err == nil {
			netlink.LinkDel(l)
		}
	})
	err := Prune(context.Background(), func(string) bool { return true }, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if linkExists("vblnunnamd_0") {
		t.Errorf("Prune left an unnamed, down vb veth")
	}
}

func TestSetupAgainReplacesStaleRules(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := testNetwork(t, "lntest-s", "bt231s", "10.231.21.0/24", false)
	o := SetupOptions{ContainerID: "lnagainxxxxxxxxx", Attachments: []Attachment{attachment(n, "eth0", "10.231.21.2/24")},
		Ports: []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}}
	ns := testNS(t, "first")
	if err := Setup(ctx, ns, o); err != nil {
		t.Fatal(err)
	}
	// The process that set it up dies; the namespace goes, the rules stay. The container
	// starts again in a new namespace with the same host port.
	if err := RemoveNetNS(ns); err != nil {
		t.Fatal(err)
	}
	ns2 := testNS(t, "second")
	if err := Setup(ctx, ns2, o); err != nil {
		t.Fatalf("Setup again: %v", err)
	}
	defer Teardown(ctx, ns2, o)
	if r, _ := TaggedRules(o.ContainerID); len(r) != 1 {
		t.Errorf("rules after a second Setup = %v, want one", r)
	}
	echoServer(t, ns2, ":80", "again")
	mustReach(t, "", "127.0.0.1:"+strconv.Itoa(int(o.Ports[0].HostPort)), "again")
}

func TestRemoveNetworkWithoutSetElement(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := testNetwork(t, "lntest-t", "bt231t", "10.231.22.0/24", false)
	// Someone removed the bridge from the set by hand: removal still completes.
	if out, err := exec.Command("nft", "delete", "element", "inet", "berth", "bridges", `{ "bt231t" }`).CombinedOutput(); err != nil {
		t.Skipf("nft CLI: %v %s", err, out)
	}
	if err := RemoveNetwork(ctx, n); err != nil {
		t.Fatalf("RemoveNetwork: %v", err)
	}
	if r := netRules(t, n.Name); len(r) > 0 {
		t.Errorf("rules left: %v", r)
	}
}

func TestEnsureNetworkNamesUnnamedBridge(t *testing.T) {
	requireNet(t)
	// What an EnsureNetwork killed between creating the bridge and naming it leaves.
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "bt231u"}}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	n := testNetwork(t, "lntest-u", "bt231u", "10.231.23.0/24", false)
	if got := mustLink(t, n.Interface).Attrs().Alias; got != bridgeAliasPrefix+n.Name {
		t.Errorf("bridge alias = %q, want %q", got, bridgeAliasPrefix+n.Name)
	}
	err := Prune(context.Background(), func(string) bool { return true }, func(name string) bool { return name != n.Name })
	if err != nil {
		t.Fatal(err)
	}
	if linkExists(n.Interface) {
		t.Errorf("Prune left the bridge of a network not kept")
	}
}
