package tests

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunOptions(t *testing.T) {
	b := withImage(t)
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		return b.Run(append([]string{"run", "--rm"}, args...)...).WantSuccess(t).Stdout
	}
	// Capabilities, privileges, no_new_privs, seccomp.
	if got := run("--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "localhost/bb:1", "grep", "CapEff", "/proc/self/status"); !strings.Contains(got, "0000000000001000") {
		t.Errorf("--cap-drop ALL --cap-add NET_ADMIN: %q", got)
	}
	var bnd string // --privileged gets every capability we have
	for _, l := range strings.Split(string(must(os.ReadFile("/proc/self/status"))), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "CapBnd:" {
			bnd = f[1]
		}
	}
	if got := run("--privileged", "localhost/bb:1", "grep", "CapEff", "/proc/self/status"); !strings.Contains(got, bnd) {
		t.Errorf("--privileged: %q, want %s", got, bnd)
	}
	if got := run("--security-opt", "no-new-privileges", "localhost/bb:1", "grep", "NoNewPrivs", "/proc/self/status"); !strings.Contains(got, "1") {
		t.Errorf("no-new-privileges: %q", got)
	}
	if got := run("localhost/bb:1", "grep", "Seccomp:", "/proc/self/status"); !strings.Contains(got, "2") {
		t.Errorf("default seccomp filter missing: %q", got)
	}
	if got := run("--security-opt", "seccomp=unconfined", "localhost/bb:1", "grep", "Seccomp:", "/proc/self/status"); !strings.Contains(got, "0") {
		t.Errorf("seccomp=unconfined: %q", got)
	}
	profile := filepath.Join(dir, "deny-mkdir.json")
	os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
	b.Run("run", "--rm", "--security-opt", "seccomp="+profile, "localhost/bb:1", "mkdir", "/x").WantExit(t, 1)
	b.Run("run", "--rm", "--security-opt", "seccomp="+filepath.Join(dir, "none.json"), "localhost/bb:1", "true").WantError(t, 125, "seccomp profile")
	b.Run("run", "--rm", "--security-opt", "bogus", "localhost/bb:1", "true").WantError(t, 125, "--security-opt")
	b.Run("run", "--rm", "--cap-add", "NOT_A_CAP", "localhost/bb:1", "true").WantError(t, 125, "unknown capability")
	// Limits.
	if got := run("--ulimit", "nofile=512:1024", "localhost/bb:1", "sh", "-c", "ulimit -n; ulimit -Hn"); got != "512\n1024\n" {
		t.Errorf("--ulimit: %q", got)
	}
	b.Run("run", "--ulimit", "nofile=x", "localhost/bb:1", "true").WantError(t, 125, "invalid ulimit")
	if got := run("--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "50", "-m", "64m", "localhost/bb:1", "sh", "-c",
		"cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null | head -1"); got != "50\n" {
		t.Logf("pids.max inside: %q (the cgroup may not be visible in this hierarchy)", got)
	}
	b.Run("run", "--cpus", "-1", "localhost/bb:1", "true").WantError(t, 125, "--cpus")
	// Devices and init.
	if got := run("--device", "/dev/null:/dev/mynull", "localhost/bb:1", "sh", "-c", "echo x > /dev/mynull && echo ok"); got != "ok\n" {
		t.Errorf("--device: %q", got)
	}
	b.Run("run", "--device", "/nonexistent", "localhost/bb:1", "true").WantError(t, 125, "/nonexistent")
	if got := run("--init", "localhost/bb:1", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"); !strings.HasPrefix(got, "/run/berth-init") {
		t.Errorf("--init: pid 1 is %q", got)
	}
	// Environment files, labels, cidfile, read-only root.
	envFile := filepath.Join(dir, "env")
	os.WriteFile(envFile, []byte("# comment\nA=1\nB=two words\n"), 0o644)
	if got := run("--env-file", envFile, "-e", "A=3", "localhost/bb:1", "sh", "-c", "echo $A $B"); got != "3 two words\n" {
		t.Errorf("--env-file: %q", got)
	}
	b.Run("run", "--env-file", filepath.Join(dir, "nosuch"), "localhost/bb:1", "true").WantError(t, 125, "env file")
	cid := filepath.Join(dir, "cid")
	b.Run("run", "-d", "--cidfile", cid, "-l", "tier=web", "--name", "labelled", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	if id, _ := os.ReadFile(cid); len(id) != 64 {
		t.Errorf("--cidfile: %q", id)
	}
	b.Run("run", "--cidfile", cid, "localhost/bb:1", "true").WantError(t, 125, "container ID file found")
	b.Run("run", "--rm", "--read-only", "localhost/bb:1", "touch", "/x").WantExit(t, 1)
	// --pull never with a missing image, a bad --pull, --runtime runc, a missing runtime.
	b.Run("run", "--pull", "never", "localhost/missing:1", "true").WantError(t, 125, "localhost/missing:1")
	b.Run("run", "--pull", "sometimes", "localhost/bb:1", "true").WantError(t, 125, "--pull")
	if _, err := exec.LookPath("runc"); err == nil {
		if got := run("--runtime", "runc", "localhost/bb:1", "echo", "via runc"); got != "via runc\n" {
			t.Errorf("--runtime runc: %q", got)
		}
	}
	b.Run("run", "--runtime", "nosuchruntime", "localhost/bb:1", "true").WantError(t, 125, "nosuchruntime")
	b.Run("rm", "-f", "labelled").WantSuccess(t)
}

