package tests

import (
	"archive/tar"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/libcontainer/cgroups"
	"github.com/berth-project/berth/tests/fixture"
)

// withHostileImage loads localhost/bb:1 with the busybox applets a hostile root reaches for.
func withHostileImage(t *testing.T) *Berth {
	t.Helper()
	RequireRoot(t)
	var links []fixture.Entry
	for _, a := range []string{"unshare", "mknod", "find", "tty", "nsenter", "umount", "chroot", "xargs", "tr"} {
		links = append(links, fixture.Entry{Name: "bin/" + a, Type: tar.TypeSymlink, Linkname: "busybox"})
	}
	b := NewBerth(t)
	p := filepath.Join(t.TempDir(), "bb.tar")
	if err := fixture.WriteDockerArchive(p, "localhost/bb:1", busyboxImage(t, links)); err != nil {
		t.Fatal(err)
	}
	b.Run("load", "-i", p).WantSuccess(t)
	return b
}

// hostDevices makes device nodes the container is not granted, in a directory the tests bind
// into it: opening one must fail on the device cgroup, not on the filesystem.
func hostDevices(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, dev := range map[string][2]uint32{"loopctl": {10, 237}, "mem": {1, 1}, "loop0": {7, 0}} {
		mode := uint32(unix.S_IFCHR)
		if name == "loop0" {
			mode = unix.S_IFBLK
		}
		if err := unix.Mknod(filepath.Join(dir, name), mode|0o600, int(unix.Mkdev(dev[0], dev[1]))); err != nil {
			t.Skipf("cannot make device nodes here: %v", err)
		}
	}
	return dir
}

// attackScript is what a hostile root tries from inside. Every attempt prints "R <name>
// ALLOWED|DENIED"; writability is probed by opening for append, which changes nothing, so a
// regression cannot damage the host's cgroups. The attempts on the container's own cgroup do
// write (its own pid, a larger limit).
const attackScript = `
mkdir -p /tmp/m
try() { n=$1; shift; if ( "$@" ) >/dev/null 2>&1; then echo "R $n ALLOWED"; else echo "R $n DENIED"; fi; }
# every cgroup file reachable, for writing, and every cgroup to join
w=0; j=0; n=0
for f in $(find /sys/fs/cgroup -type f 2>/dev/null); do
  n=$((n+1))
  if ( exec 3>>"$f" ) 2>/dev/null; then w=$((w+1)); echo "W $f"; fi
done
echo "N cgroup-files $n"
[ $w = 0 ] && echo "R open-any-cgroup-file-for-write DENIED" || echo "R open-any-cgroup-file-for-write ALLOWED"
for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
  [ -e "$d/cgroup.procs" ] && try "join-$(basename $d)" sh -c "echo \$\$ > $d/cgroup.procs"
done
[ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ] && try raise-memory-v1 sh -c 'echo $((96*1024*1024)) > /sys/fs/cgroup/memory/memory.limit_in_bytes'
[ -e /sys/fs/cgroup/memory.max ] && try raise-memory-v2 sh -c 'echo $((96*1024*1024)) > /sys/fs/cgroup/memory.max'
[ -e /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] && try raise-cpu-v1 sh -c 'echo -1 > /sys/fs/cgroup/cpu/cpu.cfs_quota_us'
[ -e /sys/fs/cgroup/cpu.max ] && try raise-cpu-v2 sh -c 'echo max > /sys/fs/cgroup/cpu.max'
try mkdir-cgroup mkdir /sys/fs/cgroup/memory/escape
try remount-cgroup-rw mount -o remount,rw /sys/fs/cgroup
try remount-sys-rw mount -o remount,rw /sys
try mount-cgroup1 mount -t cgroup -o memory cgroup /tmp/m
try mount-cgroup2 mount -t cgroup2 cgroup2 /tmp/m
try mount-tmpfs mount -t tmpfs tmpfs /tmp/m
try mount-proc mount -t proc proc /tmp/m
try umount-masked umount /proc/keys
try unshare-user unshare -U true
try unshare-mount unshare -m true
try unshare-uts unshare -u true
try unshare-net unshare -n true
try unshare-pid unshare -p -f true
try mknod-char mknod /tmp/mem c 1 1
try mknod-block mknod /tmp/loop0 b 7 0
try open-ungranted-char sh -c 'exec 3</hostdevs/loopctl'
try open-ungranted-block sh -c 'exec 3</hostdevs/loop0'
try open-dev-mem sh -c 'exec 3</hostdevs/mem'
try write-sysrq-trigger sh -c 'exec 3>>/proc/sysrq-trigger'
try write-proc-sys sh -c 'exec 3>>/proc/sys/kernel/domainname'
try write-sys sh -c 'exec 3>>/sys/kernel/uevent_helper'
try raise-nofile sh -c 'ulimit -n 1048577'
grep -q ' /proc/keys ' /proc/self/mountinfo && echo "R unmasked-proc-keys DENIED" || echo "R unmasked-proc-keys ALLOWED"
[ "$(cat /proc/keys 2>/dev/null | wc -c)" = 0 ] && echo "R read-proc-keys DENIED" || echo "R read-proc-keys ALLOWED"
[ "$(ls /sys/firmware 2>/dev/null | wc -l)" = 0 ] && echo "R list-sys-firmware DENIED" || echo "R list-sys-firmware ALLOWED"
grep -v ':/$' /proc/self/cgroup | sed 's/^/C /'
`

