package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/tests/fixture"
)

// withImage gives a berth with the busybox test image loaded as localhost/bb:1.
func withImage(t *testing.T) *Berth {
	t.Helper()
	RequireRoot(t)
	b := NewBerth(t)
	p := filepath.Join(t.TempDir(), "bb.tar")
	if err := fixture.WriteDockerArchive(p, "localhost/bb:1", busyboxImage(t)); err != nil {
		t.Fatal(err)
	}
	b.Run("load", "-i", p).WantSuccess(t)
	return b
}

func TestContainerRunForeground(t *testing.T) {
	b := withImage(t)
	r := b.Run("run", "--rm", "localhost/bb:1", "sh", "-c", "echo out; echo err >&2; exit 3").WantExit(t, 3)
	if r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if got := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("--rm left %q", got)
	}
	b.Run("run", "--rm", "localhost/bb:1", "nosuchcmd").WantError(t, 127, "nosuchcmd")
	b.Run("run", "--rm", "localhost/bb:1", "/etc/passwd").WantError(t, 126, "permission denied")
	b.Run("run", "--rm", "localhost/nosuch:1", "true").WantError(t, 125, "localhost/nosuch:1")
	b.Run("run", "--rm", "--memory", "lots", "localhost/bb:1", "true").WantError(t, 125, "lots")
	r = b.Run("run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody", "-h", "box", "localhost/bb:1", "sh", "-c", "echo $FOO $(pwd) $(id -u) $(hostname)")
	if r.WantSuccess(t); r.Stdout != "bar /tmp 65534 box\n" {
		t.Errorf("env/workdir/user/hostname: %q", r.Stdout)
	}
	b.Run("run", "--rm", "-u", "nosuchuser", "localhost/bb:1", "true").WantError(t, 125, "nosuchuser")
	r = b.Run("run", "--rm", "--entrypoint", "echo", "localhost/bb:1", "via", "entrypoint").WantSuccess(t)
	if r.Stdout != "via entrypoint\n" {
		t.Errorf("--entrypoint: %q", r.Stdout)
	}
}

func TestContainerDetachedLifecycle(t *testing.T) {
	b := withImage(t)
	id := strings.TrimSpace(b.Run("run", "-d", "--name", "web", "localhost/bb:1", "sh", "-c", "echo started; exec sleep 100").WantSuccess(t).Stdout)
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	r := b.Run("ps").WantSuccess(t)
	if !strings.Contains(r.Stdout, id[:12]) || !strings.Contains(r.Stdout, "Up ") || !strings.Contains(r.Stdout, "web") {
		t.Errorf("ps:\n%s", r.Stdout)
	}
	b.Run("run", "-d", "--name", "web", "localhost/bb:1", "true").WantError(t, 125, `"web" is already in use`)
	b.Run("rm", "web").WantError(t, 2, "container is running")
	for i := 0; i < 100 && b.Run("logs", "web").Stdout == ""; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := b.Run("logs", "web").WantSuccess(t).Stdout; got != "started\n" {
		t.Errorf("logs: %q", got)
	}
	b.Run("stop", "-t", "1", "web").WantSuccess(t)
	if got := b.Run("ps", "-a", "--format", "{{.Names}} {{.State}}").Stdout; got != "web exited\n" {
		t.Errorf("after stop: %q", got)
	}
	b.Run("start", "web").WantSuccess(t)
	if got := b.Run("ps", "--format", "{{.Names}}").Stdout; got != "web\n" {
		t.Errorf("after start: %q", got)
	}
	b.Run("kill", "web").WantSuccess(t)
	if got := strings.TrimSpace(b.Run("wait", "web").WantSuccess(t).Stdout); got != "137" {
		t.Errorf("wait after kill: %q", got)
	}
	b.Run("rm", "web").WantSuccess(t)
	b.Run("rm", "web").WantError(t, 1, "no such container: web")
	b.Run("logs", "nosuch").WantError(t, 1, "no such container")
}

func TestContainerMonitorKilled(t *testing.T) {
	b := withImage(t)
	id := strings.TrimSpace(b.Run("run", "-d", "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout)
	// Kill the monitor and then the container: nothing records the exit, yet ps must not
	// show it running forever.
	killMonitorAndContainer(t, b, id)
	if got := b.Run("ps", "-a", "--format", "{{.State}} {{.Status}}").WantSuccess(t).Stdout; !strings.HasPrefix(got, "exited Exited (255)") {
		t.Errorf("after the monitor was killed: %q", got)
	}
	b.Run("rm", id).WantSuccess(t)
}

// killMonitorAndContainer SIGKILLs container id's monitor and then the container, so that
// nothing records its exit.
func killMonitorAndContainer(t *testing.T, b *Berth, id string) {
	t.Helper()
	out, _ := exec.Command("pgrep", "-f", "berth-monitor --id "+id).Output()
	pid, err := strconv.Atoi(strings.Fields(string(out) + " 0")[0])
	if err != nil || pid == 0 {
		t.Fatalf("monitor not found: %q", out)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	exec.Command(berthBin, "runtime", "--root", filepath.Join(b.RunRoot, "runtime"), "kill", id, "KILL").Run()
	time.Sleep(200 * time.Millisecond)
}

func TestContainerParallelRunsLeaveNothing(t *testing.T) {
	b := withImage(t)
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := b.Cmd("run", "-d", "localhost/bb:1", "sleep", "100")
			out, err := cmd.Output()
			if err != nil {
				errs <- "run -d: " + err.Error()
				return
			}
			if out, err := b.Cmd("rm", "-f", strings.TrimSpace(string(out))).CombinedOutput(); err != nil {
				errs <- "rm -f: " + string(out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := b.Run("ps", "-a", "-q").Stdout; got != "" {
		t.Errorf("containers left: %q", got)
	}
	if out, _ := exec.Command("sh", "-c", "grep -c "+b.Root+" /proc/mounts").Output(); strings.TrimSpace(string(out)) != "0" {
		t.Errorf("mounts left: %s", out)
	}
	// Each monitor ends after running its exit command, shortly after the container.
	var monitors []byte
	for i := 0; i < 200; i++ {
		if monitors, _ = exec.Command("pgrep", "-f", "berth-monitor --id .* --runtime-root "+filepath.Join(b.RunRoot, "runtime")).Output(); len(monitors) == 0 {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if len(monitors) > 0 {
		t.Errorf("monitors left: %s", monitors)
	}
	// Containers' state directories must be gone; the runtime's own (.locks, the .seccomp
	// program cache) stay.
	ents, _ := os.ReadDir(filepath.Join(b.RunRoot, "runtime"))
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			t.Errorf("runtime state left: %s", e.Name())
		}
	}
}

// rmi refuses an image a container was made from, as docker does: the container would lose
// the layers under it.
func TestRemoveImageInUse(t *testing.T) {
	b := withImage(t)
	b.Run("create", "--name", "user", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("rmi", "localhost/bb:1").WantError(t, 2, "in use by a container")
	b.Run("rmi", "-f", "localhost/bb:1").WantError(t, 2, "in use by a container")
	b.Run("start", "-a", "user").WantSuccess(t)
	b.Run("rm", "user").WantSuccess(t)
	b.Run("rmi", "localhost/bb:1").WantSuccess(t)
}