func TestVolumesAndMounts(t *testing.T) {
	b := withImage(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "f"), []byte("from host\n"), 0o644)
	if got := b.Run("run", "--rm", "-v", host+":/data:ro", "localhost/bb:1", "cat", "/data/f").WantSuccess(t).Stdout; got != "from host\n" {
		t.Errorf("bind: %q", got)
	}
	b.Run("run", "--rm", "-v", host+":/data:ro", "localhost/bb:1", "touch", "/data/g").WantExit(t, 1)
	b.Run("run", "--rm", "--mount", "type=bind,source="+host+",target=/data", "localhost/bb:1", "touch", "/data/g").WantSuccess(t)
	if _, err := os.Stat(filepath.Join(host, "g")); err != nil {
		t.Errorf("bind rw: %v", err)
	}
	// A new named volume is seeded from the image's content at its mount point and keeps data.
	b.Run("run", "--rm", "-v", "etcvol:/etc", "localhost/bb:1", "sh", "-c", "test -f /etc/passwd && echo kept > /etc/mine").WantSuccess(t)
	if got := b.Run("run", "--rm", "-v", "etcvol:/mnt", "localhost/bb:1", "cat", "/mnt/mine").WantSuccess(t).Stdout; got != "kept\n" {
		t.Errorf("named volume: %q", got)
	}
	if got := b.Run("volume", "ls", "-q").Stdout; got != "etcvol\n" {
		t.Errorf("volume ls: %q", got)
	}
	mp := strings.TrimSpace(b.Run("volume", "inspect", "-f", "{{.Mountpoint}}", "etcvol").WantSuccess(t).Stdout)
	if _, err := os.Stat(filepath.Join(mp, "passwd")); err != nil {
		t.Errorf("volume not seeded: %v", err)
	}
	// tmpfs mounts.
	if got := b.Run("run", "--rm", "--tmpfs", "/scratch:size=1m", "--mount", "type=tmpfs,target=/t2", "localhost/bb:1", "sh", "-c",
		"grep -c ' /scratch tmpfs\\| /t2 tmpfs' /proc/mounts").Stdout; got != "2\n" {
		t.Errorf("tmpfs mounts: %q", got)
	}
	// Anonymous volumes go with rm -v; named ones stay; a used volume cannot be removed.
	b.Run("create", "--name", "anon", "-v", "/cache", "-v", "etcvol:/e", "localhost/bb:1", "true").WantSuccess(t)
	if n := len(strings.Fields(b.Run("volume", "ls", "-q").Stdout)); n != 2 {
		t.Errorf("want 2 volumes, got %d", n)
	}
	b.Run("volume", "rm", "etcvol").WantError(t, 2, "in use")
	b.Run("rm", "-v", "anon").WantSuccess(t)
	if got := b.Run("volume", "ls", "-q").Stdout; got != "etcvol\n" {
		t.Errorf("after rm -v: %q", got)
	}
	b.Run("volume", "create", "--label", "k=v", "made").WantSuccess(t)
	if got := b.Run("volume", "create", "made").WantSuccess(t).Stdout; got != "made\n" {
		t.Errorf("volume create of an existing name printed %q, want its name", got)
	}
	if got := b.Run("volume", "ls", "-q", "--filter", "label=k=v").Stdout; got != "made\n" {
		t.Errorf("volume ls --filter: %q", got)
	}
	b.Run("volume", "prune", "-a", "-f").WantSuccess(t)
	if got := b.Run("volume", "ls", "-q").Stdout; got != "" {
		t.Errorf("after prune -a: %q", got)
	}
	b.Run("volume", "inspect", "gone").WantError(t, 1, "no such volume")
	for _, bad := range []string{"relative:path", "a:b:c:d", "/src:/dst:bogus"} {
		b.Run("run", "-v", bad, "localhost/bb:1", "true").WantError(t, 125, "invalid")
	}
	b.Run("run", "--mount", "type=nfs,target=/x", "localhost/bb:1", "true").WantError(t, 125, "type must be")
	b.Run("run", "--mount", "type=bind,target=/x", "localhost/bb:1", "true").WantError(t, 125, "needs a source")
}