// attacks runs attackScript and returns each attempt's verdict, the number of cgroup files it
// found, and the output.
func attacks(t *testing.T, b *Berth, extra ...string) (map[string]string, string) {
	t.Helper()
	args := append(append([]string{"run", "--rm", "-v", hostDevices(t) + ":/hostdevs"}, extra...), "localhost/bb:1", "sh", "-c", attackScript)
	r := b.Run(args...)
	if r.Code != 0 {
		t.Fatalf("attack script: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	got := map[string]string{}
	for _, line := range strings.Split(r.Stdout, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "R" {
			got[f[1]] = f[2]
		}
	}
	if !regexp.MustCompile(`N cgroup-files [1-9]`).MatchString(r.Stdout) {
		t.Errorf("the container sees no cgroup files at all:\n%s", r.Stdout)
	}
	return got, r.Stdout
}

// TestConfineHostileRoot: a default container's root tries to leave its cgroup, raise its
// limits, make namespaces, mount, make and open devices, and reach masked or read-only paths.
// Every attempt fails, and the memory limit still holds afterwards.
func TestConfineHostileRoot(t *testing.T) {
	b := withHostileImage(t)
	got, out := attacks(t, b, "-m", "32m", "--cpus", "0.5")
	if strings.Contains(out, "\nW ") || strings.Contains(out, "\nC ") {
		t.Errorf("a default container could open cgroup files for writing or sees a cgroup path that is not /:\n%s", out)
	}
	var allowed []string
	for name, v := range got {
		if v != "DENIED" {
			allowed = append(allowed, name)
		}
	}
	sort.Strings(allowed)
	if len(allowed) > 0 {
		t.Errorf("a default container could: %v\n%s", allowed, out)
	}
	must := []string{"unshare-user", "mount-cgroup1", "mknod-char", "open-ungranted-char", "write-sysrq-trigger", "unmasked-proc-keys"}
	switch cgroups.DetectMode() {
	case cgroups.Unified:
		must = append(must, "join-cgroup", "raise-memory-v2", "raise-cpu-v2")
	default:
		must = append(must, "join-memory", "raise-memory-v1", "raise-cpu-v1")
	}
	for _, m := range must {
		if got[m] != "DENIED" {
			t.Errorf("attack %s was not tried (%q):\n%s", m, got[m], out)
		}
	}
	// The limit holds: a process growing past 32 MiB is killed.
	r := b.Run("run", "--rm", "-m", "32m", "localhost/bb:1", "sh", "-c",
		`echo $$ > /sys/fs/cgroup/memory/cgroup.procs 2>/dev/null; awk 'BEGIN{s="x"; for(;;) s=s s}'; echo "awk $?"`)
	if r.Code != 0 || r.Stdout != "awk 137\n" {
		t.Errorf("growing past -m 32m: exit %d, %q, %q; want awk killed (137)", r.Code, r.Stdout, r.Stderr)
	}
}

// TestConfinePrivileged: the same attempts with --privileged behave as in Docker: the
// container's own cgroup is writable, namespaces, mounts and devices are allowed, nothing is
// masked. (No attempt writes outside the container's own cgroup.)
func TestConfinePrivileged(t *testing.T) {
	b := withHostileImage(t)
	got, out := attacks(t, b, "--privileged", "-m", "64m")
	for _, name := range []string{"open-any-cgroup-file-for-write", "unshare-user", "unshare-mount", "unshare-uts", "mount-tmpfs",
		"mount-proc", "mknod-char", "mknod-block", "open-ungranted-char", "open-ungranted-block", "write-proc-sys", "unmasked-proc-keys"} {
		if got[name] != "ALLOWED" {
			t.Errorf("--privileged: %s is %q, want ALLOWED\n%s", name, got[name], out)
		}
	}
	own := "raise-memory-v1"
	if cgroups.DetectMode() == cgroups.Unified {
		own = "mkdir-cgroup" // nsdelegate keeps the namespace root's own files from it
	}
	if got[own] != "ALLOWED" {
		t.Errorf("--privileged: %s is %q, want ALLOWED (its own cgroup is writable, as in Docker)\n%s", own, got[own], out)
	}
	if strings.Contains(out, "\nC ") {
		t.Errorf("--privileged sees a cgroup path that is not /:\n%s", out)
	}
}

// TestConfineOwnLimits: applications sizing themselves from the cgroup files read the
// container's own -m, --cpus and --pids-limit, and /proc/self/cgroup shows "/" paths; with
// --cgroupns=host the paths are the host's, and the view is still the container's own.
func TestConfineOwnLimits(t *testing.T) {
	b := withHostileImage(t)
	read := `cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/pids/pids.max`
	want := "50331648\n150000\n100000\n77\n"
	if cgroups.DetectMode() == cgroups.Unified {
		read, want = `cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max`, "50331648\n150000 100000\n77\n"
	}
	limits := []string{"-m", "48m", "--cpus", "1.5", "--pids-limit", "77"}
	r := b.Run(append(append([]string{"run", "--rm"}, limits...), "localhost/bb:1", "sh", "-c", read+"; cat /proc/self/cgroup")...).WantSuccess(t)
	if !strings.HasPrefix(r.Stdout, want) {
		t.Errorf("own limits: %q, want %q first", r.Stdout, want)
	}
	for _, line := range strings.Split(strings.TrimSpace(strings.TrimPrefix(r.Stdout, want)), "\n") {
		if !strings.HasSuffix(line, ":/") {
			t.Errorf("/proc/self/cgroup line %q, want the namespace root /", line)
		}
	}
	// exec'd processes see the same.
	id := strings.TrimSpace(b.Run(append(append([]string{"run", "-d"}, limits...), "localhost/bb:1", "sleep", "100")...).WantSuccess(t).Stdout)
	if got := b.Run("exec", id, "sh", "-c", read).WantSuccess(t).Stdout; got != want {
		t.Errorf("exec: own limits %q, want %q", got, want)
	}
	if got := b.Run("exec", id, "grep", "-v", ":/$", "/proc/self/cgroup").Stdout; got != "" {
		t.Errorf("exec: /proc/self/cgroup has paths other than /: %q", got)
	}
	b.Run("rm", "-f", id).WantSuccess(t)
	// --cgroupns=host: the host's paths, the container's own cgroup still shown read-only.
	r = b.Run(append(append([]string{"run", "--rm", "--cgroupns", "host"}, limits...), "localhost/bb:1", "sh", "-c",
		read+"; grep -c /berth/ /proc/self/cgroup; echo $$ > /sys/fs/cgroup/cgroup.procs || echo refused")...)
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, want) || !strings.HasSuffix(r.Stdout, "refused\n") || strings.Contains(r.Stdout, "\n0\n") {
		t.Errorf("--cgroupns host: exit %d, %q, %q", r.Code, r.Stdout, r.Stderr)
	}
	b.Run("run", "--rm", "--cgroupns", "container:x", "localhost/bb:1", "true").
		WantError(t, 125, `invalid --cgroupns "container:x": want host or private`)
	if got := b.Run("ps", "-a", "-q").Stdout; got != "" {
		t.Errorf("a refused run left %q", got)
	}
}

// TestConfineSignals: the container's process starts with every signal at its default and
// none blocked, even when berth itself was started with SIGHUP and SIGINT ignored (nohup),
// so a trap on HUP sees berth kill -s HUP.
func TestConfineSignals(t *testing.T) {
	b := withHostileImage(t)
	const status = `grep -E '^Sig(Ign|Blk)' /proc/self/status`
	want := "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
	if got := b.Run("run", "--rm", "localhost/bb:1", "sh", "-c", "exec "+status).WantSuccess(t).Stdout; got != want {
		t.Errorf("run: %q, want %q", got, want)
	}
	// Through runc as well: the monitor must not hand it the SIGHUP it ignores itself.
	if _, err := exec.LookPath("runc"); err == nil {
		if got := b.Run("run", "--rm", "--runtime", "runc", "localhost/bb:1", "sh", "-c", "exec "+status).WantSuccess(t).Stdout; got != want {
			t.Errorf("run --runtime runc: %q, want %q", got, want)
		}
	}
	cmd := b.Cmd("run", "--rm", "localhost/bb:1", "sh", "-c", "exec "+status)
	cmd.Args = append([]string{"sh", "-c", `trap "" HUP INT; exec "$@"`, "sh"}, cmd.Args...)
	cmd.Path = "/bin/sh"
	if out, err := cmd.Output(); err != nil || string(out) != want {
		t.Errorf("run under nohup: %v, %q, want %q", err, out, want)
	}
	id := strings.TrimSpace(b.Run("run", "-d", "localhost/bb:1", "sh", "-c",
		`trap 'echo hup-$n; n=$((n+1))' HUP; n=1; echo ready; while :; do sleep 0.05; done`).WantSuccess(t).Stdout)
	eventually(t, "the container is ready", func() bool { return b.Run("logs", id).Stdout == "ready\n" })
	b.Run("kill", "-s", "HUP", id).WantSuccess(t)
	eventually(t, "the trap saw SIGHUP", func() bool { return b.Run("logs", id).Stdout == "ready\nhup-1\n" })
	b.Run("kill", "-s", "1", id).WantSuccess(t)
	eventually(t, "the trap saw signal 1", func() bool { return b.Run("logs", id).Stdout == "ready\nhup-1\nhup-2\n" })
	if got := b.Run("exec", id, "sh", "-c", "exec "+status).WantSuccess(t).Stdout; got != want {
		t.Errorf("exec: %q, want %q", got, want)
	}
	b.Run("rm", "-f", id).WantSuccess(t)
}

// TestConfineSeccompProfiles: Docker's default profile refuses namespaces to a container
// without CAP_SYS_ADMIN and allows them with it; seccomp=FILE takes a Docker profile with
// capability conditions; seccomp=unconfined lifts the filter; a broken profile is refused at
// create.
func TestConfineSeccompProfiles(t *testing.T) {
	b := withHostileImage(t)
	userns := `unshare -U true 2>/dev/null && echo userns-ok || echo userns-refused`
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "userns-refused\n"},
		{[]string{"--cap-add", "SYS_ADMIN"}, "userns-ok\n"},
		{[]string{"--security-opt", "seccomp=unconfined"}, "userns-ok\n"},
	} {
		args := append(append([]string{"run", "--rm"}, c.args...), "localhost/bb:1", "sh", "-c", userns)
		if got := b.Run(args...).WantSuccess(t).Stdout; got != c.want {
			t.Errorf("%v: %q, want %q", c.args, got, c.want)
		}
	}
	dir := t.TempDir()
	profile := filepath.Join(dir, "no-mkdir.json")
	os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
		{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"excludes":{"caps":["CAP_SYS_ADMIN"]}}]}`), 0o644)
	mk := `mkdir /tmp/d 2>&1 && echo made`
	if r := b.Run("run", "--rm", "--security-opt", "seccomp="+profile, "localhost/bb:1", "sh", "-c", mk); !strings.Contains(r.Stdout, "Permission denied") {
		t.Errorf("profile file: exit %d, %q, %q; want mkdir refused with EACCES", r.Code, r.Stdout, r.Stderr)
	}
	if r := b.Run("run", "--rm", "--security-opt", "seccomp="+profile, "--cap-add", "SYS_ADMIN", "localhost/bb:1", "sh", "-c", mk); r.Stdout != "made\n" {
		t.Errorf("profile file with CAP_SYS_ADMIN: exit %d, %q, %q; want made", r.Code, r.Stdout, r.Stderr)
	}
	os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"defaultAction":"SCMP_ACT_NOPE"}`), 0o644)
	b.Run("run", "--rm", "--security-opt", "seccomp="+filepath.Join(dir, "broken.json"), "localhost/bb:1", "true").
		WantError(t, 125, `seccomp profile: unknown defaultAction "SCMP_ACT_NOPE"`)
	b.Run("create", "--security-opt", "seccomp", "localhost/bb:1", "true").WantError(t, 125, `invalid --security-opt "seccomp"`)
	if got := b.Run("ps", "-a", "-q").Stdout; got != "" {
		t.Errorf("refused creates left %q", got)
	}
}

