package dns

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

func readPid(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	return pid
}

func gone(pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			return true
		}
		// Our own child lingers as a zombie until Start's reaper collects it.
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(b) == 0 {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func TestStartStop(t *testing.T) {
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	o := Options{Listen: []string{addr}}
	if err := Start(dir, o); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = Stop(dir) })
	pid := readPid(t, dir)
	// Ready means answering: no retry needed right after Start.
	if got := strings.Join(answers(query(t, "udp", addr, "web.", dns.TypeA)), ","); got != "A 10.88.0.2" {
		t.Errorf("web. A from the started responder = %q, want A 10.88.0.2", got)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.HasPrefix(string(b), modeName+"\x00"+dir+"\x00") {
		t.Errorf("responder cmdline = %q (%v), want %s %s ...", b, err, modeName, dir)
	}
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("responder session = %d (%v), want its own (%d)", sid, err, pid)
	}

	// Idempotent: a second Start leaves the first responder in place.
	if err := Start(dir, o); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if again := readPid(t, dir); again != pid {
		t.Errorf("second Start replaced responder %d with %d", pid, again)
	}

	if err := Stop(dir); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !gone(pid, 2*time.Second) {
		t.Errorf("responder %d still running after Stop", pid)
	}
	if _, err := os.Stat(filepath.Join(dir, pidFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after Stop: %v, want it removed", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still listening after Stop")
	}
	if err := Stop(dir); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := Stop(filepath.Join(dir, "never-started")); err != nil {
		t.Errorf("Stop on a directory never used: %v", err)
	}

	// A stale pid file naming a live process that is not a responder is not trusted.
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Start(dir, o); err != nil {
		t.Fatalf("Start over a stale pid file: %v", err)
	}
	if p := readPid(t, dir); p == os.Getpid() {
		t.Error("Start trusted a pid file naming the test process")
	}
	if got := strings.Join(answers(query(t, "tcp", addr, "db.", dns.TypeA)), ","); got != "A 10.88.0.3" {
		t.Errorf("db. A after restart = %q, want A 10.88.0.3", got)
	}
}

func TestStartAddressInUse(t *testing.T) {
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	err = Start(dir, Options{Listen: []string{pc.LocalAddr().String()}})
	if !errors.Is(err, errdefs.ErrInUse) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), pc.LocalAddr().String()) {
		t.Fatalf("Start on a bound port = %v, want one line naming %s, kind ErrInUse", err, pc.LocalAddr())
	}
	if _, err := os.Stat(filepath.Join(dir, pidFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after a failed Start: %v, want none", err)
	}
}

func TestStartInvalid(t *testing.T) {
	dir := t.TempDir()
	err := Start(dir, Options{Listen: []string{"10.88.0.1"}})
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), `"10.88.0.1"`) {
		t.Errorf("Start with a listen address without port = %v, want ErrInvalid naming it", err)
	}
}

// The responder outlives nobody's wishes: with its hosts file gone it exits by itself and
// removes its pid file, so a crashed engine leaves nothing running.
func TestStartedResponderExitsWithoutHosts(t *testing.T) {
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	if err := Start(dir, Options{Listen: []string{addr}}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = Stop(dir) })
	pid := readPid(t, dir)
	if err := os.Remove(filepath.Join(dir, hostsFile)); err != nil {
		t.Fatal(err)
	}
	if !gone(pid, idleExit+3*time.Second) {
		t.Fatalf("responder %d still running %v after its hosts file was removed", pid, idleExit+3*time.Second)
	}
	if _, err := os.Stat(filepath.Join(dir, pidFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after the responder exited: %v, want removed", err)
	}
	// And a later Start brings a new one up on the same address.
	writeHosts(t, dir, testHosts)
	if err := Start(dir, Options{Listen: []string{addr}}); err != nil {
		t.Fatalf("Start after exit: %v", err)
	}
	if got := strings.Join(answers(query(t, "udp", addr, "web.", dns.TypeAAAA)), ","); got != "AAAA fd00::2" {
		t.Errorf("web. AAAA = %q, want AAAA fd00::2", got)
	}
}

// TestResponderRSS keeps the responder small: after a burst of local and forwarded
// questions its resident set stays under a bound (the figure is logged with -v).
func TestResponderRSS(t *testing.T) {
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	up := startUpstream(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	if err := Start(dir, Options{Listen: []string{addr}, Upstreams: []string{up.addr}}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = Stop(dir) })
	pid := readPid(t, dir)
	for i := 0; i < 500; i++ {
		name := "web."
		if i%2 == 1 {
			name = "example.test."
		}
		query(t, "udp", addr, name, dns.TypeA)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var rssKB int
	var detail []string
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rssKB, _ = strconv.Atoi(f[1])
			fallthrough
		case "RssAnon:", "RssFile:":
			detail = append(detail, f[0]+" "+f[1]+" kB")
		}
	}
	t.Logf("responder after 500 queries: %s", strings.Join(detail, ", "))
	if raceEnabled {
		return
	}
	if rssKB == 0 || rssKB > 24*1024 {
		t.Errorf("responder RSS = %d KiB, want at most 24 MiB", rssKB)
	}
}

// Concurrent Starts for one directory (containers starting together on one network) end
// with exactly one responder and no error.
func TestStartConcurrent(t *testing.T) {
	dir := t.TempDir()
	writeHosts(t, dir, testHosts)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	t.Cleanup(func() { _ = Stop(dir) })
	errs := make(chan error, 8)
	for i := 0; i < cap(errs); i++ {
		go func() { errs <- Start(dir, Options{Listen: []string{addr}}) }()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Start: %v", err)
		}
	}
	pid := readPid(t, dir)
	out, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range out {
		p, err := strconv.Atoi(e.Name())
		if err == nil && isResponder(p, dir) {
			n++
			if p != pid {
				t.Errorf("responder %d running beside %d from the pid file", p, pid)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d responders for %s, want 1", n, dir)
	}
}