func TestContainerInspection(t *testing.T) {
	b := withImage(t)
	beforeSvc := time.Now().UTC().Add(-time.Second)
	b.Run("run", "-d", "--name", "svc", "-l", "app=a", "--restart", "on-failure:3", "-e", "K=V", "localhost/bb:1",
		"sh", "-c", "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; sleep 100").WantSuccess(t)
	b.Run("run", "--name", "done", "localhost/bb:1", "sh", "-c", "exit 2").WantExit(t, 2)
	eventually(t, "logs", func() bool { return strings.Count(b.Run("logs", "svc").Stdout, "\n") == 2 })
	var j []map[string]any
	if err := json.Unmarshal([]byte(b.Run("inspect", "svc").WantSuccess(t).Stdout), &j); err != nil || len(j) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	state := j[0]["State"].(map[string]any)
	hc := j[0]["HostConfig"].(map[string]any)
	if j[0]["Name"] != "/svc" || state["Running"] != true || hc["RestartPolicy"].(map[string]any)["Name"] != "on-failure" {
		t.Errorf("inspect: %v", j[0])
	}
	if got := b.Run("inspect", "-f", "{{.Config.Labels.app}} {{.State.Status}}", "svc").Stdout; got != "a running\n" {
		t.Errorf("inspect -f: %q", got)
	}
	if got := b.Run("container", "inspect", "-f", "{{.State.ExitCode}}", "done").Stdout; got != "2\n" {
		t.Errorf("exit code: %q", got)
	}
	b.Run("inspect", "nosuch").WantError(t, 1, "no such object")
	if got := b.Run("inspect", "--type", "image", "-f", "{{.Id}}", "localhost/bb:1").WantSuccess(t).Stdout; !strings.HasPrefix(got, "sha256:") {
		t.Errorf("inspect image: %q", got)
	}
	// logs options.
	if r := b.Run("logs", "--tail", "1", "svc"); r.Stdout != "three\n" {
		t.Errorf("--tail 1: %q", r.Stdout)
	}
	if r := b.Run("logs", "svc"); r.Stderr != "two\n" {
		t.Errorf("stderr in logs: %q", r.Stderr)
	}
	if r := b.Run("logs", "-t", "svc"); !strings.HasPrefix(r.Stdout, time.Now().UTC().Format("2006-01-02T")) {
		t.Errorf("logs -t: %q", r.Stdout)
	}
	if r := b.Run("logs", "--since", "1h", "--until", beforeSvc.Format(time.RFC3339), "svc"); r.Stdout != "" {
		t.Errorf("--until before the start still shows %q", r.Stdout)
	}
	b.Run("logs", "--since", "yesterday-ish", "svc").WantError(t, 1, "--since")
	b.Run("run", "--rm", "--log-driver", "bogus", "localhost/bb:1", "true").WantError(t, 125, "log-driver")
	b.Run("run", "--name", "quiet", "--log-driver", "none", "localhost/bb:1", "echo", "hi").WantSuccess(t)
	b.Run("logs", "quiet").WantError(t, 1, "does not support reading")
	b.Run("run", "--name", "js", "--log-driver", "json-file", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "localhost/bb:1",
		"sh", "-c", "for i in $(seq 200); do echo line-$i; done").WantSuccess(t)
	if got := b.Run("logs", "--tail", "2", "js").Stdout; got != "line-199\nline-200\n" {
		t.Errorf("json-file logs: %q", got)
	}
	b.Run("run", "--log-opt", "color=red", "localhost/bb:1", "true").WantError(t, 125, "--log-opt")
	// ps: filters, -n, -s, formats.
	ps := func(args ...string) string { return b.Run(append([]string{"ps"}, args...)...).WantSuccess(t).Stdout }
	if got := ps("-a", "--filter", "status=exited", "--filter", "exited=2", "--format", "{{.Names}}"); got != "done\n" {
		t.Errorf("filter exited=2: %q", got)
	}
	if got := ps("--filter", "label=app=a", "--format", "{{.Names}}"); got != "svc\n" {
		t.Errorf("filter label: %q", got)
	}
	if got := ps("-a", "--filter", "ancestor=localhost/bb:1", "-q"); len(strings.Fields(got)) != 4 {
		t.Errorf("filter ancestor: %q", got)
	}
	if got := ps("-a", "--filter", "name=sv", "--filter", "name=don", "--format", "{{.Names}}"); got != "done\nsvc\n" && got != "svc\ndone\n" {
		t.Errorf("two name filters: %q", got)
	}
	if got := ps("-n", "2", "--format", "{{.Names}}"); got != "js\nquiet\n" {
		t.Errorf("-n 2: %q", got)
	}
	if got := ps("-l", "--format", "{{.Names}}"); got != "js\n" {
		t.Errorf("-l: %q", got)
	}
	if got := ps("-s", "--filter", "name=svc"); !strings.Contains(got, "SIZE") || !strings.Contains(got, "virtual") {
		t.Errorf("-s: %q", got)
	}
	lines := strings.Split(strings.TrimSpace(ps("-a", "--format", "json")), "\n") // one object a line, as Docker
	for _, l := range lines {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err != nil || row["Names"] == nil {
			t.Errorf("--format json line %q: %v", l, err)
		}
	}
	if len(lines) != 4 {
		t.Errorf("--format json: %d lines", len(lines))
	}
	b.Run("ps", "--filter", "color=red").WantError(t, 1, "invalid filter")
	b.Run("ps", "--filter", "status=sleeping").WantError(t, 1, "invalid filter")
	// top, stats, port.
	if got := b.Run("top", "svc").WantSuccess(t).Stdout; !strings.Contains(got, "PID") || !strings.Contains(got, "sleep 100") {
		t.Errorf("top: %q", got)
	}
	if got := b.Run("top", "svc", "-o", "pid,comm").WantSuccess(t).Stdout; !strings.Contains(got, "COMMAND") || !strings.Contains(got, "sleep") {
		t.Errorf("top -o: %q", got)
	}
	b.Run("top", "done").WantError(t, 1, "is not running")
	if got := b.Run("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "svc").WantSuccess(t).Stdout; got != "svc 1\n" {
		t.Errorf("stats: %q", got)
	}
	if got := b.Run("stats", "--no-stream", "svc").Stdout; !strings.Contains(got, "MEM USAGE / LIMIT") || !strings.Contains(got, "%") {
		t.Errorf("stats table: %q", got)
	}
	b.Run("stats", "--no-stream", "done").WantError(t, 1, "is not running")
	if got := b.Run("port", "svc").WantSuccess(t).Stdout; got != "" {
		t.Errorf("port: %q", got)
	}
	b.Run("rm", "-f", "-a").WantSuccess(t)
	if got := ps("-aq"); got != "" {
		t.Errorf("rm -a left %q", got)
	}
}