// TestConfineDevices: --device grants exactly the devices named (several at once), the rest
// stay refused.
func TestConfineDevices(t *testing.T) {
	b := withHostileImage(t)
	devs := hostDevices(t)
	if err := unix.Mknod(filepath.Join(devs, "fuse"), unix.S_IFCHR|0o600, int(unix.Mkdev(10, 229))); err != nil {
		t.Fatal(err)
	}
	r := b.Run("run", "--rm", "-v", devs+":/hostdevs", "--device", filepath.Join(devs, "loopctl")+":/dev/lc:r",
		"--device", filepath.Join(devs, "fuse")+":/dev/f", "--device", "/dev/null:/dev/n2", "localhost/bb:1", "sh", "-c",
		`for d in /dev/lc /dev/f /dev/n2 /hostdevs/mem /hostdevs/loop0; do (exec 3<$d) 2>/dev/null && echo "$d open" || echo "$d refused"; done
		(exec 3<>/dev/lc) 2>/dev/null || echo "lc write refused"; (exec 3<>/dev/f) 2>/dev/null && echo "f write open"`)
	want := "/dev/lc open\n/dev/f open\n/dev/n2 open\n/hostdevs/mem refused\n/hostdevs/loop0 refused\nlc write refused\nf write open\n"
	if r.WantSuccess(t); r.Stdout != want {
		t.Errorf("--device: %q, want %q", r.Stdout, want)
	}
}

