package tests

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A real systemd for the tests: /lib/systemd/systemd runs as PID 1 of its own PID, mount,
// UTS, IPC, network and cgroup namespaces, which the test creates with unshare(1):
//
//   - its cgroup is a fresh child of the host's root cgroup, and inside its cgroup namespace
//     the test remounts the systemd hierarchies so that systemd sees that child as its root;
//   - /run is a fresh tmpfs (systemd's private socket, %t for the units' cidfiles);
//   - SYSTEMD_UNIT_PATH names one directory of the test's and nothing else: systemd loads no
//     unit of the host's, so nothing like systemd-tmpfiles (which empties /tmp at boot) ever
//     starts. The directory holds empty stand-ins for the targets and slices that services
//     depend on by default, and the units under test;
//   - it boots into an empty target and logs to a file.
//
// systemctl and berth talk to it through nsenter into those namespaces (container pids are
// those of its PID namespace). Killing the PID 1 at the end kills everything in it.
type systemdEnv struct {
	t        *testing.T
	pid      int    // systemd, as the host sees it
	UnitDir  string // SYSTEMD_UNIT_PATH
	logPath  string
	logMu    sync.Mutex
	logPipe  *os.File
	logDone  chan struct{}
	cgroups  []string
	unshare  *exec.Cmd
	nsPrefix []string
}

// stand-ins for the units a service pulls in by default.
var systemdStandIns = []string{"berth-e2e.target", "sysinit.target", "basic.target", "network.target",
	"network-online.target", "default.target", "multi-user.target", "shutdown.target", "sockets.target",
	"timers.target", "paths.target", "slices.target", "local-fs.target", "system.slice", "user.slice"}

const systemdInit = `#!/bin/sh
# PID 1 of the namespaces: see systemdEnv.
set -e
mount --make-rprivate /
if [ "$BERTH_E2E_CGROUP2" = 1 ]; then
	umount -l /sys/fs/cgroup
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
else
	umount -l /sys/fs/cgroup/unified 2>/dev/null || true
	mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
	umount -l /sys/fs/cgroup/systemd
	mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
fi
mount -t tmpfs -o mode=0755 tmpfs /run
# systemd and generators log to the kernel's buffer: here, a pipe the test reads ($3).
mount --bind "$3" /dev/kmsg
# $2: more of systemd's environment (the generators inherit it), NAME=VALUE words.
exec env -i container=berth-e2e SYSTEMD_UNIT_PATH="$1" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin $2 \
	/lib/systemd/systemd --system --unit=berth-e2e.target --log-target=kmsg --log-level=info \
	--default-standard-output=inherit --default-standard-error=inherit
`

// startSystemd boots a private systemd, or skips when the machine cannot run one. env is more
// of systemd's environment (NAME=VALUE, no spaces), which its generators inherit.
func startSystemd(t *testing.T, env ...string) *systemdEnv {
	return startSystemdWith(t, "", env...)
}

