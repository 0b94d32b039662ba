package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/berth-project/berth/internal/state"
	"github.com/berth-project/berth/tests/fixture"
)

// Each network test uses its own network names and subnets in 10.231.x.0/24, removed at the
// end, so that a failed test leaves nothing the next one trips on.

// withNetwork loads the image and creates a user network name with subnet, removed at the end.
func withNetwork(t *testing.T, b *Berth, name, subnet string, extra ...string) {
	t.Helper()
	args := append([]string{"network", "create", "--subnet", subnet}, extra...)
	b.Run(append(args, name)...).WantSuccess(t)
	t.Cleanup(func() { b.Run("network", "rm", "-f", name) })
}

// rmAllOnCleanup removes every container of b when the test ends, so nothing stays attached.
func rmAllOnCleanup(t *testing.T, b *Berth) {
	t.Cleanup(func() {
		ids := strings.Fields(b.Run("ps", "-a", "-q").Stdout)
		if len(ids) > 0 {
			b.Run(append([]string{"rm", "-f"}, ids...)...)
		}
	})
}

// vethsOf lists the host-side veths of a container (named vb + 9 characters of its id).
func vethsOf(id string) []string {
	ents, _ := os.ReadDir("/sys/class/net")
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "vb"+id[:9]+"_") {
			out = append(out, e.Name())
		}
	}
	return out
}

// rulesOf returns the nftables lines that mention a container's id.
func rulesOf(t *testing.T, id string) string {
	out, err := exec.Command("nft", "-a", "list", "ruleset").CombinedOutput()
	if err != nil {
		t.Logf("nft list ruleset: %v: %s", err, out)
		return ""
	}
	var hits []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, id[:12]) {
			hits = append(hits, strings.TrimSpace(l))
		}
	}
	return strings.Join(hits, "\n")
}

