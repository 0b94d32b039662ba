package tests

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/tests/fixture"
)

// Pod tests use networks named tpod-* with a random free subnet in 10.240-249.x.0/24: the
// same test may run in several checkouts on one host at once.

// freeSubnet picks a /24 no host interface has an address in.
func freeSubnet(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		_, sn, _ := net.ParseCIDR(fmt.Sprintf("10.%d.%d.0/24", 240+rand.Intn(10), 1+rand.Intn(254)))
		taken := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && sn.Contains(ipn.IP) {
				taken = true
			}
		}
		if !taken {
			return sn.String()
		}
	}
	t.Fatal("no free subnet in 10.240.0.0/12")
	return ""
}

// withPods removes every pod of b when the test ends (rm -a leaves infra containers to them).
func withPods(t *testing.T) *Berth {
	b := withImage(t)
	t.Cleanup(func() { b.Run("pod", "rm", "-af") })
	return b
}

// podInspect decodes `pod inspect` of one pod.
func podInspect(t *testing.T, b *Berth, pod string) map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal([]byte(b.Run("pod", "inspect", pod).WantSuccess(t).Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("pod inspect %s: %v (%d objects)", pod, err, len(out))
	}
	return out[0]
}

func TestPodLifecycle(t *testing.T) {
	b := withPods(t)
	subnet := freeSubnet(t)
	withNetwork(t, b, "tpod-life", subnet)
	port := freePort(t)
	ip := strings.TrimSuffix(subnet, "0/24") + "9"
	id := strings.TrimSpace(b.Run("pod", "create", "--name", "tp-web", "--label", "app=shop", "--hostname", "shop",
		"--network", "tpod-life", "--ip", ip, "--mac-address", "02:42:0a:f7:01:09", "-p", fmt.Sprintf("%d:80", port)).WantSuccess(t).Stdout)
	if len(id) != 64 {
		t.Fatalf("pod create printed %q, want a pod id", id)
	}
	b.Run("pod", "exists", "tp-web").WantSuccess(t)
	b.Run("pod", "exists", "tp-nope").WantExit(t, 1)
	if got := b.Run("pod", "ps", "--format", "{{.Name}} {{.Status}} {{.NumberOfContainers}} {{.Labels}}").WantSuccess(t).Stdout; got != "tp-web Created 1 app=shop\n" {
		t.Errorf("pod ps after create = %q", got)
	}
	// Two containers: a server on the pod's port 80, and one reaching it on 127.0.0.1.
	b.Run("run", "-d", "--pod", "tp-web", "--name", "tp-srv", "localhost/bb:1", "sh", "-c",
		"while true; do echo from-pod | nc -l -p 80; done").WantSuccess(t)
	out := b.Run("run", "--rm", "--pod", "tp-web", "localhost/bb:1", "sh", "-c", ncRetry("127.0.0.1")+"; hostname").WantSuccess(t).Stdout
	if out != "from-pod\nshop\n" {
		t.Errorf("pod neighbour over 127.0.0.1 and hostname = %q, want from-pod and shop", out)
	}
	// The pod's published port reaches the server.
	if got, err := dial(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || got != "from-pod\n" {
		t.Errorf("published pod port: %q, %v", got, err)
	}
	// The pod's address and MAC, and its /dev/shm, are the same for all its containers.
	if got := b.Run("exec", "tp-srv", "sh", "-c", "ip -o -4 addr show eth0 | grep -o 'inet [0-9.]*'; cat /sys/class/net/eth0/address; echo shared > /dev/shm/tp").WantSuccess(t).Stdout; got != "inet "+ip+"\n02:42:0a:f7:01:09\n" {
		t.Errorf("pod address = %q, want %s and its MAC", got, ip)
	}
	if got := b.Run("run", "--rm", "--pod", "tp-web", "localhost/bb:1", "cat", "/dev/shm/tp").WantSuccess(t).Stdout; got != "shared\n" {
		t.Errorf("/dev/shm in the pod = %q", got)
	}
	// The shared namespaces are the same in both containers; the pid and mount ones are not.
	nsOf := func(args ...string) string {
		return b.Run(append(args, "sh", "-c", "for n in ipc net uts pid mnt; do readlink /proc/self/ns/$n; done")...).WantSuccess(t).Stdout
	}
	srv := strings.Fields(nsOf("exec", "tp-srv"))
	other := strings.Fields(nsOf("run", "--rm", "--pod", "tp-web", "localhost/bb:1"))
	for i, n := range []string{"ipc", "net", "uts", "pid", "mnt"} {
		if shared := srv[i] == other[i]; shared != (i < 3) {
			t.Errorf("namespace %s: %s in tp-srv, %s in its neighbour", n, srv[i], other[i])
		}
	}
	j := podInspect(t, b, "tp-web")
	if j["State"] != "Running" || j["Hostname"] != "shop" || j["NumContainers"] != float64(2) || j["Name"] != "tp-web" {
		t.Errorf("pod inspect = %v", j)
	}
	if ns := fmt.Sprint(j["SharedNamespaces"]); ns != "[ipc net uts]" {
		t.Errorf("SharedNamespaces = %s", ns)
	}
	// ps --pod and --filter pod= show the pod's containers.
	ps := b.Run("ps", "--pod", "--format", "{{.Names}} {{.PodName}}").WantSuccess(t).Stdout
	infraName := id[:12] + "-infra"
	if want := []string{infraName + " tp-web", "tp-srv tp-web"}; !sameLines(ps, want) {
		t.Errorf("ps --pod = %q, want %q", ps, want)
	}
	b.Run("run", "-d", "--name", "tp-outside", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	if got := b.Run("ps", "-a", "--filter", "pod="+id[:10], "--format", "{{.Names}}").WantSuccess(t).Stdout; !sameLines(got, []string{infraName, "tp-srv"}) {
		t.Errorf("ps --filter pod= = %q", got)
	}
	if got := b.Run("ps", "--pod", "--format", "{{.Names}}:{{.PodName}}", "--filter", "name=tp-outside").WantSuccess(t).Stdout; got != "tp-outside:\n" {
		t.Errorf("ps --pod of a container outside pods = %q", got)
	}
	b.Run("rm", "-f", "tp-outside").WantSuccess(t)
	// Stop, start, restart: the state follows the containers'.
	b.Run("pod", "stop", "-t", "1", "tp-web").WantSuccess(t)
	if got := b.Run("pod", "ps", "--format", "{{.Status}}", "--ctr-status").WantSuccess(t).Stdout; got != "Exited\n" {
		t.Errorf("pod state after stop = %q", got)
	}
	if got := b.Run("ps", "-a", "--filter", "pod=tp-web", "--format", "{{.State}}").WantSuccess(t).Stdout; got != "exited\nexited\n" {
		t.Errorf("containers after pod stop = %q", got)
	}
	b.Run("pod", "start", "tp-web").WantSuccess(t)
	if got, err := dial(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || got != "from-pod\n" {
		t.Errorf("published pod port after pod start: %q, %v", got, err)
	}
	b.Run("pod", "restart", "-t", "1", "tp-web").WantSuccess(t)
	b.Run("pod", "pause", "tp-web").WantSuccess(t)
	if got := b.Run("pod", "ps", "--format", "{{.Status}}").WantSuccess(t).Stdout; got != "Paused\n" {
		t.Errorf("pod state after pause = %q", got)
	}
	b.Run("pod", "unpause", "tp-web").WantSuccess(t)
	b.Run("stop", "-t", "1", "tp-srv").WantSuccess(t)
	if got := b.Run("pod", "ps", "--format", "{{.Status}}", "--filter", "status=degraded").WantSuccess(t).Stdout; got != "Degraded\n" {
		t.Errorf("pod state with its infra alone running = %q", got)
	}
	b.Run("start", "tp-srv").WantSuccess(t)
	// The infra container goes only with its pod; a running pod is removed only with -f.
	b.Run("rm", "-f", infraName).WantError(t, 2, "is the infra container of pod tp-web")
	b.Run("pod", "rm", "tp-web").WantError(t, 2, "cannot remove pod tp-web: container")
	b.Run("pod", "exists", "tp-web").WantSuccess(t)
	b.Run("pod", "rm", "-f", "tp-web").WantSuccess(t)
	b.Run("pod", "exists", "tp-web").WantExit(t, 1)
	if got := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("containers left after pod rm -f: %q", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(b.RunRoot, "netns")); len(ents) != 0 {
		t.Errorf("netns files left after pod rm -f: %d", len(ents))
	}
	b.Run("network", "rm", "tpod-life").WantSuccess(t) // nothing holds an address on it
	// Every pod operation is in the event log, with the pod's name and labels.
	evs := b.Run("events", "--until", "0s", "--filter", "type=pod", "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.app}}").WantSuccess(t).Stdout
	want := "create tp-web shop\nstop tp-web shop\nstart tp-web shop\nstop tp-web shop\nstart tp-web shop\n" +
		"pause tp-web shop\nunpause tp-web shop\nremove tp-web shop\n"
	if evs != want {
		t.Errorf("pod events:\n%s\nwant:\n%s", evs, want)
	}
}

// sameLines compares output lines with want, ignoring order.
func sameLines(out string, want []string) bool {
	got := strings.Fields(strings.ReplaceAll(out, " ", "\x00"))
	for i := range got {
		got[i] = strings.ReplaceAll(got[i], "\x00", " ")
	}
	sort.Strings(got)
	w := append([]string{}, want...)
	sort.Strings(w)
	return strings.Join(got, "\n") == strings.Join(w, "\n")
}

func TestPodOptions(t *testing.T) {
	b := withPods(t)
	// --share +pid: the pod's pause program is pid 1 of every container; --add-host and --dns
	// are the pod's, seen by its containers; logs, top and stats cover the pod's containers.
	b.Run("pod", "create", "--name", "tp-opt", "--share", "+pid", "--network", "none", "--add-host", "db.test:10.9.8.7",
		"--dns", "10.9.8.53", "--userns", "host").WantSuccess(t)
	b.Run("run", "-d", "--pod", "tp-opt", "--name", "tp-a", "localhost/bb:1", "sh", "-c", "echo line-a; sleep 100").WantSuccess(t)
	// The top-level inspect finds pods too; --pod-id-file records a pod's id once.
	if got := b.Run("inspect", "--type", "pod", "-f", "{{.Name}} {{.NumContainers}}", "tp-opt").WantSuccess(t).Stdout; got != "tp-opt 2\n" {
		t.Errorf("inspect --type pod = %q", got)
	}
	idFile := filepath.Join(t.TempDir(), "pod.id")
	id := strings.TrimSpace(b.Run("pod", "create", "--pod-id-file", idFile, "--name", "tp-idf").WantSuccess(t).Stdout)
	if got := string(must(os.ReadFile(idFile))); got != id {
		t.Errorf("--pod-id-file holds %q, want %q", got, id)
	}
	b.Run("pod", "create", "--pod-id-file", idFile, "--name", "tp-idf2").WantError(t, 125, "pod ID file "+idFile+" exists")
	b.Run("pod", "exists", "tp-idf2").WantExit(t, 1)
	b.Run("pod", "stop", "-i", "tp-nope", "tp-idf").WantSuccess(t)
	b.Run("pod", "rm", "tp-idf").WantSuccess(t)
	out := b.Run("exec", "tp-a", "sh", "-c", "cat /proc/1/cmdline; echo; grep db.test /etc/hosts; grep nameserver /etc/resolv.conf; hostname").WantSuccess(t).Stdout
	if want := "/berth-pause\x00\n10.9.8.7\tdb.test\nnameserver 10.9.8.53\ntp-opt\n"; out != want {
		t.Errorf("container in pod sees %q, want %q", out, want)
	}
	b.Run("run", "-d", "--pod", "tp-opt", "--name", "tp-b", "localhost/bb:1", "sh", "-c", "sleep 0.3; echo line-b; sleep 100").WantSuccess(t)
	eventually(t, "both containers logged", func() bool {
		return b.Run("pod", "logs", "--names", "tp-opt").Stdout == "tp-a line-a\ntp-b line-b\n"
	})
	if got := b.Run("pod", "logs", "-c", "tp-b", "tp-opt").WantSuccess(t).Stdout; got != "line-b\n" {
		t.Errorf("pod logs -c tp-b = %q", got)
	}
	top := b.Run("pod", "top", "tp-opt").WantSuccess(t).Stdout
	if strings.Count(top, "sleep 100") != 2 || !strings.Contains(top, "/berth-pause") {
		t.Errorf("pod top = %q, want the pause program and both sleeps", top)
	}
	stats := b.Run("pod", "stats", "--no-stream", "--format", "{{.Name}}", "tp-opt").WantSuccess(t).Stdout
	if !sameLines(stats, []string{podInspect(t, b, "tp-opt")["Id"].(string)[:12] + "-infra", "tp-a", "tp-b"}) {
		t.Errorf("pod stats names = %q", stats)
	}
	b.Run("pod", "kill", "tp-opt").WantSuccess(t)
	eventually(t, "pod exited after kill", func() bool {
		return b.Run("pod", "ps", "--format", "{{.Status}}").Stdout == "Exited\n"
	})
	// --replace makes a new pod of the same name; the old one's containers go with it.
	old := podInspect(t, b, "tp-opt")["Id"]
	b.Run("pod", "create", "--name", "tp-opt", "--replace", "--infra-image", "localhost/bb:1", "--infra-command", `["sleep","1000"]`,
		"--infra-name", "tp-opt-infra").WantSuccess(t)
	if j := podInspect(t, b, "tp-opt"); j["Id"] == old || j["NumContainers"] != float64(1) {
		t.Errorf("pod after --replace = %v (old id %v)", j, old)
	}
	b.Run("pod", "start", "tp-opt").WantSuccess(t)
	if got := b.Run("ps", "--format", "{{.Names}} {{.Image}} {{.Command}}").WantSuccess(t).Stdout; got != `tp-opt-infra localhost/bb:1 "sleep 1000"`+"\n" {
		t.Errorf("ps with a custom infra = %q", got)
	}
	b.Run("pod", "rm", "-f", "tp-opt").WantSuccess(t)

	// --exit-policy stop: the pod stops when its last container exits.
	b.Run("pod", "create", "--name", "tp-exit", "--network", "none", "--exit-policy", "stop").WantSuccess(t)
	b.Run("run", "--pod", "tp-exit", "localhost/bb:1", "true").WantSuccess(t)
	eventually(t, "pod stopped by its exit policy", func() bool {
		return b.Run("pod", "ps", "--filter", "name=tp-exit", "--format", "{{.Status}}").Stdout == "Exited\n"
	})
	// Without an infra container the pod groups containers that share nothing.
	b.Run("pod", "create", "--name", "tp-bare", "--infra=false").WantSuccess(t)
	b.Run("run", "-d", "--pod", "tp-bare", "--name", "tp-bare-a", "--network", "none", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	if got := b.Run("pod", "ps", "--filter", "name=tp-bare", "--format", "{{.Status}} {{.InfraID}} {{.NumberOfContainers}}").WantSuccess(t).Stdout; got != "Running  1\n" {
		t.Errorf("pod without infra = %q", got)
	}
	// run --pod new: makes the pod with the container's network options.
	b.Run("run", "-d", "--pod", "new:tp-new", "--network", "none", "--hostname", "newhost", "--name", "tp-new-a", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	if got := b.Run("exec", "tp-new-a", "hostname").WantSuccess(t).Stdout; got != "newhost\n" {
		t.Errorf("hostname in pod made by run --pod new: = %q", got)
	}
	if j := podInspect(t, b, "tp-new"); j["Hostname"] != "newhost" || j["NumContainers"] != float64(2) {
		t.Errorf("pod made by run --pod new: = %v", j)
	}
	// A pod whose infra container alone runs is removed without -f, as podman does.
	b.Run("pod", "create", "--name", "tp-alone", "--network", "none").WantSuccess(t)
	b.Run("pod", "start", "tp-alone").WantSuccess(t)
	b.Run("pod", "rm", "tp-alone").WantSuccess(t)
	// prune removes the stopped pod only.
	if got := strings.Fields(b.Run("pod", "prune", "-f").WantSuccess(t).Stdout); len(got) != 1 {
		t.Errorf("pod prune removed %v, want tp-exit only", got)
	}
	if got := b.Run("pod", "ps", "--sort", "name", "--format", "{{.Name}}").WantSuccess(t).Stdout; got != "tp-bare\ntp-new\n" {
		t.Errorf("pods after prune = %q", got)
	}
}

func TestPodErrors(t *testing.T) {
	b := withPods(t)
	b.Run("pod", "create", "--name", "tp-err", "--network", "none").WantSuccess(t)
	b.Run("run", "-d", "--pod", "tp-err", "--name", "tp-err-a", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	before := b.Run("ps", "-a", "--pod", "--no-trunc", "--format", "{{.ID}} {{.PodName}}").WantSuccess(t).Stdout
	// Exit codes: 125 for any failure of run, create and pod create (as podman), 1 for a
	// missing pod or bad input of the other pod commands (errdefs' table).
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"pod", "create", "--name", "tp-err"}, 125, `the pod name "tp-err" is already in use`},
		{[]string{"pod", "create", "--name", "-bad"}, 125, `invalid pod name "-bad"`},
		{[]string{"pod", "create", "--share", "mnt"}, 125, "invalid kernel namespace to share: mnt. Options are: cgroup, ipc, net, pid, uts or none"},
		{[]string{"pod", "create", "--exit-policy", "sometimes"}, 125, `invalid pod exit policy: "sometimes"`},
		{[]string{"pod", "create", "--userns", "auto"}, 125, `invalid --userns "auto"`},
		{[]string{"pod", "create", "--infra=false", "-p", "8080:80"}, 125, "cannot publish ports without an infra container"},
		{[]string{"pod", "create", "--infra=false", "--share", "net"}, 125, "without an infra container"},
		{[]string{"pod", "create", "--share", "ipc", "-p", "8080:80"}, 125, "cannot publish the pod's ports without sharing the net namespace"},
		{[]string{"pod", "create", "--network", "container:tp-err-a"}, 125, "a pod cannot join a container's network"},
		{[]string{"pod", "create", "-p", "99999:80"}, 125, "99999"},
		{[]string{"pod", "create", "--infra-command", "[oops"}, 125, "not a JSON array"},
		{[]string{"pod", "create", "--mac-address", "nope"}, 125, `invalid --mac-address "nope"`},
		{[]string{"pod", "create", "--network", "none", "--ip", "10.1.2.3"}, 125, "need a network, not --network none"},
		{[]string{"pod", "create", "--name", "tp-x", "--infra-name", "tp-err-a"}, 125, `the container name "tp-err-a" is already in use`},
		{[]string{"pod", "create", "a", "b"}, 1, "requires between 0 and 1 arguments"},
		{[]string{"run", "--pod", "tp-nope", "localhost/bb:1", "true"}, 125, "no pod with name or ID tp-nope found: no such pod"},
		{[]string{"run", "--pod", "tp-err", "-p", "8080:80", "localhost/bb:1", "true"}, 125, "ports are published by the pod"},
		{[]string{"run", "--pod", "tp-err", "--network", "host", "localhost/bb:1", "true"}, 125, "the network belongs to the pod"},
		{[]string{"run", "--pod", "tp-err", "--hostname", "other", "localhost/bb:1", "true"}, 125, "the hostname belongs to the pod"},
		{[]string{"run", "--pod", "tp-err", "--dns", "1.1.1.1", "localhost/bb:1", "true"}, 125, "--add-host and --dns are set on the pod"},
		{[]string{"run", "--pod", "tp-err", "--uidmap", "0:100000:65536", "localhost/bb:1", "true"}, 125, "the user namespace belongs to the pod"},
		{[]string{"run", "--pod", "new:", "localhost/bb:1", "true"}, 125, "new: needs a pod name"},
		{[]string{"run", "--pod", "new:tp-err", "localhost/bb:1", "true"}, 125, `the pod name "tp-err" is already in use`},
		{[]string{"pod", "rm", "tp-nope"}, 1, "no pod with name or ID tp-nope found: no such pod"},
		{[]string{"pod", "inspect", "tp-nope"}, 1, "no pod with name or ID tp-nope found: no such pod"},
		{[]string{"pod", "start", "tp-nope"}, 1, "no pod with name or ID tp-nope found: no such pod"},
		{[]string{"pod", "kill", "-s", "NOPE", "tp-err"}, 1, `unknown signal "NOPE"`},
		{[]string{"pod", "logs", "-c", "tp-nope", "tp-err"}, 1, "no container tp-nope in pod tp-err"},
		{[]string{"pod", "ps", "--filter", "colour=red"}, 1, `invalid filter "colour=red"`},
		{[]string{"pod", "rm", "-a", "tp-err"}, 1, "--all and pods cannot be given together"},
	} {
		b.Run(tc.args...).WantError(t, tc.code, tc.msg)
	}
	// Nothing stored changed: no pod, container or name was taken by a refused command.
	if got := b.Run("ps", "-a", "--pod", "--no-trunc", "--format", "{{.ID}} {{.PodName}}").WantSuccess(t).Stdout; got != before {
		t.Errorf("containers after refused commands:\n%s\nwant:\n%s", got, before)
	}
	if got := b.Run("pod", "ps", "--format", "{{.Name}} {{.Status}}").WantSuccess(t).Stdout; got != "tp-err Running\n" {
		t.Errorf("pods after refused commands = %q", got)
	}
	b.Run("pod", "rm", "-i", "tp-nope").WantSuccess(t)
	b.Run("pod", "exists", "tp-nope").WantExit(t, 1)
}

// checkPodRecords fails unless every pod has its infra container and every container in a
// pod names an existing pod: what a killed berth may leave is a whole pod or none.
func checkPodRecords(t *testing.T, b *Berth, when string) {
	t.Helper()
	pods := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(b.Run("pod", "ps", "--no-trunc", "--format", "{{.Name}} {{.InfraID}}").WantSuccess(t).Stdout), "\n") {
		if l == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Fatalf("%s: pod without infra container: %q", when, l)
		}
		pods[f[0]] = true
		b.Run("inspect", f[1]).WantSuccess(t)
	}
	for _, l := range strings.Split(strings.TrimSpace(b.Run("ps", "-a", "--pod", "--format", "{{.Names}} {{.Pod}} {{.PodName}}").WantSuccess(t).Stdout), "\n") {
		if f := strings.Fields(l); len(f) == 2 || (len(f) == 3 && !pods[f[2]]) {
			t.Fatalf("%s: container of a pod that is gone: %q", when, l)
		}
	}
}

func TestPodCrashConsistency(t *testing.T) {
	b := withPods(t)
	withNetwork(t, b, "tpod-crash", freeSubnet(t))
	kill := func(delay time.Duration, args ...string) {
		cmd := b.Cmd(args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers too
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}
	delays := []time.Duration{0, 3, 8, 15, 25, 40, 70, 120}
	for i, d := range delays {
		name := fmt.Sprintf("tp-crash%d", i)
		kill(d*time.Millisecond, "pod", "create", "--name", name, "--network", "tpod-crash", "-p", "80")
		checkPodRecords(t, b, fmt.Sprintf("pod create killed after %v", d*time.Millisecond))
	}
	b.Run("pod", "rm", "-af").WantSuccess(t)
	checkPodRecords(t, b, "pod rm -af")
	for i, d := range delays {
		name := fmt.Sprintf("tp-crash%d", i)
		b.Run("pod", "create", "--name", name, "--network", "tpod-crash", "-p", "80").WantSuccess(t)
		b.Run("create", "--pod", name, "localhost/bb:1", "sleep", "100").WantSuccess(t)
		kill(d*time.Millisecond, "pod", "start", name)
		checkPodRecords(t, b, fmt.Sprintf("pod start killed after %v", d*time.Millisecond))
		b.Run("pod", "start", name).WantSuccess(t)
		kill(d*time.Millisecond, "pod", "rm", "-f", name)
		checkPodRecords(t, b, fmt.Sprintf("pod rm -f killed after %v", d*time.Millisecond))
	}
	b.Run("pod", "rm", "-af").WantSuccess(t)
	if got := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("containers left: %q", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(b.RunRoot, "netns")); len(ents) != 0 {
		t.Errorf("netns files left: %d", len(ents))
	}
	// A name a killed create may have held is free again.
	b.Run("pod", "create", "--name", "tp-crash0", "--network", "tpod-crash").WantSuccess(t)
	b.Run("pod", "rm", "tp-crash0").WantSuccess(t)
	b.Run("network", "rm", "tpod-crash").WantSuccess(t)
}

func TestRootlessPod(t *testing.T) {
	b := NewRootlessBerth(t)
	t.Cleanup(func() { b.Run("pod", "rm", "-af") })
	p := filepath.Join(filepath.Dir(b.Root), "bb.tar")
	if err := fixture.WriteDockerArchive(p, "localhost/bb:1", busyboxImage(t)); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	b.Run("load", "-i", p).WantSuccess(t)
	port := freePort(t)
	b.Run("pod", "create", "--name", "tp-rl", "-p", fmt.Sprintf("%d:80", port)).WantSuccess(t)
	b.Run("create", "--pod", "tp-rl", "--name", "tp-rl-srv", "localhost/bb:1", "sh", "-c", "while true; do echo rootless-pod | nc -l -p 80; done").WantSuccess(t)
	b.Run("create", "--pod", "tp-rl", "--name", "tp-rl-cli", "localhost/bb:1", "sh", "-c", ncRetry("127.0.0.1")+"; hostname; sleep 100").WantSuccess(t)
	b.Run("pod", "start", "tp-rl").WantSuccess(t)
	eventually(t, "the rootless client reached its neighbour", func() bool {
		return b.Run("logs", "tp-rl-cli").Stdout == "rootless-pod\ntp-rl\n"
	})
	if got, err := dial(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || got != "rootless-pod\n" {
		t.Errorf("rootless pod's published port: %q, %v", got, err)
	}
	// A container run later, from another berth command, joins the same namespaces.
	if got := b.Run("run", "--rm", "--pod", "tp-rl", "localhost/bb:1", "sh", "-c", ncRetry("127.0.0.1")+"; hostname").WantSuccess(t).Stdout; got != "rootless-pod\ntp-rl\n" {
		t.Errorf("rootless run --pod later = %q", got)
	}
	b.Run("pod", "rm", "-f", "tp-rl").WantSuccess(t)
	if got := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("containers left after rootless pod rm -f: %q", got)
	}
}

// TestPodInfraMemory reports what a pod's infra process costs: berth-pause touches a few
// pages of its binary (shared page cache) and little memory of its own.
func TestPodInfraMemory(t *testing.T) {
	RequireRoot(t)
	b := NewBerth(t)
	t.Cleanup(func() { b.Run("pod", "rm", "-af") })
	b.Run("pod", "create", "--name", "tp-mem", "--network", "none").WantSuccess(t)
	b.Run("pod", "start", "tp-mem").WantSuccess(t) // no image pulled or loaded: the pause image is berth's own
	infra := podInspect(t, b, "tp-mem")["InfraContainerID"].(string)
	pid := strings.TrimSpace(b.Run("inspect", "-f", "{{.State.Pid}}", infra).WantSuccess(t).Stdout)
	if cmdline := string(must(os.ReadFile("/proc/" + pid + "/cmdline"))); cmdline != "/berth-pause\x00" {
		t.Fatalf("infra process runs %q, want /berth-pause", cmdline)
	}
	var anon int
	for _, l := range strings.Split(string(must(os.ReadFile("/proc/"+pid+"/status"))), "\n") {
		if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "RssAnon:") || strings.HasPrefix(l, "RssFile:") {
			t.Logf("infra %s", strings.Join(strings.Fields(l), " "))
		}
		if strings.HasPrefix(l, "RssAnon:") {
			fmt.Sscan(strings.Fields(l)[1], &anon)
		}
	}
	if anon == 0 || anon > 512 {
		t.Errorf("infra process anonymous memory %d kB, want at most 512 kB", anon)
	}
	b.Run("pod", "rm", "-f", "tp-mem").WantSuccess(t)
}

// TestPodParallel runs containers into one pod from several berths at once, and removes the
// pod while others are still joining it: no container is left in a pod that is gone.
func TestPodParallel(t *testing.T) {
	b := withPods(t)
	b.Run("pod", "create", "--name", "tp-par", "--network", "none").WantSuccess(t)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 3; j++ {
				if r := b.Run("run", "--rm", "--pod", "tp-par", "localhost/bb:1", "true"); r.Code != 0 || r.Stderr != "" {
					errs <- fmt.Sprintf("run %d/%d: exit %d: %s", i, j, r.Code, r.Stderr)
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := b.Run("pod", "ps", "--format", "{{.Status}} {{.NumberOfContainers}}").WantSuccess(t).Stdout; got != "Running 1\n" {
		t.Errorf("pod after the parallel runs = %q", got)
	}
	// Joining while the pod goes: each run either gets in first (and goes with the pod: its
	// start then finds the container or the infra's namespaces gone) or finds no pod.
	runs := make(chan *Result, 4)
	for i := 0; i < 4; i++ {
		go func() { runs <- b.Run("run", "-d", "--pod", "tp-par", "localhost/bb:1", "sleep", "100") }()
	}
	time.Sleep(30 * time.Millisecond)
	b.Run("pod", "rm", "-f", "tp-par").WantSuccess(t)
	for i := 0; i < 4; i++ {
		if r := <-runs; r.Code != 0 && !strings.Contains(r.Stderr, "no such pod") && !strings.Contains(r.Stderr, "no such container") &&
			!strings.Contains(r.Stderr, "init exited before start") {
			t.Errorf("run into a pod being removed: exit %d: %s", r.Code, r.Stderr)
		}
	}
	checkPodRecords(t, b, "after pod rm -f raced with runs")
	b.Run("pod", "rm", "-af").WantSuccess(t)
	if got := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("containers left: %q", got)
	}
}