func TestContainerStateChanges(t *testing.T) {
	b := withImage(t)
	b.Run("run", "-d", "--name", "p", "--stop-signal", "USR1", "--stop-timeout", "1", "localhost/bb:1",
		"sh", "-c", "trap 'echo got usr1; exit 0' USR1; while :; do sleep 0.1; done").WantSuccess(t)
	b.Run("pause", "p").WantSuccess(t)
	if got := b.Run("ps", "--format", "{{.State}} {{.Status}}").Stdout; !strings.HasPrefix(got, "paused Up") || !strings.Contains(got, "(Paused)") {
		t.Errorf("paused: %q", got)
	}
	b.Run("pause", "p").WantError(t, 1, "not running")
	b.Run("exec", "p", "true").WantError(t, 1, "paused")
	b.Run("unpause", "p").WantSuccess(t)
	b.Run("unpause", "p").WantError(t, 1, "not paused")
	b.Run("stop", "p").WantSuccess(t)
	eventually(t, "the stop signal's output", func() bool { return strings.Contains(b.Run("logs", "p").Stdout, "got usr1") })
	if got := b.Run("inspect", "-f", "{{.State.ExitCode}}", "p").Stdout; got != "0\n" {
		t.Errorf("--stop-signal USR1 exit: %q", got)
	}
	b.Run("restart", "p").WantSuccess(t)
	if got := b.Run("inspect", "-f", "{{.State.Status}}", "p").Stdout; got != "running\n" {
		t.Errorf("restart: %q", got)
	}
	b.Run("rename", "p", "q").WantSuccess(t)
	b.Run("run", "-d", "--name", "p", "localhost/bb:1", "true").WantSuccess(t) // the old name is free
	b.Run("rename", "q", "p").WantError(t, 1, "already in use")
	b.Run("rename", "q", "bad/name").WantError(t, 1, "invalid container name")
	b.Run("kill", "-s", "NOSUCHSIG", "q").WantError(t, 1, "unknown signal")
	b.Run("kill", "-s", "USR1", "q").WantSuccess(t)
	b.Run("wait", "q").WantSuccess(t)
	b.Run("wait", "p").WantSuccess(t)
	// Docker's shape: the header, the two IDs, a blank line and the total.
	if got := b.Run("container", "prune", "-f").WantSuccess(t).Stdout; strings.Count(got, "\n") != 5 || !strings.HasPrefix(got, "Deleted Containers:\n") || !strings.Contains(got, "\n\nTotal reclaimed space: ") {
		t.Errorf("container prune: %q", got)
	}
	if got := b.Run("ps", "-aq").Stdout; got != "" {
		t.Errorf("after prune: %q", got)
	}
	b.Run("stop", "nosuch").WantError(t, 1, "no such container")
}