// TestConfineExecTerminal: exec -t gets a terminal of the container's own devpts, as run -t.
func TestConfineExecTerminal(t *testing.T) {
	b := withHostileImage(t)
	id := strings.TrimSpace(b.Run("run", "-d", "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout)
	defer b.Run("rm", "-f", id)
	script := `t=$(tty); [ "$(stat -L -c %d "$t")" = "$(stat -c %d /dev/pts/ptmx)" ] && echo "own-devpts $t"; exit 4`
	out, code := ptyRun(t, b, "", "exec", "-it", id, "sh", "-c", script)
	if code != 4 || !regexp.MustCompile(`own-devpts /dev/pts/\d+`).MatchString(out) {
		t.Errorf("exec -it: exit %d, %q; want a /dev/pts of the container and status 4", code, out)
	}
}

// TestConfineRuncSpec: berth-runtime runs the config `runc spec` writes (ambient capabilities
// without inheritable ones are a warning, as in runc), from a kept copy and from the runc
// installed here.
func TestConfineRuncSpec(t *testing.T) {
	RequireRoot(t)
	specs := map[string][]byte{}
	kept, err := os.ReadFile("testdata/runc-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	specs["runc 1.1.5 spec"] = kept
	if runc, err := exec.LookPath("runc"); err == nil {
		d := t.TempDir()
		cmd := exec.Command(runc, "spec")
		cmd.Dir = d
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("runc spec: %v: %s", err, out)
		}
		specs["installed runc spec"], _ = os.ReadFile(filepath.Join(d, "config.json"))
	}
	for name, data := range specs {
		dir := bundle(t, nil)
		// As runc's users do: no terminal, our command; every other field as runc wrote it.
		var cfg map[string]any
		if err := json.Unmarshal(data, &cfg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		proc := cfg["process"].(map[string]any)
		proc["terminal"] = false
		proc["args"] = []string{"sh", "-c", "grep CapEff /proc/self/status; grep -c memory /proc/self/cgroup; hostname; touch /x 2>/dev/null || echo ro-root"}
		js, _ := json.Marshal(cfg)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644); err != nil {
			t.Fatal(err)
		}
		rt := ociRuntime{"berth", []string{berthBin, "runtime", "--root", t.TempDir()}}
		out, code := rt.run(t, "run", "--bundle", dir, containerID(t))
		if code != 0 || !strings.Contains(out, "CapEff:\t0000000020000420") || !strings.Contains(out, "\nrunc\n") ||
			!strings.Contains(out, "ro-root") || !strings.Contains(out, "unable to raise ambient capability CAP_KILL") {
			t.Errorf("%s: exit %d\n%s", name, code, out)
		}
	}
}

// TestConfineRootless: a rootless container (no cgroup of its own on a v1 or hybrid host) is
// shown its user's cgroups read-only and "/" paths, and is refused what a default container is.
func TestConfineRootless(t *testing.T) {
	b := NewRootlessBerth(t)
	p := filepath.Join(b.Root+"-img", "bb.tar")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := fixture.WriteDockerArchive(p, "localhost/bb:1", busyboxImage(t)); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	b.Run("load", "-i", p).WantSuccess(t)
	r := b.Run("run", "--rm", "localhost/bb:1", "sh", "-c", `grep -v ':/$' /proc/self/cgroup
		for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs; do [ -e "$f" ] && { (exec 3>>"$f") 2>/dev/null && echo "writable $f"; }; done
		unshare -U true 2>/dev/null && echo userns-allowed; echo done`).WantSuccess(t)
	if r.Stdout != "done\n" {
		t.Errorf("rootless container: %q, want nothing but done", r.Stdout)
	}
}

// TestConfineReadonlyBindIsRecursive: -v SRC:DST:ro makes the mounts under SRC read-only too
// (as Docker 25+), so -v /sys:/hostsys:ro does not hand out the host's cgroup hierarchies.
func TestConfineReadonlyBindIsRecursive(t *testing.T) {
	b := withHostileImage(t)
	r := b.Run("run", "--rm", "-v", "/sys:/hostsys:ro", "localhost/bb:1", "sh", "-c",
		`n=0; for f in /hostsys/fs/cgroup/*/cgroup.procs /hostsys/fs/cgroup/cgroup.procs; do [ -e "$f" ] || continue; n=$((n+1)); (exec 3>>"$f") 2>/dev/null && echo "writable $f"; done; echo "probed $n"
		awk '$5 ~ "^/hostsys" && $6 !~ "^ro" {print "rw mount " $5}' /proc/self/mountinfo`).WantSuccess(t)
	if !regexp.MustCompile(`^probed [1-9]\d*\n$`).MatchString(r.Stdout) {
		t.Errorf("-v /sys:/hostsys:ro: %q, want every mount read-only", r.Stdout)
	}
}
