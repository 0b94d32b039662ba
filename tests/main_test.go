// End-to-end tests: they build bin/berth once and drive it as a user would, against the real
// kernel and a real registry. They need root and Linux, and skip with a reason otherwise.
package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var berthBin string

func TestMain(m *testing.M) {
	if runtime.GOOS != "linux" {
		fmt.Println("skipping end-to-end tests: they need Linux")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "berth-e2e-bin")
	if err != nil {
		panic(err)
	}
	os.Chmod(dir, 0o755) // rootless tests run it as another user
	berthBin = filepath.Join(dir, "berth")
	build := exec.Command("go", "build", "-o", berthBin, "../cmd/berth")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Println("building berth:", err)
		os.Exit(1)
	}
	monitor := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -linkmode external -extldflags -static", "-o", filepath.Join(dir, "berth-monitor"), "../cmd/berth-monitor")
	monitor.Stdout, monitor.Stderr = os.Stdout, os.Stderr
	if err := monitor.Run(); err != nil {
		fmt.Println("building berth-monitor:", err)
		os.Exit(1)
	}
	// Make bin/berth-runtime style invocations possible too.
	os.Symlink(berthBin, filepath.Join(dir, "berth-runtime"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Berth runs the binary against a private root and runroot.
type Berth struct {
	t       testing.TB
	Root    string
	RunRoot string
	Env     []string
	// Prefix wraps the command, e.g. to run as another user.
	Prefix []string
}

// NewBerth gives a test its own --root and --runroot under t.TempDir().
func NewBerth(t testing.TB) *Berth {
	d := t.TempDir()
	b := &Berth{t: t, Root: filepath.Join(d, "root"), RunRoot: filepath.Join(d, "run"),
		Env: []string{"BERTH_AUTH_FILE=" + filepath.Join(d, "auth.json")}}
	// Registered after TempDir, so it runs before the directory is removed: a container's
	// monitor may still be running its cleanup in the root when the test body ends, and
	// `rm -af` waits for it (and releases mounts and network leftovers).
	t.Cleanup(func() {
		if _, err := os.Stat(b.Root); err == nil {
			b.Cmd("rm", "-af").Run()
		}
	})
	return b
}

// Result is one finished berth command.
type Result struct {
	Args           []string
	Stdout, Stderr string
	Code           int
}

// Cmd builds the exec.Cmd for args without running it.
func (b *Berth) Cmd(args ...string) *exec.Cmd {
	full := append([]string{"--root", b.Root, "--runroot", b.RunRoot}, args...)
	var cmd *exec.Cmd
	if len(b.Prefix) > 0 {
		cmd = exec.Command(b.Prefix[0], append(append(b.Prefix[1:], berthBin), full...)...)
	} else {
		cmd = exec.Command(berthBin, full...)
	}
	cmd.Env = append(os.Environ(), b.Env...)
	return cmd
}

// Run runs berth with args and returns what it printed and its exit code.
func (b *Berth) Run(args ...string) *Result {
	return b.RunStdin(nil, args...)
}

// RunStdin runs berth with stdin attached.
func (b *Berth) RunStdin(stdin []byte, args ...string) *Result {
	b.t.Helper()
	cmd := b.Cmd(args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start berth %v: %v", args, err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		<-done
		b.t.Fatalf("berth %v: timed out; stderr: %s", args, errb.String())
	}
	return &Result{Args: args, Stdout: out.String(), Stderr: errb.String(), Code: cmd.ProcessState.ExitCode()}
}

// WantSuccess fails the test unless the command exited 0 with an empty stderr.
func (r *Result) WantSuccess(t testing.TB) *Result {
	t.Helper()
	if r.Code != 0 || r.Stderr != "" {
		t.Fatalf("berth %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// WantExit fails the test unless the command exited with code.
func (r *Result) WantExit(t testing.TB, code int) *Result {
	t.Helper()
	if r.Code != code {
		t.Fatalf("berth %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(r.Args, " "), r.Code, code, r.Stdout, r.Stderr)
	}
	return r
}

// WantError fails unless the command exited with code and stderr contains msg.
func (r *Result) WantError(t testing.TB, code int, msg string) *Result {
	t.Helper()
	r.WantExit(t, code)
	if !strings.Contains(r.Stderr, msg) {
		t.Fatalf("berth %s: stderr %q does not contain %q", strings.Join(r.Args, " "), r.Stderr, msg)
	}
	if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n > 1 && !strings.Contains(r.Stderr, "--help") {
		t.Errorf("berth %s: error is %d lines, want one: %q", strings.Join(r.Args, " "), n+1, r.Stderr)
	}
	return r
}

// RequireRoot skips tests that need root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}
