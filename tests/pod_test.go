package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Pod tests use networks named tpod-* with subnets in 10.247.x.0/24.

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
	withNetwork(t, b, "tpod-life", "10.247.1.0/24")
	port := freePort(t)
	id := strings.TrimSpace(b.Run("pod", "create", "--name", "tp-web", "--label", "app=shop", "--hostname", "shop",
		"--network", "tpod-life", "-p", fmt.Sprintf("%d:80", port)).WantSuccess(t).Stdout)
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
