package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/state"
)

// TestRemoveAllRunning removes running containers, one sharing another's network namespace,
// with one `rm -af` (which kills them all before removing each): every one is removed, none
// of their monitors remains, and a killed container's record is gone, not left exited.
func TestRemoveAllRunning(t *testing.T) {
	b := withImage(t)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, strings.TrimSpace(b.Run("run", "-d", "--network", "none", "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout))
	}
	ids = append(ids, strings.TrimSpace(b.Run("run", "-d", "--network", "container:"+ids[0], "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout))
	out := b.Run("rm", "-af").WantSuccess(t).Stdout
	for _, id := range ids {
		if !strings.Contains(out, id) {
			t.Errorf("rm -af did not report %s: %q", id[:12], out)
		}
		if m, _ := exec.Command("pgrep", "-f", "berth-monitor --id "+id).Output(); len(m) > 0 {
			t.Errorf("monitor of %s left: %s", id[:12], m)
		}
	}
	if got := b.Run("ps", "-aq").WantSuccess(t).Stdout; got != "" {
		t.Errorf("after rm -af: %q", got)
	}
}

// TestPsMonitorPidReused covers a listing's quick check of a running container: its monitor
// killed and its pid now another live process's (the record made to name this test's own
// pid) must still show the container exited, not running.
func TestPsMonitorPidReused(t *testing.T) {
	b := withImage(t)
	id := strings.TrimSpace(b.Run("run", "-d", "--network", "none", "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout)
	if got := b.Run("ps", "--format", "{{.State}}").WantSuccess(t).Stdout; got != "running\n" {
		t.Fatalf("ps of a running container: %q", got)
	}
	killMonitorAndContainer(t, b, id)
	ctx := context.Background()
	db, err := state.Open(ctx, filepath.Join(b.Root, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rec map[string]any
	if _, err := db.Containers().Get(ctx, id, &rec); err != nil {
		t.Fatal(err)
	}
	if rec["MonitorPid"] == nil || rec["MonitorStart"] == nil {
		t.Fatalf("record names no monitor: %v", rec)
	}
	rec["MonitorPid"] = os.Getpid()
	if err := db.Containers().Put(ctx, id, rec); err != nil {
		t.Fatal(err)
	}
	if got := b.Run("ps", "-a", "--format", "{{.State}} {{.Status}}").WantSuccess(t).Stdout; !strings.HasPrefix(got, "exited Exited (255)") {
		t.Errorf("ps after the monitor was killed and its pid reused: %q", got)
	}
	b.Run("rm", id).WantSuccess(t)
}

// TestDefaultNetworkSize checks the default network is a /16 and that a root whose default
// network was made with the earlier /24 gets it widened, keeping its gateway and addresses:
// a container then takes an address outside the old /24.
func TestDefaultNetworkSize(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	subnet := func() string {
		return strings.TrimSpace(b.Run("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}", "berth").WantSuccess(t).Stdout)
	}
	if got := subnet(); got != "10.123.0.0/16 10.123.0.1" {
		t.Fatalf("default network of a new root: %q", got)
	}
	// Make it the /24 earlier roots stored.
	ctx := context.Background()
	db, err := state.Open(ctx, filepath.Join(b.Root, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rec map[string]any
	if _, err := db.Networks().Get(ctx, "berth", &rec); err != nil {
		t.Fatal(err)
	}
	rec["subnets"] = []map[string]string{{"subnet": "10.123.0.0/24", "gateway": "10.123.0.1"}}
	if err := db.Networks().Put(ctx, "berth", rec); err != nil {
		t.Fatal(err)
	}
	if got := subnet(); got != "10.123.0.0/16 10.123.0.1" {
		t.Errorf("default network of a root made with the /24: %q", got)
	}
	// An address past the old /24, on the bridge other roots' tests share: a high one.
	ip := "10.123.251." + strconv.Itoa(2+os.Getpid()%250)
	got := b.Run("run", "--rm", "--ip", ip, "localhost/bb:1", "ip", "-4", "-o", "addr", "show", "eth0").WantSuccess(t).Stdout
	if !strings.Contains(got, ip+"/16") {
		t.Errorf("address of a container given --ip %s: %q", ip, got)
	}
}
