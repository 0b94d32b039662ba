package tests

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// eventually retries cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// ptyRun runs berth args on a terminal, typing input, and returns the output and exit code.
func ptyRun(t *testing.T, b *Berth, input string, args ...string) (string, int) {
	t.Helper()
	cmd := b.Cmd(args...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 33, Cols: 99})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				close(done)
				return
			}
		}
	}()
	if input != "" {
		// Type once the container has put out its first line, or after a second of silence.
		for i := 0; i < 50; i++ {
			mu.Lock()
			n := out.Len()
			mu.Unlock()
			if n > 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		io.WriteString(f, input)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case <-waitErr:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("berth %v hung; output so far %q", args, out.String())
	}
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	return out.String(), cmd.ProcessState.ExitCode()
}

func TestRunInteractiveTerminal(t *testing.T) {
	b := withImage(t)
	out, code := ptyRun(t, b, "", "run", "-it", "--rm", "localhost/bb:1", "sh", "-c", "tty; stty size; exit 5")
	if code != 5 || !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "33 99") {
		t.Errorf("run -it: exit %d, output %q (want a named tty sized 33x99 and status 5)", code, out)
	}
	// A shell driven through the terminal, with our input echoed back through the pty.
	out, code = ptyRun(t, b, "echo typed-$((6*7))\rexit 3\r", "run", "-it", "--rm", "localhost/bb:1", "sh", "-c", "echo ready; exec sh")
	if code != 3 || !strings.Contains(out, "typed-42") {
		t.Errorf("interactive shell: exit %d, output %q", code, out)
	}
	// ctrl-p ctrl-q detaches and leaves the container running.
	out, code = ptyRun(t, b, "\x10\x11", "run", "-it", "--name", "det", "localhost/bb:1", "sh", "-c", "echo ready; exec sleep 100")
	if code != 0 {
		t.Errorf("detach: exit %d, output %q", code, out)
	}
	if got := b.Run("ps", "--format", "{{.Names}} {{.State}}").Stdout; got != "det running\n" {
		t.Errorf("after detaching: %q", got)
	}
	// Custom detach keys, through attach.
	out, code = ptyRun(t, b, "\x01d", "attach", "--detach-keys", "ctrl-a,d", "det")
	if code != 0 || b.Run("inspect", "-f", "{{.State.Running}}", "det").Stdout != "true\n" {
		t.Errorf("attach --detach-keys: exit %d, output %q", code, out)
	}
	b.Run("attach", "--detach-keys", "ctrl-", "det").WantError(t, 1, "detach keys")
	b.Run("rm", "-f", "det").WantSuccess(t)
	b.Run("attach", "nosuch").WantError(t, 1, "no such container")
}

func TestRunStdinAndAttach(t *testing.T) {
	b := withImage(t)
	r := b.RunStdin([]byte("line1\nline2\n"), "run", "-i", "--rm", "localhost/bb:1", "sh", "-c", "wc -l; echo done")
	if r.WantSuccess(t); strings.TrimSpace(r.Stdout) != "2\ndone" {
		t.Errorf("run -i: %q", r.Stdout)
	}
	// Without -i the container's stdin is empty.
	r = b.RunStdin([]byte("ignored\n"), "run", "--rm", "localhost/bb:1", "sh", "-c", "cat; echo end")
	if r.Stdout != "end\n" {
		t.Errorf("run without -i read stdin: %q", r.Stdout)
	}
	// start -a waits for the status and shows the output.
	b.Run("create", "--name", "once", "localhost/bb:1", "sh", "-c", "echo hello; exit 9").WantSuccess(t)
	if r := b.Run("start", "-a", "once").WantExit(t, 9); r.Stdout != "hello\n" {
		t.Errorf("start -a: %q", r.Stdout)
	}
	// attach to a running container sees its later output and its status.
	b.Run("run", "-d", "--name", "later", "localhost/bb:1", "sh", "-c", "sleep 1; echo late; exit 4").WantSuccess(t)
	if r := b.Run("attach", "later").WantExit(t, 4); r.Stdout != "late\n" {
		t.Errorf("attach: %q", r.Stdout)
	}
	b.Run("attach", "later").WantError(t, 1, "cannot attach to a stopped container")
}

