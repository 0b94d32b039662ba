package dns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/internal/reexec"
)

// modeName is argv[0] of the responder process, so `ps` shows what it is and Start can tell
// its own responder from an unrelated process that reused the pid.
const modeName = "berth-dns"

func init() {
	reexec.Register(modeName, responderMain)
}

// envSyncFd names the responder's sync pipe fd. The responder tells Start how its start went
// with one JSON line on it, then closes it:
//
//	{"type":"ready"}                                   every socket is bound, dns.pid written
//	{"type":"error","msg":"...","kind":"inuse|invalid"} it could not start and exits 1
const envSyncFd = "_BERTH_DNS_SYNCFD"

type syncMsg struct {
	Type string `json:"type"`
	Msg  string `json:"msg,omitempty"`
	Kind string `json:"kind,omitempty"`
}

const (
	startTimeout = 10 * time.Second // a responder not ready by then is killed
	stopTimeout  = time.Second      // SIGTERM grace before SIGKILL
)

// Start makes sure a responder for dir is running with o, and returns once it answers. It
// does nothing when dir's responder is already alive. dir holds the hosts file the responder
// serves; it must exist and have entries, or the responder exits again after two seconds.
func Start(dir string, o Options) (retErr error) {
	if err := o.validate(); err != nil {
		return err
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("dns responder: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	l, err := lock.Acquire(ctx, filepath.Join(dir, lockFile))
	if err != nil {
		return fmt.Errorf("start dns responder: %w", err)
	}
	defer l.Release()
	if _, ok := runningPid(dir); ok {
		return nil
	}
	if err := os.Remove(filepath.Join(dir, pidFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("start dns responder: %w", err)
	}
	args, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("start dns responder: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("start dns responder: %w", err)
	}
	defer logf.Close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start dns responder: %w", err)
	}
	defer syncR.Close()
	cmd := reexec.Command(modeName, dir, string(args), logrus.GetLevel().String())
	cmd.Dir = "/"                        // never pin the caller's working directory
	cmd.Env = []string{envSyncFd + "=3"} // nothing of ours: the nsenter and userns hooks stay idle
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{syncW} // fd 3
	// Its own session: no terminal signals, and it outlives the berth command that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	syncW.Close()
	if err != nil {
		return fmt.Errorf("start dns responder: %w", err)
	}
	// Reap it if it exits while we live (tests, long runs); otherwise init inherits it.
	go func() { _ = cmd.Wait() }()
	defer func() {
		if retErr != nil {
			_ = cmd.Process.Kill()
			removePidFile(dir, cmd.Process.Pid)
		}
	}()
	_ = syncR.SetReadDeadline(time.Now().Add(startTimeout))
	var msg syncMsg
	if err := json.NewDecoder(syncR).Decode(&msg); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("start dns responder: not ready after %s", startTimeout)
		}
		return fmt.Errorf("start dns responder: exited at start: %s", lastLine(filepath.Join(dir, logFile)))
	}
	switch msg.Type {
	case "ready":
		return nil
	case "error":
		switch msg.Kind {
		case "inuse":
			return errdefs.Newf(errdefs.ErrInUse, "%s", msg.Msg)
		case "invalid":
			return errdefs.Newf(errdefs.ErrInvalid, "%s", msg.Msg)
		}
		return errors.New(msg.Msg)
	}
	return fmt.Errorf("start dns responder: unexpected message %q", msg.Type)
}

