package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// startMonitor starts berth-monitor for bundle the way berth does (its own session, stdio on
// /dev/null, a ready pipe on fd 3) and returns its pid and the container's pid.
func startMonitor(t *testing.T, rtRoot, bundle, id, logPath, exitFile string, exitCmd ...string) (*os.Process, string) {
	t.Helper()
	dir := filepath.Dir(berthBin)
	r, w, _ := os.Pipe()
	defer r.Close()
	args := append([]string{"--id", id, "--runtime", filepath.Join(dir, "berth-runtime"), "--runtime-root", rtRoot,
		"--bundle", bundle, "--log", logPath, "--exit-file", exitFile, "--log-max-size", "4096", "--log-max-files", "2", "--"}, exitCmd...)
	cmd := exec.Command(filepath.Join(dir, "berth-monitor"), args...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	if !strings.HasPrefix(line, "ok ") {
		t.Fatalf("monitor: %q", line)
	}
	go cmd.Wait()
	return cmd.Process, strings.TrimSpace(strings.TrimPrefix(line, "ok "))
}

func waitFile(t *testing.T, p string) string {
	t.Helper()
	for i := 0; i < 500; i++ {
		if b, err := os.ReadFile(p); err == nil {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", p)
	return ""
}

func TestMonitorLogsExitAndCleanup(t *testing.T) {
	RequireRoot(t)
	rtRoot, state := t.TempDir(), t.TempDir()
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "echo out; echo err >&2; printf partial; sleep 0.3; exit 3"}
	})
	logPath, exitFile, marker := filepath.Join(state, "ctr.log"), filepath.Join(state, "exit"), filepath.Join(state, "cleaned")
	mon, _ := startMonitor(t, rtRoot, b, "m1", logPath, exitFile, "/bin/sh", "-c", "echo cleanup > "+marker)
	// The monitor holds the container alone: its RSS is what each running container costs.
	if st, err := os.ReadFile("/proc/" + strconv.Itoa(mon.Pid) + "/status"); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				t.Logf("monitor %s", l)
			}
		}
	}
	if out, err := exec.Command(berthBin, "runtime", "--root", rtRoot, "start", "m1").CombinedOutput(); err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
	if got := waitFile(t, exitFile); !strings.HasPrefix(got, "3 ") {
		t.Errorf("exit file %q, want status 3", got)
	}
	log, _ := os.ReadFile(logPath)
	for _, want := range []string{" stdout F out\n", " stderr F err\n", " stdout P partial\n"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if got := waitFile(t, marker); got != "cleanup\n" {
		t.Errorf("exit command: %q", got)
	}
	exec.Command(berthBin, "runtime", "--root", rtRoot, "delete", "-f", "m1").Run()
}

func TestMonitorReportsCreateFailure(t *testing.T) {
	RequireRoot(t)
	dir := filepath.Dir(berthBin)
	b := bundle(t, func(s *specs.Spec) { s.Process.Args = []string{"nosuchcommand"} })
	r, w, _ := os.Pipe()
	cmd := exec.Command(filepath.Join(dir, "berth-monitor"), "--id", "m2", "--runtime", filepath.Join(dir, "berth-runtime"),
		"--runtime-root", t.TempDir(), "--bundle", b, "--exit-file", filepath.Join(t.TempDir(), "exit"))
	cmd.ExtraFiles = []*os.File{w}
	cmd.Start()
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	cmd.Wait()
	if !strings.HasPrefix(line, "error ") || !strings.Contains(line, "nosuchcommand") {
		t.Errorf("monitor reported %q", line)
	}
}

func TestMonitorRotatesLog(t *testing.T) {
	RequireRoot(t)
	rtRoot, state := t.TempDir(), t.TempDir()
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "for i in $(seq 300); do echo line-$i; done"}
	})
	logPath, exitFile := filepath.Join(state, "ctr.log"), filepath.Join(state, "exit")
	startMonitor(t, rtRoot, b, "m3", logPath, exitFile)
	exec.Command(berthBin, "runtime", "--root", rtRoot, "start", "m3").Run()
	waitFile(t, exitFile)
	cur, _ := os.ReadFile(logPath)
	old, err := os.ReadFile(logPath + ".1")
	if err != nil || len(cur) > 4096 || len(old) > 4096 {
		t.Errorf("rotation: current %d bytes, .1 %d bytes (%v)", len(cur), len(old), err)
	}
	if !strings.Contains(string(cur), "line-300\n") {
		t.Errorf("the newest lines are not in the current log")
	}
	if _, err := os.Stat(logPath + ".2"); err == nil {
		t.Error("more rotated files than --log-max-files")
	}
	exec.Command(berthBin, "runtime", "--root", rtRoot, "delete", "-f", "m3").Run()
}