// wantReleased fails unless nothing of container id is left on the host: no veth, no rule,
// no netns file.
func wantReleased(t *testing.T, b *Berth, id string) {
	t.Helper()
	var v []string
	for i := 0; i < 100; i++ { // a namespace's veth goes with it, in the kernel's own time
		if v = vethsOf(id); len(v) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(v) > 0 {
		t.Errorf("veths of %s left: %v", id[:12], v)
	}
	if r := rulesOf(t, id); r != "" {
		t.Errorf("rules of %s left:\n%s", id[:12], r)
	}
	if _, err := os.Stat(filepath.Join(b.RunRoot, "netns", id)); err == nil {
		t.Errorf("netns of %s left", id[:12])
	}
}

func containerIP(t *testing.T, b *Berth, ctr, network string) string {
	t.Helper()
	f := fmt.Sprintf(`{{(index .NetworkSettings.Networks %q).IPAddress}}`, network)
	return strings.TrimSpace(b.Run("inspect", "--format", f, ctr).WantSuccess(t).Stdout)
}

// dial reads what a TCP server at addr sends, retrying while the container starts.
func dial(addr string) (string, error) {
	var err error
	for i := 0; i < 50; i++ {
		var c net.Conn
		c, err = net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(3 * time.Second))
			b, rerr := io.ReadAll(c)
			c.Close()
			if rerr == nil && len(b) > 0 {
				return string(b), nil
			}
			err = fmt.Errorf("read %s: %v (%q)", addr, rerr, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", err
}

// server is a container command answering every TCP connection on port 80 with msg.
func server(msg string) []string {
	return []string{"sh", "-c", "while true; do echo " + msg + " | nc -l -p 80; done"}
}

// ncRetry is a shell command reading from host:80, retrying while the server is not (yet,
// or again: it restarts nc after each answer) listening.
func ncRetry(host string) string {
	return "for i in $(seq 30); do nc -w 3 " + host + " 80 </dev/null 2>/dev/null && break; sleep 0.1; done"
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestNetworkNameResolution(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	withNetwork(t, b, "tnres", "10.231.1.0/24")
	web := strings.TrimSpace(b.Run(append([]string{"run", "-d", "--name", "web", "--network", "tnres", "--network-alias", "www", "localhost/bb:1"}, server("hello")...)...).WantSuccess(t).Stdout)
	if ip := containerIP(t, b, "web", "tnres"); ip != "10.231.1.2" {
		t.Errorf("web's address %q, want 10.231.1.2 (the first after the gateway)", ip)
	}
	// TCP by name and by alias, through /etc/hosts.
	r := b.Run("run", "--rm", "--network", "tnres", "localhost/bb:1", "sh", "-c", ncRetry("web")+"; "+ncRetry("www")+"; cat /etc/resolv.conf").WantSuccess(t)
	if !strings.HasPrefix(r.Stdout, "hello\nhello\n") {
		t.Errorf("nc web / www: %q", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "nameserver 10.231.1.1\n") {
		t.Errorf("resolv.conf does not point at the network's responder: %q", r.Stdout)
	}
	// DNS: the per-network responder on the gateway answers names and aliases.
	r = b.Run("run", "--rm", "--network", "tnres", "localhost/bb:1", "sh", "-c", "nslookup web && nslookup www").WantSuccess(t)
	if strings.Count(r.Stdout, "Address: 10.231.1.2") != 2 {
		t.Errorf("nslookup web / www: %q", r.Stdout)
	}
	// /etc/hosts of a running container follows others joining and leaving, in place.
	b.Run("run", "-d", "--name", "client", "--network", "tnres", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	hosts := b.Run("exec", "web", "cat", "/etc/hosts").WantSuccess(t).Stdout
	if !strings.Contains(hosts, containerIP(t, b, "client", "tnres")+"\tclient ") {
		t.Errorf("web's /etc/hosts misses client: %q", hosts)
	}
	b.Run("rm", "-f", "client").WantSuccess(t)
	if hosts := b.Run("exec", "web", "cat", "/etc/hosts").WantSuccess(t).Stdout; strings.Contains(hosts, "client") {
		t.Errorf("web's /etc/hosts still has client after it left: %q", hosts)
	}
	// The default network has no name resolution between containers (as Docker's bridge).
	r = b.Run("run", "--rm", "localhost/bb:1", "sh", "-c", "cat /etc/hosts; grep -c nameserver /etc/resolv.conf || true").WantSuccess(t)
	if strings.Contains(r.Stdout, "web") {
		t.Errorf("default network sees web: %q", r.Stdout)
	}
	b.Run("rm", "-f", "web").WantSuccess(t)
	wantReleased(t, b, web)
	// The responder stops once the network has no containers left.
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(filepath.Join(b.RunRoot, "networks", "tnres", "dns.pid")); os.IsNotExist(err) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, _ := exec.Command("pgrep", "-f", "berth-dns "+filepath.Join(b.RunRoot, "networks", "tnres")).Output(); len(out) > 0 {
		t.Errorf("dns responder still running: %s", out)
	}
}

func TestNetworkPublish(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	port := freePort(t)
	id := strings.TrimSpace(b.Run(append([]string{"run", "-d", "--name", "pub", "-p", fmt.Sprintf("%d:80", port), "-p", "81", "localhost/bb:1"}, server("published")...)...).WantSuccess(t).Stdout)
	if got, err := dial(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || got != "published\n" {
		t.Errorf("127.0.0.1:%d: %q %v", port, got, err)
	}
	// The host's address on the default bridge is another address of the host.
	gw := strings.TrimSpace(b.Run("inspect", "--format", "{{.NetworkSettings.Gateway}}", "pub").WantSuccess(t).Stdout)
	if got, err := dial(net.JoinHostPort(gw, strconv.Itoa(port))); err != nil || got != "published\n" {
		t.Errorf("%s:%d: %q %v", gw, port, got, err)
	}
	// And any non-loopback address of the host's own interfaces.
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.To4() == nil || ipn.IP.IsLoopback() || ipn.IP.String() == gw || strings.HasPrefix(ipn.IP.String(), "10.231.") || strings.HasPrefix(ipn.IP.String(), "10.123.") {
				continue
			}
			if got, err := dial(net.JoinHostPort(ipn.IP.String(), strconv.Itoa(port))); err != nil || got != "published\n" {
				t.Errorf("%s:%d: %q %v", ipn.IP, port, got, err)
			}
			break
		}
	}
	out := b.Run("port", "pub").WantSuccess(t).Stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != fmt.Sprintf("80/tcp -> 0.0.0.0:%d", port) || !strings.HasPrefix(lines[1], "81/tcp -> 0.0.0.0:") {
		t.Errorf("port pub: %q", out)
	}
	if got := b.Run("port", "pub", "80").WantSuccess(t).Stdout; got != fmt.Sprintf("0.0.0.0:%d\n", port) {
		t.Errorf("port pub 80: %q", got)
	}
	b.Run("port", "pub", "99").WantError(t, 1, "no public port '99' published for pub")
	if got := b.Run("ps", "-q", "--no-trunc", "--filter", fmt.Sprintf("publish=%d/tcp", port)).WantSuccess(t).Stdout; got != id+"\n" {
		t.Errorf("ps --filter publish=%d: %q", port, got)
	}
	if got := b.Run("ps", "-q", "--filter", "expose=82").WantSuccess(t).Stdout; got != "" {
		t.Errorf("ps --filter expose=82: %q", got)
	}
	if got := b.Run("ps", "--format", "{{.Ports}}").WantSuccess(t).Stdout; !strings.HasPrefix(got, fmt.Sprintf("0.0.0.0:%d->80/tcp, 0.0.0.0:", port)) {
		t.Errorf("ps PORTS: %q", got)
	}
	var ins []struct {
		NetworkSettings struct {
			Ports map[string][]struct{ HostIp, HostPort string }
		}
		HostConfig struct{ NetworkMode string }
	}
	if err := json.Unmarshal([]byte(b.Run("inspect", "pub").WantSuccess(t).Stdout), &ins); err != nil || len(ins) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	if p := ins[0].NetworkSettings.Ports["80/tcp"]; len(p) != 1 || p[0].HostPort != strconv.Itoa(port) || ins[0].HostConfig.NetworkMode != "berth" {
		t.Errorf("inspect ports %+v mode %q", ins[0].NetworkSettings.Ports, ins[0].HostConfig.NetworkMode)
	}
	// The same host port twice is refused, naming it; so is a port a host process holds.
	b.Run("run", "--rm", "-p", fmt.Sprintf("%d:80", port), "localhost/bb:1", "true").WantError(t, 125, strconv.Itoa(port))
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	held := l.Addr().(*net.TCPAddr).Port
	r := b.Run("run", "-d", "--name", "clash", "-p", fmt.Sprintf("%d:80", held), "localhost/bb:1", "sleep", "10").WantError(t, 125, strconv.Itoa(held))
	l.Close()
	_ = r
	clash := strings.TrimSpace(b.Run("ps", "-a", "-q", "--no-trunc", "--filter", "name=clash").Stdout)
	if clash != "" {
		wantReleased(t, b, clash)
	}
	b.Run("rm", "-f", "pub").WantSuccess(t)
	wantReleased(t, b, id)
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 300*time.Millisecond); err == nil {
		t.Errorf("port %d still answers after rm", port)
	}
}

func TestNetworkPublishAll(t *testing.T) {
	RequireRoot(t)
	b := NewBerth(t)
	rmAllOnCleanup(t, b)
	img := busyboxImage(t)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.ExposedPorts = map[string]struct{}{"80/tcp": {}, "53/udp": {}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	var _ v1.Image = img
	p := filepath.Join(t.TempDir(), "exp.tar")
	if err := fixture.WriteDockerArchive(p, "localhost/exp:1", img); err != nil {
		t.Fatal(err)
	}
	b.Run("load", "-i", p).WantSuccess(t)
	b.Run(append([]string{"run", "-d", "--name", "all", "-P", "localhost/exp:1"}, server("all")...)...).WantSuccess(t)
	out := b.Run("port", "all").WantSuccess(t).Stdout
	var tcpPort string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, " -> "); ok && k == "80/tcp" {
			_, tcpPort, _ = net.SplitHostPort(v)
		}
	}
	if tcpPort == "" || !strings.Contains(out, "53/udp -> 0.0.0.0:") {
		t.Fatalf("port after -P: %q", out)
	}
	if got, err := dial("127.0.0.1:" + tcpPort); err != nil || got != "all\n" {
		t.Errorf("-P port %s: %q %v", tcpPort, got, err)
	}
}

func TestNetworkIsolationAndInternal(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	withNetwork(t, b, "tniso-a", "10.231.2.0/24")
	withNetwork(t, b, "tniso-b", "10.231.3.0/24")
	withNetwork(t, b, "tniso-int", "10.231.4.0/24", "--internal")
	b.Run(append([]string{"run", "-d", "--name", "a", "--network", "tniso-a", "localhost/bb:1"}, server("a")...)...).WantSuccess(t)
	ip := containerIP(t, b, "a", "tniso-a")
	// Same network: reachable. Other network: not, not even by address.
	if r := b.Run("run", "--rm", "--network", "tniso-a", "localhost/bb:1", "sh", "-c", ncRetry(ip)); r.Stdout != "a\n" {
		t.Errorf("same network: %q %q", r.Stdout, r.Stderr)
	}
	r := b.Run("run", "--rm", "--network", "tniso-b", "localhost/bb:1", "sh", "-c", "nc -w 2 "+ip+" 80 </dev/null; echo rc=$?")
	if strings.Contains(r.Stdout, "a\n") || !strings.Contains(r.Stdout, "rc=1") {
		t.Errorf("other network reached %s: %q", ip, r.Stdout)
	}
	// --internal: a route for its own subnet and no default route.
	r = b.Run("run", "--rm", "--network", "tniso-int", "localhost/bb:1", "ip", "route").WantSuccess(t)
	if strings.Contains(r.Stdout, "default") || !strings.Contains(r.Stdout, "10.231.4.0/24") {
		t.Errorf("internal network routes: %q", r.Stdout)
	}
	r = b.Run("run", "--rm", "--network", "tniso-a", "localhost/bb:1", "ip", "route").WantSuccess(t)
	if !strings.Contains(r.Stdout, "default via 10.231.2.1") {
		t.Errorf("user network routes: %q", r.Stdout)
	}
	if got := b.Run("network", "inspect", "--format", "{{.Internal}}", "tniso-int").WantSuccess(t).Stdout; got != "true\n" {
		t.Errorf("inspect Internal: %q", got)
	}
}

func TestNetworkConnectDisconnect(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	withNetwork(t, b, "tncon-a", "10.231.5.0/24")
	withNetwork(t, b, "tncon-b", "10.231.6.0/24")
	b.Run(append([]string{"run", "-d", "--name", "srv", "--network", "tncon-a", "localhost/bb:1"}, server("srv")...)...).WantSuccess(t)
	id := strings.TrimSpace(b.Run("inspect", "--format", "{{.Id}}", "srv").WantSuccess(t).Stdout)
	b.Run("network", "connect", "--ip", "10.231.6.77", "--alias", "backend", "tncon-b", "srv").WantSuccess(t)
	r := b.Run("exec", "srv", "ip", "-4", "-o", "addr").WantSuccess(t)
	if !strings.Contains(r.Stdout, "eth1") || !strings.Contains(r.Stdout, "10.231.6.77/24") {
		t.Errorf("after connect: %q", r.Stdout)
	}
	if r := b.Run("run", "--rm", "--network", "tncon-b", "localhost/bb:1", "sh", "-c", ncRetry("backend")); r.Stdout != "srv\n" {
		t.Errorf("reach srv on its new network by alias: %q %q", r.Stdout, r.Stderr)
	}
	if got := b.Run("network", "inspect", "--format", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", "tncon-b").WantSuccess(t).Stdout; got != "srv 10.231.6.77/24\n" {
		t.Errorf("network inspect after connect: %q", got)
	}
	b.Run("network", "connect", "tncon-b", "srv").WantError(t, 1, "already connected")
	b.Run("network", "rm", "tncon-b").WantError(t, 2, "in use")
	b.Run("network", "disconnect", "tncon-b", "srv").WantSuccess(t)
	r = b.Run("exec", "srv", "ip", "-4", "-o", "addr").WantSuccess(t)
	if strings.Contains(r.Stdout, "eth1") || !strings.Contains(r.Stdout, "eth0") {
		t.Errorf("after disconnect: %q", r.Stdout)
	}
	if v := vethsOf(id); len(v) != 1 {
		t.Errorf("veths after disconnect: %v", v)
	}
	b.Run("network", "disconnect", "tncon-b", "srv").WantError(t, 1, "not connected")
	// A stopped container joins at its next start.
	b.Run("create", "--name", "later", "--network", "tncon-a", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	b.Run("network", "connect", "tncon-b", "later").WantSuccess(t)
	b.Run("start", "later").WantSuccess(t)
	// An address of tncon-b's (the next after the last handed out, as Docker's IPAM picks).
	if got := containerIP(t, b, "later", "tncon-b"); !strings.HasPrefix(got, "10.231.6.") || got == "10.231.6.77" {
		t.Errorf("later on tncon-b: %q", got)
	}
	b.Run("rm", "-f", "srv", "later").WantSuccess(t)
	wantReleased(t, b, id)
}

func TestNetworkModes(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	// none: loopback only.
	r := b.Run("run", "--rm", "--network", "none", "localhost/bb:1", "ip", "-o", "link").WantSuccess(t)
	if strings.Count(strings.TrimSpace(r.Stdout), "\n") != 0 || !strings.Contains(r.Stdout, "lo") {
		t.Errorf("--network none links: %q", r.Stdout)
	}
	// host: the host's interfaces.
	hostLinks, _ := os.ReadDir("/sys/class/net")
	r = b.Run("run", "--rm", "--network", "host", "localhost/bb:1", "ip", "-o", "link").WantSuccess(t)
	if got := strings.Count(strings.TrimSpace(r.Stdout), "\n") + 1; got < len(hostLinks)-5 || got < 2 {
		t.Errorf("--network host sees %d links, the host has %d", got, len(hostLinks))
	}
	// container:NAME shares that container's interfaces and address.
	b.Run("run", "-d", "--name", "base", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	ip := containerIP(t, b, "base", "berth")
	r = b.Run("run", "--rm", "--network", "container:base", "localhost/bb:1", "ip", "-4", "-o", "addr").WantSuccess(t)
	if !strings.Contains(r.Stdout, ip+"/") {
		t.Errorf("container:base does not have %s: %q", ip, r.Stdout)
	}
	// Several networks: eth0, eth1 in order; --ip, --mac-address, --add-host, --dns*, --hostname.
	withNetwork(t, b, "tnmode-a", "10.231.7.0/24")
	withNetwork(t, b, "tnmode-b", "10.231.8.0/24")
	r = b.Run("run", "--rm", "--network", "tnmode-a", "--network", "tnmode-b", "--ip", "10.231.7.50", "--mac-address", "02:42:ac:11:00:99",
		"--add-host", "db.local:10.9.8.7", "--add-host", "gw.local:host-gateway", "--dns", "10.231.7.1", "--dns-search", "example.test", "--dns-option", "ndots:2", "-h", "boxy",
		"localhost/bb:1", "sh", "-c", "ip -4 -o addr; ip -o link; cat /etc/hosts /etc/resolv.conf; hostname").WantSuccess(t)
	for _, want := range []string{"eth0    inet 10.231.7.50/24", "eth1    inet 10.231.8.2/24", "02:42:ac:11:00:99", "10.9.8.7\tdb.local", "10.231.7.1\tgw.local",
		"10.231.7.50\tboxy", "nameserver 10.231.7.1\n", "search example.test\n", "options ndots:2\n", "boxy\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("multi-network run lacks %q:\n%s", want, r.Stdout)
		}
	}
}

func TestNetworkCommands(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	id := strings.TrimSpace(b.Run("network", "create", "--subnet", "10.231.9.0/24", "--gateway", "10.231.9.254", "--ip-range", "10.231.9.128/25",
		"--label", "team=blue", "tncmd").WantSuccess(t).Stdout)
	t.Cleanup(func() { b.Run("network", "rm", "-f", "tncmd") })
	if len(id) != 64 {
		t.Fatalf("network create printed %q", id)
	}
	auto := strings.TrimSpace(b.Run("network", "create", "tncmd-auto").WantSuccess(t).Stdout)
	t.Cleanup(func() { b.Run("network", "rm", "-f", "tncmd-auto") })
	if got := b.Run("network", "ls", "--format", "{{.Name}} {{.Driver}}").WantSuccess(t).Stdout; got != "berth bridge\ntncmd bridge\ntncmd-auto bridge\n" {
		t.Errorf("network ls: %q", got)
	}
	if got := b.Run("network", "ls", "-q", "--filter", "label=team=blue").WantSuccess(t).Stdout; got != id[:12]+"\n" {
		t.Errorf("ls -q --filter label: %q", got)
	}
	if got := b.Run("network", "ls", "-q", "--no-trunc", "--filter", "name=auto").WantSuccess(t).Stdout; got != auto+"\n" {
		t.Errorf("ls --filter name: %q", got)
	}
	if got := b.Run("network", "ls", "--filter", "driver=macvlan", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("ls --filter driver=macvlan: %q", got)
	}
	b.Run("network", "ls", "--filter", "bogus=1").WantError(t, 1, "bogus")
	var ins []struct {
		Name, Id, Driver string
		IPAM             struct {
			Config []struct{ Subnet, Gateway, IPRange string }
		}
		Labels     map[string]string
		Containers map[string]struct{ Name, IPv4Address, MacAddress string }
	}
	b.Run("run", "-d", "--name", "member", "--network", "tncmd", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	if got := b.Run("ps", "--filter", "network=tncmd", "--format", "{{.Names}} {{.Networks}}").WantSuccess(t).Stdout; got != "member tncmd\n" {
		t.Errorf("ps --filter network=tncmd: %q", got)
	}
	if err := json.Unmarshal([]byte(b.Run("network", "inspect", "tncmd").WantSuccess(t).Stdout), &ins); err != nil || len(ins) != 1 {
		t.Fatalf("network inspect: %v", err)
	}
	n := ins[0]
	if n.Name != "tncmd" || n.Id != id || n.Driver != "bridge" || n.Labels["team"] != "blue" || len(n.IPAM.Config) != 1 ||
		n.IPAM.Config[0] != (struct{ Subnet, Gateway, IPRange string }{"10.231.9.0/24", "10.231.9.254", "10.231.9.128/25"}) {
		t.Errorf("network inspect: %+v", n)
	}
	for _, c := range n.Containers {
		if c.Name != "member" || c.IPv4Address != "10.231.9.128/24" && c.IPv4Address != "10.231.9.129/24" || c.MacAddress == "" {
			t.Errorf("network inspect container: %+v", c)
		}
	}
	if len(n.Containers) != 1 {
		t.Errorf("network inspect containers: %+v", n.Containers)
	}
	if got := b.Run("network", "inspect", "--format", "{{(index .IPAM.Config 0).Subnet}}", "tncmd-auto").WantSuccess(t).Stdout; !strings.HasPrefix(got, "10.12") {
		t.Errorf("automatic subnet %q", got)
	}
	b.Run("network", "inspect", "nosuch").WantError(t, 1, "nosuch")
	// rm refuses while in use; -f removes the containers as Docker does.
	b.Run("network", "rm", "tncmd").WantError(t, 2, "network tncmd is in use by container(s): member")
	memberID := strings.TrimSpace(b.Run("inspect", "--format", "{{.Id}}", "member").WantSuccess(t).Stdout)
	b.Run("network", "rm", "-f", "tncmd").WantSuccess(t)
	b.Run("inspect", "member").WantError(t, 1, "member")
	wantReleased(t, b, memberID)
	b.Run("network", "rm", "berth").WantError(t, 1, "default network")
	// prune: unused user networks go, the default stays.
	if got := b.Run("network", "prune", "-f").WantSuccess(t).Stdout; got != "Deleted Networks:\ntncmd-auto\n\n" { // Docker prints a blank line after the list
		t.Errorf("network prune: %q", got)
	}
	if got := b.Run("network", "ls", "-q").WantSuccess(t).Stdout; strings.Count(got, "\n") != 1 {
		t.Errorf("after prune: %q", got)
	}
}

func TestNetworkErrors(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	withNetwork(t, b, "tnerr", "10.231.10.0/24")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"network", "create", "--subnet", "10.231.11.7/24", "x"}, "10.231.11.7/24"},
		{[]string{"network", "create", "--subnet", "nonsense", "x"}, "nonsense"},
		{[]string{"network", "create", "--subnet", "10.231.10.0/25", "x"}, "overlaps"},
		{[]string{"network", "create", "--subnet", "10.231.11.0/24", "--gateway", "10.9.9.9", "x"}, "10.9.9.9"},
		{[]string{"network", "create", "tnerr"}, "already exists"},
		{[]string{"network", "create", "-d", "macvlan", "x"}, "parent"},
		{[]string{"network", "create", "-d", "macvlan", "-o", "parent=nosuch0", "x"}, "nosuch0"},
		{[]string{"run", "--rm", "-p", "99999:80", "localhost/bb:1", "true"}, "99999:80"},
		{[]string{"run", "--rm", "-p", "80/sctp", "localhost/bb:1", "true"}, "80/sctp"},
		{[]string{"run", "--rm", "--network", "tnerr", "--ip", "10.231.99.5", "localhost/bb:1", "true"}, "10.231.99.5"},
		{[]string{"run", "--rm", "--network", "nosuchnet", "localhost/bb:1", "true"}, "nosuchnet"},
		{[]string{"run", "--rm", "--network", "container:nosuchctr", "localhost/bb:1", "true"}, "nosuchctr"},
		{[]string{"run", "--rm", "--add-host", "nocolon", "localhost/bb:1", "true"}, "nocolon"},
		{[]string{"run", "--rm", "--network", "none", "--network", "tnerr", "localhost/bb:1", "true"}, "none"},
		{[]string{"run", "--rm", "--network-alias", "x", "localhost/bb:1", "true"}, "user-defined networks"},
	} {
		code := 125 // run: any failure of berth's own
		if c.args[0] == "network" {
			code = 1 // the user's error on a non-run command, as Docker answers
		}
		b.Run(c.args...).WantError(t, code, c.msg)
	}
	if got := b.Run("network", "ls", "-q").WantSuccess(t).Stdout; strings.Count(got, "\n") != 2 {
		t.Errorf("failed creates left networks: %q", got)
	}
	if got := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("failed runs left containers: %q", got)
	}
	// An address already taken at start: the second container fails and leaves nothing.
	b.Run("run", "-d", "--name", "first", "--network", "tnerr", "--ip", "10.231.10.9", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	b.Run("create", "--name", "second", "--network", "tnerr", "--ip", "10.231.10.9", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	b.Run("start", "second").WantError(t, 125, "10.231.10.9")
	second := strings.TrimSpace(b.Run("inspect", "--format", "{{.Id}}", "second").WantSuccess(t).Stdout)
	wantReleased(t, b, second)
	if got := b.Run("inspect", "--format", "{{.State.Status}}", "second").WantSuccess(t).Stdout; got != "created\n" {
		t.Errorf("second after a failed start: %q", got)
	}
}

func TestNetworkParallelRuns(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	withNetwork(t, b, "tnpar", "10.231.12.0/24")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ids []string
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := b.Cmd("run", "-d", "--network", "tnpar", "localhost/bb:1", "sleep", "100").CombinedOutput()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("run -d: %v: %s", err, out)
				return
			}
			ids = append(ids, strings.TrimSpace(string(out)))
		}()
	}
	wg.Wait()
	seen := map[string]string{}
	for _, id := range ids {
		ip := containerIP(t, b, id, "tnpar")
		if !strings.HasPrefix(ip, "10.231.12.") {
			t.Errorf("%s has address %q", id[:12], ip)
		}
		if other, ok := seen[ip]; ok {
			t.Errorf("%s and %s both have %s", id[:12], other[:12], ip)
		}
		seen[ip] = id
	}
	// Every container reaches another one.
	if len(ids) == 20 {
		ip := containerIP(t, b, ids[19], "tnpar")
		if r := b.Run("exec", ids[0], "busybox", "ping", "-c", "1", "-W", "3", ip); r.Code != 0 {
			t.Errorf("ping %s from %s: %s %s", ip, ids[0][:12], r.Stdout, r.Stderr)
		}
	}
	for _, id := range ids {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			if out, err := b.Cmd("rm", "-f", id).CombinedOutput(); err != nil {
				t.Errorf("rm -f: %v: %s", err, out)
			}
		}(id)
	}
	wg.Wait()
	for _, id := range ids {
		wantReleased(t, b, id)
	}
	if ents, _ := os.ReadDir(filepath.Join(b.RunRoot, "netns")); len(ents) > 0 {
		t.Errorf("netns files left: %d", len(ents))
	}
	if got := b.Run("network", "inspect", "--format", "{{len .Containers}}", "tnpar").WantSuccess(t).Stdout; got != "0\n" {
		t.Errorf("network still has containers: %q", got)
	}
}