// Stop ends dir's responder (SIGTERM, then SIGKILL) and removes its pid file. A responder
// that is not running is not an error.
func Stop(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("dns responder: %w", err)
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil // nothing was ever started there
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	l, err := lock.Acquire(ctx, filepath.Join(dir, lockFile))
	if err != nil {
		return fmt.Errorf("stop dns responder: %w", err)
	}
	defer l.Release()
	if pid, ok := runningPid(dir); ok {
		_ = unix.Kill(pid, unix.SIGTERM)
		if !waitGone(pid, dir, stopTimeout) {
			_ = unix.Kill(pid, unix.SIGKILL)
			if !waitGone(pid, dir, stopTimeout) {
				return fmt.Errorf("stop dns responder %d: still running after SIGKILL", pid)
			}
		}
	}
	if err := os.Remove(filepath.Join(dir, pidFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stop dns responder: %w", err)
	}
	return nil
}

// runningPid returns the pid in dir/dns.pid if that process is alive and is dir's responder.
func runningPid(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, isResponder(pid, dir)
}

// isResponder reports whether pid is alive and is the responder for dir. A pid reused by
// another process has another command line; a zombie has none.
func isResponder(pid int, dir string) bool {
	if err := unix.Kill(pid, 0); err != nil && err != unix.EPERM {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	return len(args) >= 2 && args[0] == modeName && args[1] == dir
}

func waitGone(pid int, dir string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for isResponder(pid, dir) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// lastLine is the last non-empty line of a log file, for a one-line error.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "no log"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return "no log"
}

// responderMain is the berth-dns process: argv is [berth-dns, dir, options JSON, log level].
func responderMain() {
	// One P and a tight GC keep the resident set small; the load is a few queries a second.
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(25)
	// Check the sync fd is a pipe before writing to it: a stray fd could be anything.
	var syncPipe *os.File
	if fd, err := strconv.Atoi(os.Getenv(envSyncFd)); err == nil && fd > 2 {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO {
			unix.CloseOnExec(fd)
			syncPipe = os.NewFile(uintptr(fd), "sync")
		}
	}
	os.Unsetenv(envSyncFd)
	fail := func(err error) {
		kind := ""
		switch {
		case errors.Is(err, unix.EADDRINUSE), errors.Is(err, errdefs.ErrInUse):
			kind = "inuse"
		case errors.Is(err, errdefs.ErrInvalid):
			kind = "invalid"
		}
		if syncPipe != nil {
			_ = json.NewEncoder(syncPipe).Encode(syncMsg{Type: "error", Msg: err.Error(), Kind: kind})
		}
		logrus.Error(err)
		os.Exit(1)
	}
	if len(os.Args) != 4 {
		fail(errdefs.Newf(errdefs.ErrInvalid, "%s: want DIR OPTIONS LEVEL, got %d arguments", modeName, len(os.Args)-1))
	}
	dir := os.Args[1]
	var o Options
	if err := json.Unmarshal([]byte(os.Args[2]), &o); err != nil {
		fail(errdefs.Newf(errdefs.ErrInvalid, "%s: options: %v", modeName, err))
	}
	if lvl, err := logrus.ParseLevel(os.Args[3]); err == nil {
		logrus.SetLevel(lvl)
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
	defer stop()
	signal.Ignore(unix.SIGHUP, unix.SIGPIPE)
	pid := os.Getpid()
	if err := writePidFile(dir, pid); err != nil {
		fail(err)
	}
	err := Serve(ctx, dir, o, func() {
		if syncPipe != nil {
			_ = json.NewEncoder(syncPipe).Encode(syncMsg{Type: "ready"})
			syncPipe.Close()
			syncPipe = nil
		}
	})
	removePidFile(dir, pid)
	if err != nil {
		fail(err)
	}
}

// writePidFile writes dir/dns.pid atomically: a reader sees the old pid or the new one.
func writePidFile(dir string, pid int) error {
	tmp, err := os.CreateTemp(dir, pidFile+".*")
	if err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	_, err = io.WriteString(tmp, strconv.Itoa(pid)+"\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, pidFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// listenUDP binds addr with SO_REUSEADDR, so the responder can bind the bridge address even
// when a host resolver that also sets it listens on the wildcard address at the same port.
func listenUDP(ctx context.Context, addr string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.ListenPacket(ctx, "udp", addr)
}

func fileIno(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