func TestExec(t *testing.T) {
	b := withImage(t)
	b.Run("run", "-d", "--name", "box", "-e", "BASE=1", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	r := b.Run("exec", "-e", "X=y", "-w", "/tmp", "-u", "nobody", "box", "sh", "-c", "echo $X $BASE $(pwd) $(id -u); exit 6").WantExit(t, 6)
	if r.Stdout != "y 1 /tmp 65534\n" {
		t.Errorf("exec: %q", r.Stdout)
	}
	if r := b.RunStdin([]byte("abc"), "exec", "-i", "box", "cat"); r.Stdout != "abc" {
		t.Errorf("exec -i: %q", r.Stdout)
	}
	b.Run("exec", "box", "nosuchcmd").WantExit(t, 127)
	b.Run("exec", "-d", "box", "sh", "-c", "echo bg > /tmp/bg").WantSuccess(t)
	eventually(t, "exec -d's file", func() bool { return b.Run("exec", "box", "cat", "/tmp/bg").Stdout == "bg\n" })
	if r := b.Run("exec", "box", "sh", "-c", "grep CapEff /proc/self/status"); !strings.Contains(r.Stdout, "00000000a80425fb") {
		t.Errorf("default capabilities: %q", r.Stdout)
	}
	if r := b.Run("exec", "--privileged", "box", "sh", "-c", "grep CapEff /proc/self/status"); strings.Contains(r.Stdout, "00000000a80425fb") {
		t.Errorf("exec --privileged kept the default capabilities: %q", r.Stdout)
	}
	out, code := ptyRun(t, b, "", "exec", "-it", "box", "sh", "-c", "stty size; exit 2")
	if code != 2 || !strings.Contains(out, "33 99") {
		t.Errorf("exec -it: exit %d, output %q", code, out)
	}
	b.Run("stop", "-t", "0", "box").WantSuccess(t)
	b.Run("exec", "box", "true").WantError(t, 1, "is not running")
	b.Run("exec", "nosuch", "true").WantError(t, 1, "no such container")
}

func TestRestartPolicyAndHealth(t *testing.T) {
	b := withImage(t)
	b.Run("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "localhost/bb:1", "sh", "-c", "echo run; exit 4").WantSuccess(t)
	eventually(t, "on-failure:2 to give up", func() bool {
		return b.Run("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "flaky").Stdout == "exited 2\n"
	})
	if got := b.Run("logs", "flaky").Stdout; got != "run\nrun\nrun\n" {
		t.Errorf("three runs expected in the log: %q", got)
	}
	if got := b.Run("inspect", "-f", "{{.State.ExitCode}}", "flaky").Stdout; got != "4\n" {
		t.Errorf("exit code %q", got)
	}
	// always restarts a clean exit too, but not after a stop.
	b.Run("run", "-d", "--name", "always", "--restart", "always", "localhost/bb:1", "sh", "-c", "sleep 0.2").WantSuccess(t)
	eventually(t, "a restart", func() bool {
		return b.Run("inspect", "-f", "{{.RestartCount}}", "always").Stdout >= "1\n"
	})
	b.Run("stop", "-t", "1", "always").WantSuccess(t)
	time.Sleep(500 * time.Millisecond)
	if got := b.Run("inspect", "-f", "{{.State.Status}}", "always").Stdout; got != "exited\n" {
		t.Errorf("restart=always after stop: %q", got)
	}
	b.Run("run", "--restart", "sometimes", "localhost/bb:1", "true").WantError(t, 125, "invalid restart policy")
	b.Run("run", "--rm", "--restart", "always", "localhost/bb:1", "true").WantError(t, 125, "conflicting options")

	b.Run("run", "-d", "--name", "doc", "--health-cmd", "test -e /tmp/ok", "--health-interval", "200ms", "--health-retries", "2",
		"localhost/bb:1", "sh", "-c", "sleep 1; touch /tmp/ok; sleep 100").WantSuccess(t)
	eventually(t, "unhealthy", func() bool {
		return strings.Contains(b.Run("ps", "--format", "{{.Status}}", "--filter", "name=doc").Stdout, "(unhealthy)")
	})
	eventually(t, "healthy", func() bool {
		return b.Run("inspect", "-f", "{{.State.Health.Status}}", "doc").Stdout == "healthy\n"
	})
	if got := b.Run("ps", "-q", "--filter", "health=healthy").Stdout; got == "" {
		t.Errorf("--filter health=healthy found nothing")
	}
	b.Run("run", "--health-cmd", "true", "--health-retries", "0", "localhost/bb:1", "true").WantError(t, 125, "health")
	b.Run("rm", "-f", "doc", "always", "flaky").WantSuccess(t)
}

func TestMonitorMemory(t *testing.T) {
	b := withImage(t)
	b.Run("run", "-d", "--name", "lean", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	id := strings.TrimSpace(b.Run("inspect", "-f", "{{.Id}}", "lean").Stdout)
	pid := strings.TrimSpace(string(must(os.ReadFile(b.RunRoot + "/containers/" + id + "/monitor.pid"))))
	st := string(must(os.ReadFile("/proc/" + pid + "/status")))
	for _, l := range strings.Split(st, "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			t.Logf("monitor %s", l)
		}
	}
	b.Run("rm", "-f", "lean").WantSuccess(t)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
