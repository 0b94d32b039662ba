package tests

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/tests/fixture"
)

// rootlessWithImage is a rootless berth with localhost/bb:1 loaded; the test setup makes
// /dev/net/tun usable by every user, as distributions ship it.
func rootlessWithImage(t *testing.T) *Berth {
	t.Helper()
	b := NewRootlessBerth(t)
	if err := os.Chmod("/dev/net/tun", 0o666); err != nil {
		t.Skipf("rootless networking needs /dev/net/tun: %v", err)
	}
	p := filepath.Join(filepath.Dir(b.Root), "bb.tar")
	if err := fixture.WriteDockerArchive(p, "localhost/bb:1", busyboxImage(t)); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	b.Run("load", "-q", "-i", p).WantSuccess(t)
	t.Cleanup(func() { b.Cmd("rm", "-af").Run() })
	return b
}

// testServer is an HTTP server in a network namespace of its own, reached from the host
// through a veth pair: the "outside" a rootless container's traffic goes to.
type testServer struct {
	Addr   string // IP:80
	NS     string
	HostIP string // the host's address on the veth to it
}

// startTestServer serves body at http://IP/hello from a new network namespace.
func startTestServer(t *testing.T, body string) *testServer {
	t.Helper()
	for _, tool := range []string{"ip", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("test server needs %s", tool)
		}
	}
	var rb [2]byte
	rand.Read(rb[:])
	third, fourth := int(rb[0]), int(rb[1])&0xfc
	ns := fmt.Sprintf("brt%02x%02x", rb[0], rb[1])
	hostIP, srvIP := fmt.Sprintf("10.199.%d.%d", third, fourth+1), fmt.Sprintf("10.199.%d.%d", third, fourth+2)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "link", "add", ns+"h", "type", "veth", "peer", "name", ns+"s")
	t.Cleanup(func() { exec.Command("ip", "link", "del", ns+"h").Run() })
	run("ip", "link", "set", ns+"s", "netns", ns)
	run("ip", "addr", "add", hostIP+"/30", "dev", ns+"h")
	run("ip", "link", "set", ns+"h", "up")
	run("ip", "-n", ns, "addr", "add", srvIP+"/30", "dev", ns+"s")
	run("ip", "-n", ns, "link", "set", ns+"s", "up")
	run("ip", "-n", ns, "link", "set", "lo", "up")
	run("ip", "-n", ns, "route", "add", "default", "via", hostIP)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p", srvIP+":80", "-h", dir)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	return &testServer{Addr: srvIP + ":80", NS: ns, HostIP: hostIP}
}

// helpersOf lists the pids of network helpers (pasta, slirp4netns) whose command line names
// b's runtime root.
func helpersOf(b *Berth) []string {
	out, _ := exec.Command("pgrep", "-f", b.RunRoot+"/usernet/").Output()
	return strings.Fields(string(out))
}

func wantNoHelpers(t *testing.T, b *Berth) {
	t.Helper()
	var left []string
	for i := 0; i < 50; i++ {
		if left = helpersOf(b); len(left) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("network helpers left running: %v", left)
	}
	if ents, _ := os.ReadDir(filepath.Join(b.RunRoot, "usernet")); len(ents) > 0 {
		t.Errorf("helper files left: %v", ents)
	}
}