func TestNetworkMonitorKilled(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	withNetwork(t, b, "tnkill", "10.231.13.0/24")
	id := strings.TrimSpace(b.Run("run", "-d", "--network", "tnkill", "-p", "80", "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout)
	if len(vethsOf(id)) != 1 || rulesOf(t, id) == "" {
		t.Fatalf("no veth or no port rule for %s", id[:12])
	}
	killMonitorAndContainer(t, b, id)
	// The next command finds the container dead and releases its network.
	if got := b.Run("ps", "-a", "--format", "{{.Status}}").WantSuccess(t).Stdout; !strings.HasPrefix(got, "Exited (255)") {
		t.Errorf("ps after the monitor was killed: %q", got)
	}
	wantReleased(t, b, id)
	// Its address is free again.
	b.Run("run", "--rm", "--network", "tnkill", "--ip", "10.231.13.2", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("rm", id).WantSuccess(t)
}

// TestNetworkSweepRecordGone covers a container whose record is gone while the database
// still holds its address (a berth killed between the two): the next start releases its
// address, port rules and netns file by its id.
func TestNetworkSweepRecordGone(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	withNetwork(t, b, "tngone", "10.231.16.0/24")
	id := strings.TrimSpace(b.Run("run", "-d", "--network", "tngone", "--ip", "10.231.16.2", "-p", "80", "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout)
	if rulesOf(t, id) == "" {
		t.Fatalf("no port rule for %s", id[:12])
	}
	killMonitorAndContainer(t, b, id)
	ctx := context.Background()
	db, err := state.Open(ctx, filepath.Join(b.Root, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rec json.RawMessage
	name, err := db.Containers().Get(ctx, id, &rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Containers().Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	b.Run("run", "--rm", "--network", "tngone", "--ip", "10.231.16.2", "localhost/bb:1", "true").WantSuccess(t)
	wantReleased(t, b, id)
	// The record comes back so that rm cleans up the rest (its layer mount, its runtime state).
	if err := db.Containers().Insert(ctx, id, name, time.Now().UnixNano(), rec); err != nil {
		t.Fatal(err)
	}
	b.Run("rm", "-f", id).WantSuccess(t)
}

// TestNetworkKilledMidSetup kills `berth start` while it sets the network up (the container
// is recorded as holding it) and checks that the next command, or `network prune`, releases
// what was made.
func TestNetworkKilledMidSetup(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	withNetwork(t, b, "tnmid", "10.231.14.0/24")
	for attempt := 0; attempt < 5; attempt++ {
		id := strings.TrimSpace(b.Run("create", "--network", "tnmid", "-p", "80", "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout)
		cmd := b.Cmd("start", id)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until its netns exists (setup under way), then kill it.
		for i := 0; i < 500; i++ {
			if _, err := os.Stat(filepath.Join(b.RunRoot, "netns", id)); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
		state := strings.TrimSpace(b.Run("inspect", "--format", "{{.State.Status}}", id).WantSuccess(t).Stdout)
		monitor, _ := exec.Command("pgrep", "-f", "berth-monitor --id "+id).Output()
		if state == "running" || len(monitor) > 0 { // it got that far before the kill: try again
			b.Run("rm", "-f", id).WantSuccess(t)
			continue
		}
		b.Run("ps", "-a").WantSuccess(t) // the next command
		wantReleased(t, b, id)
		b.Run("network", "prune", "-f").WantSuccess(t)
		wantReleased(t, b, id)
		b.Run("start", id).WantSuccess(t) // and it still starts
		b.Run("rm", "-f", id).WantSuccess(t)
		wantReleased(t, b, id)
		return
	}
	t.Skip("start always finished before it could be killed")
}

func TestNetworkMacvlan(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	// A veth pair as the parent keeps every frame on this machine.
	if out, err := exec.Command("ip", "link", "add", "tnmvp0", "type", "veth", "peer", "name", "tnmvp1").CombinedOutput(); err != nil {
		t.Skipf("cannot make a veth parent: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", "tnmvp0").Run() })
	exec.Command("ip", "link", "set", "tnmvp0", "up").Run()
	exec.Command("ip", "link", "set", "tnmvp1", "up").Run()
	withNetwork(t, b, "tnmv", "10.231.15.0/24", "-d", "macvlan", "-o", "parent=tnmvp0")
	if got := b.Run("network", "ls", "-q", "--filter", "driver=macvlan").WantSuccess(t).Stdout; strings.Count(got, "\n") != 1 {
		t.Errorf("ls --filter driver=macvlan: %q", got)
	}
	b.Run(append([]string{"run", "-d", "--name", "mvsrv", "--network", "tnmv", "localhost/bb:1"}, server("macvlan")...)...).WantSuccess(t)
	r := b.Run("run", "--rm", "--network", "tnmv", "localhost/bb:1", "sh", "-c", "ip -o link show eth0; "+ncRetry("mvsrv")).WantSuccess(t)
	if !strings.Contains(r.Stdout, "macvlan") && !strings.Contains(r.Stdout, "eth0@") || !strings.HasSuffix(r.Stdout, "macvlan\n") {
		t.Errorf("macvlan network: %q", r.Stdout)
	}
}
