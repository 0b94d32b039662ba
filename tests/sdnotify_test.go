package tests

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// notifyListener is a fake systemd notify socket: it collects every datagram sent to it.
type notifyListener struct {
	Path string
	msgs chan string
}

func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	l := &notifyListener{Path: p, msgs: make(chan string, 16)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			l.msgs <- string(buf[:n])
		}
	}()
	return l
}

// next returns the next message, or "" after timeout.
func (l *notifyListener) next(timeout time.Duration) string {
	select {
	case m := <-l.msgs:
		return m
	case <-time.After(timeout):
		return ""
	}
}

func monitorPID(t *testing.T, b *Berth, id string) string {
	t.Helper()
	p, err := os.ReadFile(filepath.Join(b.RunRoot, "containers", id, "monitor.pid"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(p))
}

// notifySender builds a static program that sends its argument to $NOTIFY_SOCKET, for a
// container to run (busybox has no datagram client).
func notifySender(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := `package main

import (
	"net"
	"os"
)

func main() {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: os.Getenv("NOTIFY_SOCKET"), Net: "unixgram"})
	if err != nil {
		panic(err)
	}
	if _, err := c.Write([]byte(os.Args[1])); err != nil {
		panic(err)
	}
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module notifysend\n\ngo 1.22\n"), 0o644)
	build := exec.Command("go", "build", "-o", "notify-send", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build notify sender: %v\n%s", err, out)
	}
	return filepath.Join(dir, "notify-send")
}

func TestSdNotifyModes(t *testing.T) {
	b := withImage(t)
	l := listenNotify(t)
	b.Env = append(b.Env, "NOTIFY_SOCKET="+l.Path)

	// conmon (the default): berth names the monitor and says ready once the container started.
	id := strings.TrimSpace(b.Run("run", "-d", "--network", "none", "localhost/bb:1", "sleep", "1000").WantSuccess(t).Stdout)
	if got, want := l.next(5*time.Second), "MAINPID="+monitorPID(t, b, id)+"\nREADY=1"; got != want {
		t.Errorf("conmon: got %q, want %q", got, want)
	}

	// healthy: MAINPID at start, READY=1 from the monitor once the check passes.
	id = strings.TrimSpace(b.Run("run", "-d", "--network", "none", "--sdnotify=healthy", "--health-cmd", "test -e /tmp/ok",
		"--health-interval", "200ms", "localhost/bb:1", "sleep", "1000").WantSuccess(t).Stdout)
	mon := monitorPID(t, b, id)
	if got := l.next(5 * time.Second); got != "MAINPID="+mon {
		t.Errorf("healthy at start: got %q, want MAINPID=%s", got, mon)
	}
	if got := l.next(700 * time.Millisecond); got != "" {
		t.Errorf("healthy: %q sent before the container was healthy", got)
	}
	b.Run("exec", id, "touch", "/tmp/ok").WantSuccess(t)
	if got, want := l.next(5*time.Second), "MAINPID="+mon+"\nREADY=1"; got != want {
		t.Errorf("healthy once healthy: got %q, want %q", got, want)
	}

	// ignore: nothing at all.
	b.Run("run", "-d", "--network", "none", "--sdnotify=ignore", "localhost/bb:1", "sleep", "1000").WantSuccess(t)
	if got := l.next(500 * time.Millisecond); got != "" {
		t.Errorf("ignore: sent %q", got)
	}

	// container: the container's own READY=1 reaches systemd through its monitor, which
	// names itself as MAINPID whatever the container claims.
	sender := notifySender(t)
	id = strings.TrimSpace(b.Run("run", "-d", "--network", "none", "--sdnotify=container", "-v", sender+":/notify-send:ro",
		"localhost/bb:1", "sh", "-c", "sleep 0.5; /notify-send \"$(printf 'STATUS=warming up\\nMAINPID=1')\"; sleep 0.3; /notify-send READY=1; sleep 1000").WantSuccess(t).Stdout)
	mon = monitorPID(t, b, id)
	if got := l.next(5 * time.Second); got != "MAINPID="+mon {
		t.Errorf("container at start: got %q, want MAINPID=%s", got, mon)
	}
	if got, want := l.next(5*time.Second), "STATUS=warming up\nMAINPID="+mon; got != want {
		t.Errorf("container status: got %q, want %q", got, want)
	}
	if got, want := l.next(5*time.Second), "READY=1\nMAINPID="+mon; got != want {
		t.Errorf("container ready: got %q, want %q", got, want)
	}
	b.Run("rm", "-af").WantSuccess(t)
}

func TestSdNotifyBadInput(t *testing.T) {
	b := withImage(t)
	b.Run("run", "--sdnotify=sometimes", "localhost/bb:1", "true").WantError(t, 125, `invalid --sdnotify "sometimes": want conmon, container, healthy or ignore`)
	b.Run("create", "--sdnotify=healthy", "localhost/bb:1", "true").WantError(t, 125, "--sdnotify=healthy needs a health check (--health-cmd)")
	if got := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("a refused create left %q", got)
	}
}