// TestRootlessNetworkOutbound: a rootless container reaches a server outside the host
// through pasta, and through slirp4netns, and the host through host.containers.internal.
func TestRootlessNetworkOutbound(t *testing.T) {
	b := rootlessWithImage(t)
	srv := startTestServer(t, "hello from outside\n")
	// A server on the host's loopback, which pasta maps the gateway address to.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello from the host") }))
	t.Cleanup(func() { l.Close() })
	hostPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)

	for _, mode := range []string{"", "pasta", "slirp4netns"} {
		t.Run("network="+mode, func(t *testing.T) {
			if mode != "" {
				if _, err := exec.LookPath(mode); err != nil {
					t.Skipf("%s is not installed", mode)
				}
			}
			args := []string{"run", "--rm"}
			if mode != "" {
				args = append(args, "--network", mode)
			}
			args = append(args, "--add-host", "gw:host-gateway", "localhost/bb:1", "sh", "-c",
				"wget -q -O - http://"+srv.Addr+"/hello && grep -c nameserver /etc/resolv.conf && grep -E 'host.containers.internal|gw' /etc/hosts")
			r := b.Run(args...).WantSuccess(t)
			lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
			if len(lines) != 4 || lines[0] != "hello from outside" || lines[1] == "0" {
				t.Fatalf("output:\n%s", r.Stdout)
			}
			hostsIP := strings.Fields(lines[2])[0]
			if lines[2] != hostsIP+"\thost.containers.internal" || lines[3] != hostsIP+"\tgw" {
				t.Errorf("hosts entries for the host:\n%s", r.Stdout)
			}
			if mode != "slirp4netns" { // slirp4netns keeps the host's loopback out by default
				r = b.Run("run", "--rm", "localhost/bb:1", "wget", "-q", "-O", "-", "http://host.containers.internal:"+hostPort+"/").WantSuccess(t)
				if r.Stdout != "hello from the host\n" {
					t.Errorf("host.containers.internal: %q", r.Stdout)
				}
			}
			wantNoHelpers(t, b)
		})
	}
	r := b.Run("run", "--rm", "--network", "none", "localhost/bb:1", "wget", "-q", "-T", "2", "-O", "-", "http://"+srv.Addr+"/hello")
	if r.Code == 0 {
		t.Errorf("--network none reached the server: %q", r.Stdout)
	}
}

// TestRootlessPublish: published ports are reachable from the host, and ports a user cannot
// have are refused before the container starts.
func TestRootlessPublish(t *testing.T) {
	b := rootlessWithImage(t)
	for _, mode := range []string{"pasta", "slirp4netns"} {
		t.Run(mode, func(t *testing.T) {
			if _, err := exec.LookPath(mode); err != nil {
				t.Skipf("%s is not installed", mode)
			}
			port := freePort(t)
			id := strings.TrimSpace(b.Run(append([]string{"run", "-d", "--network", mode, "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "-p", "80",
				"localhost/bb:1"}, server("published")...)...).WantSuccess(t).Stdout)
			if got, err := dial(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || got != "published\n" {
				t.Errorf("dial published port: %q, %v", got, err)
			}
			// -p 80 picked a free host port, shown by port and reachable.
			r := b.Run("port", id, "80/tcp").WantSuccess(t)
			var other string
			for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
				if strings.HasPrefix(l, "0.0.0.0:") {
					other = strings.TrimPrefix(l, "0.0.0.0:")
				}
			}
			if got, err := dial("127.0.0.1:" + other); err != nil || got != "published\n" {
				t.Errorf("dial random published port %q (port said %q): %q, %v", other, r.Stdout, got, err)
			}
			b.Run("rm", "-f", id).WantSuccess(t)
			wantNoHelpers(t, b)
		})
	}
	// pasta keeps the client's address: a client in another network namespace connecting to
	// the host's address shows as itself inside the container.
	if _, err := exec.LookPath("pasta"); err == nil {
		srv := startTestServer(t, "unused\n")
		port := freePort(t)
		id := strings.TrimSpace(b.Run("run", "-d", "--network", "pasta", "-p", fmt.Sprintf("%d:80", port), "localhost/bb:1", "sh", "-c",
			`while true; do nc -l -p 80 -e sh -c 'netstat -tn | grep ":80 "'; done`).WantSuccess(t).Stdout)
		srvIP, _, _ := strings.Cut(srv.Addr, ":")
		var out []byte
		for i := 0; i < 50; i++ {
			out, _ = exec.Command("ip", "netns", "exec", srv.NS, "busybox", "nc", "-w", "3", srv.HostIP, strconv.Itoa(port)).Output()
			if len(out) > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(string(out), srvIP+":") {
			t.Errorf("the container saw the connection as %q, want it from %s", out, srvIP)
		}
		b.Run("rm", "-f", id).WantSuccess(t)
	}
	// A port taken on the host, and one below ip_unprivileged_port_start.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	b.Run("run", "--rm", "-p", fmt.Sprintf("127.0.0.1:%d:80", taken), "localhost/bb:1", "true").
		WantError(t, 125, fmt.Sprintf("Error: host port 127.0.0.1:%d/tcp is already in use", taken))
	if start, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); strings.TrimSpace(string(start)) == "1024" {
		b.Run("run", "--rm", "-p", "127.0.0.1:80:80", "localhost/bb:1", "true").
			WantError(t, 125, "Error: cannot publish on 127.0.0.1:80/tcp: ports below 1024 need root (net.ipv4.ip_unprivileged_port_start); use a higher host port")
	}
	if got := b.Run("ps", "-aq").WantSuccess(t).Stdout; got != "" {
		t.Errorf("refused runs left containers: %q", got)
	}
	wantNoHelpers(t, b)
}

