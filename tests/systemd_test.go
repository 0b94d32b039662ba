package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// verifyUnit runs systemd-analyze verify on a unit file and fails on any complaint.
func verifyUnit(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", filepath.Base(path), err, out)
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestSystemdGeneratedUnitUnderSystemd(t *testing.T) {
	b := withImage(t)
	sd := startSystemd(t)
	in := sd.Inside(b)
	name := "sdnew" + strings.ReplaceAll(filepath.Base(t.TempDir()), "0", "")
	b.Run("create", "--name", name, "--network", "none", "--stop-timeout", "1", "localhost/bb:1", "sleep", "1000").WantSuccess(t)
	unitText := b.Run("generate", "systemd", "--new", "--name", name).WantSuccess(t).Stdout
	unit := "container-" + name + ".service"
	sd.WriteUnit(unit, unitText)
	verifyUnit(t, filepath.Join(sd.UnitDir, unit))
	// --new recreates the container at start: the one created above goes first.
	b.Run("rm", name).WantSuccess(t)

	sd.MustSystemctl("daemon-reload")
	sd.MustSystemctl("start", unit)
	if got := sd.Show(unit, "ActiveState"); got != "active" {
		t.Fatalf("ActiveState = %q, want active\n%s", got, sd.Log())
	}
	id := strings.TrimSpace(in.Run("ps", "-q", "--no-trunc", "--filter", "name="+name).WantSuccess(t).Stdout)
	if id == "" {
		t.Fatalf("the unit is active but no container %s runs\n%s", name, sd.Log())
	}
	// The monitor is the unit's main process: berth said so with MAINPID=.
	monitorPID, err := os.ReadFile(filepath.Join(b.RunRoot, "containers", id, "monitor.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if got := sd.Show(unit, "MainPID"); got != strings.TrimSpace(string(monitorPID)) {
		t.Errorf("MainPID = %s, want the monitor's %s", got, monitorPID)
	}
	if got := in.Run("inspect", "--format", "{{.Config.Labels.BERTH_SYSTEMD_UNIT}}", name).WantSuccess(t).Stdout; got != unit+"\n" {
		t.Errorf("unit label = %q, want %s", got, unit)
	}

	sd.MustSystemctl("stop", unit)
	if got := sd.Show(unit, "ActiveState"); got != "inactive" {
		t.Errorf("after stop ActiveState = %q, want inactive", got)
	}
	if got := in.Run("ps", "-a", "-q", "--filter", "name="+name).WantSuccess(t).Stdout; got != "" {
		t.Errorf("after stop the container is still there: %q", got)
	}

	// Without --new the unit starts and stops an existing container.
	b.Run("create", "--name", name+"-old", "--network", "none", "--stop-timeout", "1", "localhost/bb:1", "sleep", "1000").WantSuccess(t)
	old := "container-" + name + "-old.service"
	sd.WriteUnit(old, b.Run("generate", "systemd", "--name", name+"-old").WantSuccess(t).Stdout)
	verifyUnit(t, filepath.Join(sd.UnitDir, old))
	sd.MustSystemctl("daemon-reload")
	sd.MustSystemctl("start", old)
	if got := in.Run("inspect", "--format", "{{.State.Status}}", name+"-old").WantSuccess(t).Stdout; got != "running\n" {
		t.Errorf("container of %s is %q, want running", old, got)
	}
	if got := sd.Show(old, "ActiveState"); got != "active" {
		t.Errorf("ActiveState = %q, want active", got)
	}
	sd.MustSystemctl("stop", old)
	if got := in.Run("inspect", "--format", "{{.State.Status}}", name+"-old").WantSuccess(t).Stdout; got != "exited\n" {
		t.Errorf("after stop the container is %q, want exited", got)
	}
}

func TestSystemdRestartServiceAtBoot(t *testing.T) {
	b := withImage(t)
	run := func(name, policy string) {
		b.Run("run", "-d", "--name", name, "--network", "none", "--restart", policy, "--stop-timeout", "1", "localhost/bb:1", "sleep", "1000").WantSuccess(t)
	}
	run("always", "always")
	run("unless", "unless-stopped")
	run("stopped", "unless-stopped")
	run("never", "no")
	b.Run("stop", "-t", "0", "stopped").WantSuccess(t)
	// A reboot: every monitor and container gone at once, the records left as they were.
	for _, n := range []string{"always", "unless", "never"} {
		id := strings.TrimSpace(b.Run("inspect", "--format", "{{.Id}}", n).WantSuccess(t).Stdout)
		killMonitorAndContainer(t, b, id)
		// and the runtime's state gone with /run (here, so that the cgroups go from the host's view)
		exec.Command(berthBin, "runtime", "--root", filepath.Join(b.RunRoot, "runtime"), "delete", "--force", id).Run()
	}

	sd := startSystemd(t)
	in := sd.Inside(b)
	text, err := os.ReadFile("../contrib/systemd/berth-restart.service")
	if err != nil {
		t.Fatal(err)
	}
	exe := berthBin + " --root " + b.Root + " --runroot " + b.RunRoot
	sd.WriteUnit("berth-restart.service", strings.ReplaceAll(string(text), "@@BERTH@@", exe))
	verifyUnit(t, filepath.Join(sd.UnitDir, "berth-restart.service"))
	sd.MustSystemctl("daemon-reload")
	sd.MustSystemctl("start", "berth-restart.service")
	for name, want := range map[string]string{"always": "running", "unless": "running", "stopped": "exited", "never": "exited"} {
		if got := strings.TrimSpace(in.Run("inspect", "--format", "{{.State.Status}}", name).WantSuccess(t).Stdout); got != want {
			t.Errorf("after berth-restart.service %s is %s, want %s", name, got, want)
		}
	}
	// Stopping the unit (at shutdown) stops the always containers.
	sd.MustSystemctl("stop", "berth-restart.service")
	if got := strings.TrimSpace(in.Run("inspect", "--format", "{{.State.Status}}", "always").WantSuccess(t).Stdout); got != "exited" {
		t.Errorf("after stopping berth-restart.service the always container is %s, want exited", got)
	}
}

func TestStartAllUnlessStoppedByUser(t *testing.T) {
	b := withImage(t)
	for _, n := range []string{"u-kept", "u-stopped", "u-no"} {
		policy := "unless-stopped"
		if n == "u-no" {
			policy = "no"
		}
		b.Run("run", "-d", "--name", n, "--network", "none", "--stop-timeout", "0", "--restart", policy, "localhost/bb:1", "sleep", "1000").WantSuccess(t)
	}
	b.Run("stop", "u-stopped").WantSuccess(t)
	for _, n := range []string{"u-kept", "u-no"} { // as after a crash: not the user's stop
		id := strings.TrimSpace(b.Run("inspect", "--format", "{{.Id}}", n).WantSuccess(t).Stdout)
		killMonitorAndContainer(t, b, id)
	}
	b.Run("start", "--all", "--filter", "restart-policy=unless-stopped").WantSuccess(t)
	if got := b.Run("ps", "--format", "{{.Names}}").WantSuccess(t).Stdout; got != "u-kept\n" {
		t.Errorf("start --all --filter restart-policy=unless-stopped started %q, want only u-kept", got)
	}
	if got := b.Run("ps", "-a", "--filter", "restart-policy=unless-stopped", "--format", "{{.Names}}").WantSuccess(t).Stdout; strings.Contains(got, "u-stopped") {
		t.Errorf("ps -a --filter restart-policy=unless-stopped = %q, want no u-stopped", got)
	}
	// Started again by hand, it is no longer one the user stopped.
	b.Run("start", "u-stopped").WantSuccess(t)
	if got := b.Run("ps", "-a", "--filter", "restart-policy=unless-stopped", "--format", "{{.Names}}").WantSuccess(t).Stdout; !strings.Contains(got, "u-stopped") {
		t.Errorf("ps -a --filter restart-policy=unless-stopped = %q, want u-stopped after its start", got)
	}
	b.Run("rm", "-f", "u-kept", "u-stopped", "u-no").WantSuccess(t)
}

func TestStopRemoveCidfile(t *testing.T) {
	b := withImage(t)
	cid := filepath.Join(t.TempDir(), "ctr-id")
	id := strings.TrimSpace(b.Run("run", "-d", "--cidfile", cid, "--network", "none", "localhost/bb:1", "sleep", "1000").WantSuccess(t).Stdout)
	b.Run("stop", "-t", "0", "--cidfile", cid).WantSuccess(t)
	if got := b.Run("inspect", "--format", "{{.State.Status}}", id).WantSuccess(t).Stdout; got != "exited\n" {
		t.Errorf("stop --cidfile: container is %q", got)
	}
	b.Run("rm", "-f", "--cidfile", cid).WantSuccess(t)
	notFound := b.Run("rm", "nosuch-container").Code // the exit code of a missing container
	b.Run("rm", "--cidfile", cid).WantError(t, notFound, "no such container")
	b.Run("rm", "-f", "--ignore", "--cidfile", cid).WantSuccess(t)
	b.Run("stop", "--ignore", "--cidfile", filepath.Join(t.TempDir(), "none")).WantSuccess(t)
	b.Run("stop", "--cidfile", filepath.Join(t.TempDir(), "none")).WantError(t, notFound, "read cidfile")
}

func TestSystemdPodUnitsUnderSystemd(t *testing.T) {
	b := withImage(t)
	b.Run("pod", "create", "--name", "sdpod", "--network", "none").WantSuccess(t)
	for _, n := range []string{"sdpod-a", "sdpod-b"} {
		b.Run("create", "--pod", "sdpod", "--name", n, "--stop-timeout", "1", "localhost/bb:1", "sleep", "1000").WantSuccess(t)
	}
	sd := startSystemd(t)
	in := sd.Inside(b)
	dir := t.TempDir()
	gen := b.Cmd("generate", "systemd", "--name", "--files", "-t", "1", "sdpod")
	gen.Dir = dir
	out, err := gen.Output()
	if err != nil {
		t.Fatalf("generate systemd for a pod: %v", err)
	}
	var names []string
	for _, p := range strings.Fields(string(out)) {
		text, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sd.WriteUnit(filepath.Base(p), string(text))
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, " ") != "pod-sdpod.service container-sdpod-a.service container-sdpod-b.service" {
		t.Fatalf("generate systemd sdpod wrote %q", names)
	}
	verifyUnit(t, filepath.Join(sd.UnitDir, "pod-sdpod.service"))
	sd.MustSystemctl("daemon-reload")
	sd.MustSystemctl("start", "pod-sdpod.service")
	status := func(n string) string {
		return strings.TrimSpace(in.Run("inspect", "--format", "{{.State.Status}}", n).WantSuccess(t).Stdout)
	}
	waitFor(t, "the pod's containers to run", func() bool { return status("sdpod-a") == "running" && status("sdpod-b") == "running" })
	for _, u := range names {
		if got := sd.Show(u, "ActiveState"); got != "active" {
			t.Errorf("%s is %s, want active", u, got)
		}
	}
	sd.MustSystemctl("stop", "pod-sdpod.service")
	for _, n := range []string{"sdpod-a", "sdpod-b"} {
		if got := status(n); got != "exited" {
			t.Errorf("after stopping the pod unit %s is %s, want exited", n, got)
		}
	}
	if got := sd.Show("container-sdpod-a.service", "ActiveState"); got != "inactive" {
		t.Errorf("container-sdpod-a.service is %s after the pod unit stopped", got)
	}
	b.Run("generate", "systemd", "--new", "sdpod").WantError(t, 1, "--new is not supported for pods")
	b.Run("generate", "systemd", "nosuch").WantError(t, 1, "nosuch does not refer to a container or pod")
}

// --sdnotify=healthy under a real systemd: the unit is active only once the monitor says the
// container passed its health check.
func TestSystemdHealthyUnit(t *testing.T) {
	b := withImage(t)
	sd := startSystemd(t)
	in := sd.Inside(b)
	b.Run("create", "--name", "sdhealthy", "--network", "none", "--stop-timeout", "1", "--sdnotify=healthy",
		"--health-cmd", "test -e /tmp/ok", "--health-interval", "200ms", "localhost/bb:1", "sh", "-c", "sleep 1; touch /tmp/ok; exec sleep 1000").WantSuccess(t)
	unit := "container-sdhealthy.service"
	sd.WriteUnit(unit, b.Run("generate", "systemd", "--new", "--name", "sdhealthy").WantSuccess(t).Stdout)
	verifyUnit(t, filepath.Join(sd.UnitDir, unit))
	b.Run("rm", "sdhealthy").WantSuccess(t)
	sd.MustSystemctl("daemon-reload")
	start := time.Now()
	sd.MustSystemctl("start", unit) // returns once READY=1 came
	if d := time.Since(start); d < time.Second {
		t.Errorf("systemctl start returned after %v, before the container could be healthy", d)
	}
	if got := strings.TrimSpace(in.Run("inspect", "--format", "{{.State.Health.Status}}", "sdhealthy").WantSuccess(t).Stdout); got != "healthy" {
		t.Errorf("unit active with the container %s, want healthy", got)
	}
	id := strings.TrimSpace(in.Run("inspect", "--format", "{{.Id}}", "sdhealthy").WantSuccess(t).Stdout)
	if got, want := sd.Show(unit, "MainPID"), monitorPID(t, b, id); got != want {
		t.Errorf("MainPID = %s, want the monitor's %s", got, want)
	}
	sd.MustSystemctl("stop", unit)
}