func TestContainerFiles(t *testing.T) {
	b := withImage(t)
	b.Run("run", "-d", "--name", "fs", "localhost/bb:1", "sh", "-c",
		"mkdir -p /srv/d && echo inside > /srv/d/f && echo new > /added && rm /etc/group && sleep 100").WantSuccess(t)
	eventually(t, "the files", func() bool { return b.Run("exec", "fs", "test", "-f", "/added").Code == 0 })
	host := t.TempDir()
	// Out of the container: a directory into an existing directory, a file to a new name.
	b.Run("cp", "fs:/srv/d", host).WantSuccess(t)
	if got, _ := os.ReadFile(filepath.Join(host, "d", "f")); string(got) != "inside\n" {
		t.Errorf("cp dir out: %q", got)
	}
	b.Run("cp", "fs:/srv/d/f", filepath.Join(host, "copy")).WantSuccess(t)
	if got, _ := os.ReadFile(filepath.Join(host, "copy")); string(got) != "inside\n" {
		t.Errorf("cp file out: %q", got)
	}
	r := b.Run("cp", "fs:/srv/d", "-").WantSuccess(t)
	names := tarNames(t, r.Stdout)
	if !strings.Contains(names, "d/f") {
		t.Errorf("cp to -: %s", names)
	}
	// Into the container, and an escape attempt stays inside.
	os.WriteFile(filepath.Join(host, "in"), []byte("to container\n"), 0o644)
	b.Run("cp", filepath.Join(host, "in"), "fs:/srv/").WantSuccess(t)
	if got := b.Run("exec", "fs", "cat", "/srv/in").Stdout; got != "to container\n" {
		t.Errorf("cp in: %q", got)
	}
	b.Run("exec", "fs", "ln", "-s", "/../../../../../tmp", "/srv/escape").WantSuccess(t)
	b.Run("cp", filepath.Join(host, "in"), "fs:/srv/escape/").WantSuccess(t)
	if got := b.Run("exec", "fs", "cat", "/tmp/in").Stdout; got != "to container\n" {
		t.Errorf("cp through a symlink left the container's root: %q", got)
	}
	b.Run("cp", "fs:/nosuch", host).WantError(t, 1, "could not be found on container")
	b.Run("cp", host, host).WantError(t, 1, "container")
	// diff, export, commit.
	diff := b.Run("diff", "fs").WantSuccess(t).Stdout
	for _, want := range []string{"A /added", "D /etc/group", "C /srv", "A /srv/d/f"} {
		if !strings.Contains(diff, want+"\n") && !(want == "C /srv" && strings.Contains(diff, "A /srv\n")) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	exp := b.Run("export", "fs").WantSuccess(t).Stdout
	if names := tarNames(t, exp); !strings.Contains(names, "added") || !strings.Contains(names, "bin/busybox") {
		t.Errorf("export: %.200s", names)
	}
	out := filepath.Join(host, "fs.tar")
	b.Run("export", "-o", out, "fs").WantSuccess(t)
	if fi, err := os.Stat(out); err != nil || fi.Size() < 100000 {
		t.Errorf("export -o: %v", err)
	}
	id := strings.TrimSpace(b.Run("commit", "-c", "CMD cat /added", "-m", "snap", "fs", "localhost/snap:1").WantSuccess(t).Stdout)
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("commit printed %q", id)
	}
	if got := b.Run("run", "--rm", "localhost/snap:1").WantSuccess(t).Stdout; got != "new\n" {
		t.Errorf("committed image: %q", got)
	}
	b.Run("commit", "-c", "BOGUS x", "fs", "localhost/snap:2").WantError(t, 1, "BOGUS")
	b.Run("rm", "-f", "fs").WantSuccess(t)
}