// startSystemdWith boots a private systemd that also runs the generators of generatorDir
// (SYSTEMD_GENERATOR_PATH) at boot and daemon-reload, their units in its private
// /run/systemd/generator, which is in its unit path.
func startSystemdWith(t *testing.T, generatorDir string, extraEnv ...string) *systemdEnv {
	t.Helper()
	RequireRoot(t)
	for _, bin := range []string{"/lib/systemd/systemd", "systemctl", "systemd-analyze", "unshare", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s (apt packages systemd and util-linux): %v", bin, err)
		}
	}
	d := t.TempDir()
	env := &systemdEnv{t: t, UnitDir: filepath.Join(d, "units"), logPath: filepath.Join(d, "systemd.log")}
	if err := os.MkdirAll(env.UnitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, u := range systemdStandIns {
		env.WriteUnit(u, fmt.Sprintf("[Unit]\nDescription=stand-in for %s\nDefaultDependencies=no\n", u))
	}
	initPath := filepath.Join(d, "init.sh")
	if err := os.WriteFile(initPath, []byte(systemdInit), 0o755); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("berth-e2e-systemd-%d-%d", os.Getpid(), time.Now().UnixNano())
	cgroup2 := false
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		cgroup2 = true
		env.cgroups = []string{filepath.Join("/sys/fs/cgroup", name)}
	} else {
		for _, h := range []string{"unified", "systemd"} {
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", h, "cgroup.procs")); err != nil {
				t.Skipf("needs a cgroup2 or name=systemd hierarchy: %v", err)
			}
			env.cgroups = append(env.cgroups, filepath.Join("/sys/fs/cgroup", h, name))
		}
	}
	var join []string
	for _, cg := range env.cgroups {
		if err := os.Mkdir(cg, 0o755); err != nil {
			t.Skipf("cannot create a cgroup for systemd: %v", err)
		}
		join = append(join, fmt.Sprintf("echo $$ > %s/cgroup.procs", cg))
	}
	t.Cleanup(env.stop)
	logf, err := os.Create(env.logPath)
	if err != nil {
		t.Fatal(err)
	}
	// The log pipe: opened read-write, so that opening it never blocks and it never reads EOF.
	fifo := filepath.Join(d, "kmsg")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	pipe, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	env.logDone = make(chan struct{})
	go func() {
		defer close(env.logDone)
		defer logf.Close()
		io.Copy(&lockedWriter{w: logf, mu: &env.logMu}, pipe)
	}()
	env.logPipe = pipe
	// The shell is PID 1 of the new namespaces: it joins its cgroup, then enters a cgroup
	// namespace rooted there and becomes systemd.
	unitPath := env.UnitDir
	if generatorDir != "" {
		unitPath += ":/run/systemd/generator"
		extraEnv = append(extraEnv, "SYSTEMD_GENERATOR_PATH="+generatorDir)
	}
	env.unshare = exec.Command("unshare", "--pid", "--mount", "--uts", "--ipc", "--net", "--fork", "--propagation", "private",
		"--mount-proc", "sh", "-c", strings.Join(join, "; ")+`; exec unshare --cgroup "$0" "$1" "$2" "$3"`, initPath, unitPath,
		strings.Join(extraEnv, " "), fifo)
	env.unshare.Env = []string{"PATH=" + os.Getenv("PATH"), "BERTH_E2E_CGROUP2=" + map[bool]string{true: "1"}[cgroup2]}
	env.unshare.Stdout, env.unshare.Stderr = &lockedWriter{w: logf, mu: &env.logMu}, &lockedWriter{w: logf, mu: &env.logMu}
	if err := env.unshare.Start(); err != nil {
		t.Fatalf("start unshare: %v", err)
	}
	// systemd is the unshare's child: find it, then wait for it to finish booting.
	deadline := time.Now().Add(30 * time.Second)
	for env.pid == 0 && time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", env.unshare.Process.Pid, env.unshare.Process.Pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			pid, _ := strconv.Atoi(f[0])
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); strings.HasSuffix(exe, "/systemd") {
				env.pid = pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if env.pid == 0 {
		t.Fatalf("systemd did not start:\n%s", env.Log())
	}
	env.nsPrefix = []string{"nsenter", "-t", strconv.Itoa(env.pid), "-m", "-u", "-i", "-n", "-p", "-C", "--"}
	for {
		out, _ := env.Systemctl("is-system-running")
		state := strings.TrimSpace(out)
		if state == "running" || state == "degraded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd did not finish booting (%q):\n%s", state, env.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return env
}

// stop kills systemd (and with it everything in its PID namespace) and removes its cgroups.
func (env *systemdEnv) stop() {
	if env.unshare != nil && env.unshare.Process != nil {
		if env.pid != 0 {
			syscall.Kill(env.pid, syscall.SIGKILL)
		}
		env.unshare.Process.Kill()
		env.unshare.Wait()
	}
	for _, cg := range env.cgroups {
		removeCgroup(cg)
	}
	if env.logPipe != nil {
		env.logPipe.Close()
		<-env.logDone
	}
}

// lockedWriter serializes writes to the log file.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// removeCgroup removes a cgroup and its children, deepest first, waiting for them to empty.
func removeCgroup(dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if err := os.Remove(dirs[i]); err == nil || os.IsNotExist(err) || time.Now().After(deadline) {
				break
			}
		}
	}
}

// Log is what systemd and its generators logged.
func (env *systemdEnv) Log() string {
	env.logMu.Lock()
	defer env.logMu.Unlock()
	b, _ := os.ReadFile(env.logPath)
	return string(b)
}

// WriteUnit puts a unit file where systemd looks for units.
func (env *systemdEnv) WriteUnit(name, text string) {
	env.t.Helper()
	if err := os.WriteFile(filepath.Join(env.UnitDir, name), []byte(text), 0o644); err != nil {
		env.t.Fatal(err)
	}
}

// Systemctl runs systemctl against the private systemd and returns its output and error.
func (env *systemdEnv) Systemctl(args ...string) (string, error) {
	cmd := exec.Command(env.nsPrefix[0], append(append(env.nsPrefix[1:], "systemctl"), args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// MustSystemctl runs systemctl and fails the test if it fails.
func (env *systemdEnv) MustSystemctl(args ...string) string {
	env.t.Helper()
	out, err := env.Systemctl(args...)
	if err != nil {
		env.t.Fatalf("systemctl %s: %v\n%s\nsystemd log:\n%s", strings.Join(args, " "), err, out, env.Log())
	}
	return out
}

// Show returns one property of a unit.
func (env *systemdEnv) Show(unit, prop string) string {
	env.t.Helper()
	return strings.TrimSpace(env.MustSystemctl("show", "-p", prop, "--value", unit))
}

// Inside returns a berth that runs in systemd's namespaces, where its containers live. Its
// containers are removed from in there before systemd goes: outside, their monitors' pids
// (numbers of systemd's PID namespace) would look like unrelated processes of the host.
func (env *systemdEnv) Inside(b *Berth) *Berth {
	in := *b
	in.Prefix = env.nsPrefix
	env.t.Cleanup(func() { in.Cmd("rm", "-af").Run() })
	return &in
}