// TestRootlessNetworkErrors: bad helper options and missing helpers are one clear line.
func TestRootlessNetworkErrors(t *testing.T) {
	b := rootlessWithImage(t)
	b.Run("run", "--rm", "--network", "slirp4netns:bogus=1", "localhost/bb:1", "true").
		WantError(t, 125, `Error: invalid --network "slirp4netns:bogus=1": unknown slirp4netns option "bogus=1"`)
	b.Run("run", "--rm", "--network", "pasta:--bogus", "localhost/bb:1", "true").
		WantError(t, 125, "start pasta: pasta: unrecognized option '--bogus'")
	// Neither helper on PATH: berth says what to install.
	bin := filepath.Join(filepath.Dir(b.Root), "bin")
	os.Mkdir(bin, 0o755)
	for _, tool := range []string{"newuidmap", "newgidmap"} {
		p, _ := exec.LookPath(tool)
		os.Symlink(p, filepath.Join(bin, tool))
	}
	nb := *b
	nb.Env = append(append([]string{}, b.Env...), "PATH="+bin)
	nb.Run("run", "--rm", "localhost/bb:1", "true").
		WantError(t, 125, "Error: rootless networking needs pasta or slirp4netns: apt-get install passt (or slirp4netns), or run with --network none")
	nb.Run("run", "--rm", "--network", "slirp4netns", "localhost/bb:1", "true").
		WantError(t, 125, "Error: --network slirp4netns: slirp4netns is not installed: apt-get install slirp4netns, or run with --network none")
	nb.Run("run", "--rm", "--network", "none", "localhost/bb:1", "true").WantSuccess(t)
	// The configured default helper, and a bad one.
	cb := *b
	cb.Env = append(append([]string{}, b.Env...), "BERTH_ROOTLESS_NETWORK_CMD=slirp4netns")
	if r := cb.Run("run", "--rm", "localhost/bb:1", "ip", "-4", "addr", "show", "tap0").WantSuccess(t); !strings.Contains(r.Stdout, "inet 10.0.2.100/24") {
		t.Errorf("default_rootless_network_cmd=slirp4netns: %q", r.Stdout)
	}
	cb.Env = append(append([]string{}, b.Env...), "BERTH_ROOTLESS_NETWORK_CMD=vde")
	cb.Run("run", "--rm", "localhost/bb:1", "true").WantError(t, 125, `Error: default_rootless_network_cmd "vde": want pasta or slirp4netns`)
	if got := b.Run("ps", "-aq").WantSuccess(t).Stdout; got != "" {
		t.Errorf("refused runs left containers: %q", got)
	}
}