func tarNames(t *testing.T, data string) string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader([]byte(data)))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, " ")
}

// TestReboot: with every monitor killed and the runtime root gone, as after a reboot, nothing
// shows as running and everything starts again.
func TestReboot(t *testing.T) {
	b := withImage(t)
	b.Run("run", "-d", "--name", "r1", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	b.Run("run", "-d", "--name", "r2", "--restart", "always", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	for _, n := range []string{"r1", "r2"} {
		id := strings.TrimSpace(b.Run("inspect", "-f", "{{.Id}}", n).Stdout)
		pid := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(b.RunRoot, "containers", id, "monitor.pid")))))
		ctr := strings.TrimSpace(b.Run("inspect", "-f", "{{.State.Pid}}", n).Stdout)
		p, _ := strconv.Atoi(pid)
		c, _ := strconv.Atoi(ctr)
		syscall.Kill(p, syscall.SIGKILL)
		syscall.Kill(c, syscall.SIGKILL)
	}
	time.Sleep(200 * time.Millisecond)
	// The kernel's mounts go with a reboot; so does the runroot.
	exec.Command("sh", "-c", "grep "+b.Root+" /proc/mounts | cut -d' ' -f2 | xargs -r umount -l").Run()
	os.RemoveAll(b.RunRoot)
	if got := b.Run("ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}").WantSuccess(t).Stdout; strings.Contains(got, "running") || strings.Count(got, "exited") != 2 {
		t.Errorf("after reboot: %q", got)
	}
	b.Run("start", "r1", "r2").WantSuccess(t)
	if got := b.Run("ps", "-q").Stdout; strings.Count(got, "\n") != 2 {
		t.Errorf("restart after reboot: %q", got)
	}
	b.Run("rm", "-f", "r1", "r2").WantSuccess(t)
}
