package tests

import (
	"strings"
	"testing"
)

// Podman's command-line additions (its system tests use them in every setup and teardown).

func TestRemoveIgnoreTimeDepend(t *testing.T) {
	b := withImage(t)
	b.Run("rm", "-t", "0", "--all", "--force", "--ignore").WantSuccess(t)
	wantFailure(t, b.Run("rm", "nosuch"), "nosuch")
	if out := b.Run("rm", "--ignore", "nosuch").WantSuccess(t).Stdout; out != "" {
		t.Errorf("rm --ignore of a missing container printed %q", out)
	}
	b.Run("rm", "-f", "nosuch").WantSuccess(t) // as docker rm -f

	// -t N with -f stops with the stop signal first: the container's TERM trap runs.
	id := strings.TrimSpace(b.Run("run", "-d", "localhost/bb:1", "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done").WantSuccess(t).Stdout)
	if out := b.Run("rm", "-t", "5", "-f", id).WantSuccess(t).Stdout; out != id+"\n" {
		t.Errorf("rm -t 5 -f printed %q", out)
	}
	b.Run("rm", "-t", "x", "nosuch").WantError(t, 125, "invalid argument \"x\"")

	// A container that joins another's network namespace depends on it.
	base := strings.TrimSpace(b.Run("create", "localhost/bb:1", "true").WantSuccess(t).Stdout)
	dep := strings.TrimSpace(b.Run("create", "--network", "container:"+base, "localhost/bb:1", "true").WantSuccess(t).Stdout)
	wantFailure(t, b.Run("rm", base), "container "+base+" has dependent containers which must be removed before it: "+dep)
	b.Run("inspect", base).WantSuccess(t) // refused, nothing lost
	out := b.Run("rm", "--depend", base).WantSuccess(t).Stdout
	if out != dep+"\n"+base+"\n" {
		t.Errorf("rm --depend printed %q, want the dependent then the container", out)
	}
	if out := b.Run("ps", "-aq", "--external").WantSuccess(t).Stdout; out != "" {
		t.Errorf("containers left: %q", out)
	}
}

// wantFailure checks a refused command: a non-zero exit (the exit-code table decides which) and
// one error line containing msg.
func wantFailure(t *testing.T, r *Result, msg string) {
	t.Helper()
	if r.Code == 0 || !strings.Contains(r.Stderr, msg) || strings.Count(strings.TrimSpace(r.Stderr), "\n") > 0 {
		t.Fatalf("berth %s: exit %d, stderr %q; want a failure saying %q", strings.Join(r.Args, " "), r.Code, r.Stderr, msg)
	}
}