// TestRootlessNetworkKilled: a container's helper outlives neither the container nor a
// berth killed with it: the next command stops it.
func TestRootlessNetworkKilled(t *testing.T) {
	b := rootlessWithImage(t)
	id := strings.TrimSpace(b.Run("run", "-d", "-p", "80", "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout)
	if len(helpersOf(b)) != 1 {
		t.Fatalf("helpers of a running container: %v", helpersOf(b))
	}
	// kill -9 the monitor and the container: nobody runs the cleanup.
	for _, pattern := range []string{"berth-monitor --id " + id, "^sleep 100$"} {
		out, _ := exec.Command("pgrep", "-u", rootlessUser, "-f", pattern).Output()
		for _, p := range strings.Fields(string(out)) {
			pid, _ := strconv.Atoi(p)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if len(helpersOf(b)) != 1 {
		t.Fatalf("helper gone without a cleanup? %v", helpersOf(b))
	}
	b.Run("ps", "-a").WantSuccess(t) // the next command reaps it
	wantNoHelpers(t, b)
	b.Run("rm", "-f", id).WantSuccess(t)

	// kill -9 of `berth start` once its helper runs.
	for attempt := 0; attempt < 10; attempt++ {
		id := strings.TrimSpace(b.Run("create", "-p", "80", "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout)
		cmd := b.Cmd("start", id)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2000 && len(helpersOf(b)) == 0; i++ {
			time.Sleep(time.Millisecond)
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		out, _ := exec.Command("pgrep", "-u", rootlessUser, "-f", "berth --root "+b.Root+" --runroot "+b.RunRoot+" start").Output()
		for _, p := range strings.Fields(string(out)) {
			pid, _ := strconv.Atoi(p)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		cmd.Wait()
		if st := strings.TrimSpace(b.Run("inspect", "--format", "{{.State.Status}}", id).WantSuccess(t).Stdout); st == "running" {
			b.Run("rm", "-f", id).WantSuccess(t) // it got that far before the kill: try again
			continue
		}
		b.Run("rm", "-f", id).WantSuccess(t)
		b.Run("ps", "-a").WantSuccess(t)
		wantNoHelpers(t, b)
		return
	}
	t.Skip("start always finished before it could be killed")
}

// TestRootlessBuildFetches: a rootless build's RUN downloads from a server outside the host.
func TestRootlessBuildFetches(t *testing.T) {
	b := rootlessWithImage(t)
	srv := startTestServer(t, "fetched at build\n")
	df := "FROM localhost/bb:1\nRUN wget -q -O /fetched http://" + srv.Addr + "/hello\nCMD cat /fetched\n"
	b.RunStdin([]byte(df), "build", "-q", "-t", "localhost/fetched", "-").WantSuccess(t)
	if r := b.Run("run", "--rm", "localhost/fetched").WantSuccess(t); r.Stdout != "fetched at build\n" {
		t.Errorf("built image says %q", r.Stdout)
	}
}

// TestRootlessSharedNamespace: rootless commands share one user namespace, so a later
// command reaches what an earlier one started: exec joins the container's namespaces and
// --network container:NAME its network.
func TestRootlessSharedNamespace(t *testing.T) {
	b := rootlessWithImage(t)
	b.Run("run", "-d", "--name", "first", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	if r := b.Run("exec", "first", "cat", "/proc/1/cmdline").WantSuccess(t); r.Stdout != "sleep\x00100\x00" {
		t.Errorf("exec sees pid 1 %q, want the container's sleep", r.Stdout)
	}
	own := b.Run("exec", "first", "ip", "-4", "-o", "addr", "show", "eth0").WantSuccess(t).Stdout
	joined := b.Run("run", "--rm", "--network", "container:first", "localhost/bb:1", "ip", "-4", "-o", "addr", "show", "eth0").WantSuccess(t).Stdout
	if own == "" || joined != own {
		t.Errorf("--network container:first has %q, first has %q", joined, own)
	}
	pause, _ := exec.Command("pgrep", "-u", rootlessUser, "-f", "^berth-userns-pause ").Output()
	if len(strings.Fields(string(pause))) == 0 {
		t.Errorf("no pause process holds the user namespace")
	}
	b.Run("rm", "-f", "first").WantSuccess(t)
}
