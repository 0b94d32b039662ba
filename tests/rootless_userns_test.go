package tests

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRootlessKeepID: with --userns=keep-id the user's own uid runs the container, files the
// user owns are theirs inside, and what the container writes stays the user's on the host.
func TestRootlessKeepID(t *testing.T) {
	b := rootlessWithImage(t)
	u, _ := user.Lookup(rootlessUser)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	data := filepath.Join(filepath.Dir(b.Root), "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "mine"), []byte("mine\n"), 0o644)
	os.Chown(data, uid, gid)
	os.Chown(filepath.Join(data, "mine"), uid, gid)

	script := "id -u; id -g; stat -c %u:%g /data/mine; cat /data/mine; echo new > /data/new"
	r := b.Run("run", "--rm", "--userns=keep-id", "-v", data+":/data", "localhost/bb:1", "sh", "-c", script).WantSuccess(t)
	want := u.Uid + "\n" + u.Gid + "\n" + u.Uid + ":" + u.Gid + "\nmine\n"
	if r.Stdout != want {
		t.Errorf("keep-id container says %q, want %q", r.Stdout, want)
	}
	if st := mustStat(t, filepath.Join(data, "new")); st.uid != uid || st.gid != gid {
		t.Errorf("a file the keep-id container wrote belongs to %d:%d on the host, want %d:%d", st.uid, st.gid, uid, gid)
	}
	// uid= and gid= pick the ids the user has inside; --user still wins.
	r = b.Run("run", "--rm", "--userns=keep-id:uid=1000,gid=1000", "-v", data+":/data", "localhost/bb:1", "sh", "-c", "id -u; stat -c %u /data/mine").WantSuccess(t)
	if r.Stdout != "1000\n1000\n" {
		t.Errorf("keep-id:uid=1000 says %q", r.Stdout)
	}
	if r = b.Run("run", "--rm", "--userns=keep-id", "--user", "0", "localhost/bb:1", "id", "-u").WantSuccess(t); r.Stdout != "0\n" {
		t.Errorf("keep-id --user 0 says %q", r.Stdout)
	}
	// The default: the user is root inside, and still owns what root writes.
	r = b.Run("run", "--rm", "-v", data+":/data", "localhost/bb:1", "sh", "-c", "id -u; stat -c %u /data/mine; echo root > /data/byroot").WantSuccess(t)
	if r.Stdout != "0\n0\n" {
		t.Errorf("default userns says %q", r.Stdout)
	}
	if st := mustStat(t, filepath.Join(data, "byroot")); st.uid != uid {
		t.Errorf("a file the default container wrote belongs to %d on the host, want %d", st.uid, uid)
	}
	// Create keeps the mode for each start.
	id := strings.TrimSpace(b.Run("create", "--userns=keep-id", "localhost/bb:1", "id", "-u").WantSuccess(t).Stdout)
	if r = b.Run("start", "-a", id).WantSuccess(t); r.Stdout != u.Uid+"\n" {
		t.Errorf("created keep-id container says %q", r.Stdout)
	}
	b.Run("rm", id).WantSuccess(t)

	// A build's RUN steps take the mode too.
	df := "FROM localhost/bb:1\nRUN id -u > /built-by\nCMD cat /built-by\n"
	b.RunStdin([]byte(df), "build", "-q", "--userns=keep-id", "-t", "localhost/keepid-built", "-").WantSuccess(t)
	if r = b.Run("run", "--rm", "localhost/keepid-built").WantSuccess(t); r.Stdout != u.Uid+"\n" {
		t.Errorf("RUN under build --userns=keep-id ran as %q, want %s", r.Stdout, u.Uid)
	}
	b.RunStdin([]byte(df), "build", "-q", "--userns=nomap", "-").
		WantError(t, 1, "Error: build --userns=nomap is not supported for RUN steps (their layers would record shifted owners): use --userns=keep-id or host")
	b.RunStdin([]byte(df), "build", "-q", "--userns=keep-id:x=1", "-").
		WantError(t, 1, `Error: invalid --userns "keep-id:x=1": unknown option "x=1"`)
	b.Run("run", "--rm", "--userns=keep-id:size=3", "localhost/bb:1", "true").
		WantError(t, 125, `Error: invalid --userns "keep-id:size=3": unknown option "size=3"`)
	b.Run("run", "--rm", "--userns=auto", "--uidmap", "0:1:10", "localhost/bb:1", "true").
		WantError(t, 125, "Error: --userns=auto and --uidmap/--gidmap cannot be combined")
	b.Run("run", "--rm", "--uidmap", "0:1:70000", "localhost/bb:1", "true").
		WantError(t, 125, "Error: id map 0:1:70000: a rootless user has ids 0 to 65536 (0 is the user, then the /etc/subuid and /etc/subgid ranges)")
	// As root keep-id means nothing.
	rb := withImage(t)
	rb.Run("run", "--rm", "--userns=keep-id", "localhost/bb:1", "true").
		WantError(t, 125, "Error: --userns=keep-id is only supported rootless")
	// Root maps a container's ids onto host ids; its files keep their owners inside.
	r = rb.Run("run", "--rm", "--network", "none", "--uidmap", "0:200000:65536", "localhost/bb:1", "sh", "-c",
		"head -1 /proc/self/uid_map | tr -s ' ' | sed 's/^ //'; stat -c %u:%g /app/hello; touch /etc/new && echo wrote").WantSuccess(t)
	if r.Stdout != "0 200000 65536\n1000:1000\nwrote\n" {
		t.Errorf("root --uidmap: %q", r.Stdout)
	}
	rb.Run("run", "--rm", "--uidmap", "0:200000:65536", "localhost/bb:1", "true").
		WantError(t, 125, "Error: --userns and --uidmap/--gidmap cannot be combined with joining the network namespace of a network, container or pod")
}

// TestRootlessLimits: without a delegated cgroup a rootless run says once that its limits
// are ignored, and runs.
func TestRootlessLimits(t *testing.T) {
	b := rootlessWithImage(t)
	r := b.Run("run", "--rm", "-m", "64m", "--pids-limit", "50", "localhost/bb:1", "echo", "ran").WantExit(t, 0)
	if r.Stdout != "ran\n" {
		t.Errorf("stdout %q", r.Stdout)
	}
	if r.Stderr != "" { // else this host delegates a cgroup v2 subtree to the user
		if n := strings.Count(r.Stderr, "\n"); n != 1 || !strings.Contains(r.Stderr, "resource limits --memory, --pids-limit are ignored: rootless berth runs in no delegated cgroup v2 subtree") {
			t.Errorf("want one warning, got %q", r.Stderr)
		}
	}
	b.Run("run", "--rm", "localhost/bb:1", "true").WantSuccess(t) // no limits: no warning
}

// TestRootlessUserNSModes: --userns=nomap and auto and --uidmap leave the user unmapped; the
// image's files still show their owners inside, and the container's root can write them.
func TestRootlessUserNSModes(t *testing.T) {
	b := rootlessWithImage(t)
	script := "head -1 /proc/self/uid_map | tr -s ' ' | sed 's/^ //'; id -u; stat -c %u:%g /bin/busybox /app/hello; touch /etc/new && echo wrote"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--userns=nomap"}, "0 1 65536\n0\n0:0\n1000:1000\nwrote\n"},
		{[]string{"--uidmap", "0:1:2000"}, "0 1 2000\n0\n0:0\n1000:1000\nwrote\n"},
	} {
		r := b.Run(append(append([]string{"run", "--rm"}, c.args...), "localhost/bb:1", "sh", "-c", script)...).WantSuccess(t)
		if r.Stdout != c.want {
			t.Errorf("%v: %q, want %q", c.args, r.Stdout, c.want)
		}
	}
	// Two auto containers get ranges apart, each of the size asked for.
	var starts []string
	for i := 0; i < 2; i++ {
		id := strings.TrimSpace(b.Run("create", "--userns=auto:size=2000", "localhost/bb:1", "sh", "-c", script).WantSuccess(t).Stdout)
		r := b.Run("start", "-a", id).WantSuccess(t)
		f := strings.Fields(r.Stdout)
		if len(f) < 3 || f[0] != "0" || f[2] != "2000" || !strings.HasSuffix(r.Stdout, "0\n0:0\n1000:1000\nwrote\n") {
			t.Fatalf("auto container %d: %q", i, r.Stdout)
		}
		starts = append(starts, f[1])
	}
	if starts[0] == starts[1] {
		t.Errorf("two auto containers share the range at %s", starts[0])
	}
}
