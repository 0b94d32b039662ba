package tests

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
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

func TestAllLatestFilterTargets(t *testing.T) {
	b := withImage(t)
	run := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(b.Run(args...).WantSuccess(t).Stdout)
	}
	done0 := run("run", "-d", "localhost/bb:1", "true")
	done1 := run("run", "-d", "localhost/bb:1", "false")
	run("wait", done0)
	created := run("create", "--name", "later", "localhost/bb:1", "sleep", "100")

	wantFailure(t, b.Run("start", "--all", "later"), "either start all containers or the container(s) provided in the arguments")
	wantFailure(t, b.Run("start", "--filter", "restart-policy=fakepolicy", done0), "fakepolicy invalid restart policy")
	if out := run("start", "--filter", "restart-policy=always", done0); out != "" {
		t.Errorf("start --filter restart-policy=always of a no-policy container printed %q", out)
	}
	if out := run("start", "--latest"); out != created {
		t.Errorf("start --latest printed %q, want %q", out, created)
	}
	if out := run("pause", "--all"); out != created {
		t.Errorf("pause --all printed %q", out)
	}
	if out := run("unpause", "-a"); out != created {
		t.Errorf("unpause -a printed %q", out)
	}
	if out := run("kill", "--all", "--signal", "CONT"); out != created {
		t.Errorf("kill --all printed %q", out)
	}
	if out := run("stop", "--all", "-t", "0"); out != created {
		t.Errorf("stop --all printed %q, want only the running container", out)
	}
	if out := run("stop", "--ignore", "nosuch"); out != "" {
		t.Errorf("stop --ignore of a missing container printed %q", out)
	}
	run("wait", done0, done1)
	if out := run("start", "--all", "--filter", "exited=137", "--filter", "name=later"); out != created {
		t.Errorf("start --all --filter printed %q, want %q", out, created)
	}
	if out := run("restart", "--all", "--running", "--timeout", "0"); out != created {
		t.Errorf("restart --all --running printed %q", out)
	}
	if got := run("inspect", "--format", "{{.State.Status}}", created); got != "running" {
		t.Errorf("after restart: %s", got)
	}
}

func TestPodmanGlobalFlags(t *testing.T) {
	b := withImage(t)
	// --noout silences standard output, not errors.
	if r := b.Run("--noout", "create", "--name", "quiet", "localhost/bb:1", "true").WantSuccess(t); r.Stdout != "" {
		t.Errorf("--noout create printed %q", r.Stdout)
	}
	if r := b.Run("--noout", "rm", "quiet").WantSuccess(t); r.Stdout != "" {
		t.Errorf("--noout rm printed %q", r.Stdout)
	}
	wantFailure(t, b.Run("--noout", "rm", "quiet"), "quiet")
	// Values that describe what berth does are accepted.
	b.Run("--storage-opt=", "--events-backend", "file", "--cgroup-manager=cgroupfs", "ps").WantSuccess(t)
	for _, args := range [][]string{
		{"--runtime-flag", "invalidflag", "ps"},
		{"--storage-opt", "size=1G", "ps"},
		{"--events-backend", "journald", "ps"},
		{"--cgroup-manager", "systemd", "ps"},
		{"--network-cmd-path", "/usr/bin/slirp4netns", "ps"},
		{"--tmpdir", "/tmp", "ps"},
		{"--url", "unix:///run/x.sock", "ps"},
	} {
		wantFailure(t, b.Run(args...), "is not supported")
	}
	// --help still works with a remote flag, as Podman's does.
	if r := b.Run("--url", "foo", "--help").WantSuccess(t); !strings.Contains(r.Stdout, "Usage:") {
		t.Errorf("--url foo --help: %q", r.Stdout)
	}
	// An unknown global flag is reported as a flag, not as the command its next word would be.
	b.Run("--nosuch", "stop", "x").WantError(t, 125, "unknown flag: --nosuch")
}

func TestPodmanImageCommands(t *testing.T) {
	b := withImage(t)
	b.Run("tag", "localhost/bb:1", "registry.example/one:1", "two:2").WantSuccess(t)
	b.Run("image", "exists", "registry.example/one:1").WantSuccess(t)
	b.Run("image", "exists", "two:2").WantSuccess(t)
	b.Run("untag", "localhost/bb:1", "two:2").WantSuccess(t)
	if r := b.Run("image", "exists", "two:2"); r.Code != 1 || r.Stdout != "" || r.Stderr != "" {
		t.Errorf("image exists of a removed tag: exit %d, %q %q", r.Code, r.Stdout, r.Stderr)
	}
	wantFailure(t, b.Run("untag", "localhost/bb:1", "two:2"), "two:2: tag not known")
	id := strings.TrimSpace(b.Run("image", "inspect", "--format", "{{.Id}}", "localhost/bb:1").WantSuccess(t).Stdout)
	b.Run("untag", id).WantSuccess(t)
	if got := b.Run("image", "inspect", "--format", "{{.RepoTags}}", id).WantSuccess(t).Stdout; got != "[]\n" {
		t.Errorf("untag of every name left %q", got)
	}
	b.Run("tag", id, "localhost/bb:1").WantSuccess(t)

	// Podman's listing fields and flags.
	b.Run("tag", "localhost/bb:1", "localhost/aa:1").WantSuccess(t)
	out := b.Run("images", "--noheading", "--sort", "repository", "--format", "table {{.Repository}} {{.Dangling}} {{.Names}}").WantSuccess(t).Stdout
	if want := "localhost/aa false [localhost/bb:1 localhost/aa:1]\nlocalhost/bb false [localhost/bb:1 localhost/aa:1]\n"; out != want {
		t.Errorf("images --noheading --sort repository: %q, want %q", out, want)
	}
	wantFailure(t, b.Run("images", "--sort", "colour"), "invalid --sort")
	if out := b.Run("history", "--human=false", "--format", "{{.Created}}", "localhost/bb:1").WantSuccess(t).Stdout; !strings.Contains(out, "T") || strings.Contains(out, "ago") {
		t.Errorf("history --human=false .Created: %q", out)
	}

	b.Run("create", "--name", "here", "localhost/bb:1").WantSuccess(t)
	b.Run("container", "exists", "here").WantSuccess(t)
	if r := b.Run("container", "exists", "--external", "nosuch"); r.Code != 1 || r.Stderr != "" {
		t.Errorf("container exists of a missing container: exit %d, %q", r.Code, r.Stderr)
	}
	out = b.Run("ps", "-a", "--noheading", "--sort", "names", "--format", "{{.Names}}").WantSuccess(t).Stdout
	if out != "here\n" {
		t.Errorf("ps --noheading --sort names: %q", out)
	}
}

// exec -d must not hold the caller's stdout (or any other descriptor it was given): a shell's
// out=$(berth exec -d ...) reads to EOF and would wait for the detached process.
func TestExecDetachClosesCallerFiles(t *testing.T) {
	b := withImage(t)
	b.Run("run", "-d", "--name", "host", "localhost/bb:1", "sleep", "1000").WantSuccess(t)
	extra, err := os.CreateTemp(t.TempDir(), "fd3")
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	cmd := b.Cmd("exec", "-d", "host", "sleep", "1001")
	cmd.ExtraFiles = []*os.File{extra} // fd 3, as bats leaves it
	var out strings.Builder
	cmd.Stdout = &out // a pipe: Wait returns only when every holder closed it
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || out.String() != "" {
			t.Fatalf("exec -d: %v, stdout %q", err, out.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("exec -d did not return: the detached process holds the caller's stdout")
	}
	probe := `for p in /proc/[0-9]*; do [ "$(tr '\0' ' ' <$p/cmdline)" = "sleep 1001 " ] || continue; for f in $p/fd/*; do echo "${f##*/} $(readlink $f)"; done; done`
	fds := b.Run("exec", "host", "sh", "-c", probe).WantSuccess(t).Stdout
	if want := "0 /dev/null\n1 /dev/null\n2 /dev/null\n"; fds != want {
		t.Errorf("detached process's descriptors:\n%s\nwant:\n%s", fds, want)
	}
	b.Run("exec", "-d", "host", "nosuchcmd").WantError(t, 127, "nosuchcmd")
}

func TestContainerfileCommitQuietVolumeRemove(t *testing.T) {
	b := withImage(t)
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/Containerfile", []byte("FROM localhost/bb:1\nRUN echo from-containerfile >/marker\nCOPY . /ctx/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{".containerignore": "secret\n", "secret": "s", "kept": "k"} {
		if err := os.WriteFile(dir+"/"+name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.Run("build", "-q", "-t", "localhost/cf:1", dir).WantSuccess(t)
	if out := b.Run("run", "--rm", "localhost/cf:1", "cat", "/marker").WantSuccess(t).Stdout; out != "from-containerfile\n" {
		t.Errorf("image built from Containerfile: %q", out)
	}
	if out := b.Run("run", "--rm", "localhost/cf:1", "ls", "/ctx").WantSuccess(t).Stdout; out != "Containerfile\nkept\n" {
		t.Errorf(".containerignore: the context held %q", out)
	}
	// With both, the Dockerfile wins, as in Docker.
	if err := os.WriteFile(dir+"/Dockerfile", []byte("FROM localhost/bb:1\nRUN echo from-dockerfile >/marker\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Run("build", "-q", "-t", "localhost/cf:2", dir).WantSuccess(t)
	if out := b.Run("run", "--rm", "localhost/cf:2", "cat", "/marker").WantSuccess(t).Stdout; out != "from-dockerfile\n" {
		t.Errorf("Dockerfile beside Containerfile: %q", out)
	}

	b.Run("run", "--name", "c", "localhost/bb:1", "true").WantSuccess(t)
	id := strings.TrimSpace(b.Run("commit", "-q", "c", "localhost/committed:1").WantSuccess(t).Stdout)
	if len(id) != 64 || strings.HasPrefix(id, "sha256:") {
		t.Errorf("commit -q printed %q, want the bare 64-hex id", id)
	}

	b.Run("volume", "create", "used").WantSuccess(t)
	b.Run("volume", "create", "free").WantSuccess(t)
	b.Run("create", "-v", "used:/data", "localhost/bb:1", "true").WantSuccess(t)
	wantFailure(t, b.Run("volume", "rm", "-t", "0", "-f", "used"), "in use")
	b.Run("volume", "rm", "--force", "nosuch").WantSuccess(t)
	r := b.Run("volume", "rm", "-a", "-t", "0")
	if r.Code == 0 || !strings.Contains(r.Stdout, "free") || !strings.Contains(r.Stderr, "used") {
		t.Errorf("volume rm -a: exit %d, stdout %q, stderr %q; want free removed and used refused", r.Code, r.Stdout, r.Stderr)
	}
	if out := b.Run("volume", "ls", "--noheading", "--format", "table {{.Name}}").WantSuccess(t).Stdout; out != "used\n" {
		t.Errorf("volume ls --noheading: %q", out)
	}
}

func TestCopyPodmanCases(t *testing.T) {
	b := withImage(t)
	host := t.TempDir()
	if err := os.WriteFile(host+"/hostfile", []byte("to the volume\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A stopped container: a path under its volume or bind mount is the mount's host directory.
	bind := t.TempDir()
	b.Run("volume", "create", "outer").WantSuccess(t)
	b.Run("create", "--name", "stopped", "-v", "outer:/data", "-v", bind+":/data/bind", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("cp", host+"/hostfile", "stopped:/data/bind").WantSuccess(t)
	if got, err := os.ReadFile(bind + "/hostfile"); err != nil || string(got) != "to the volume\n" {
		t.Errorf("cp into a stopped container's bind mount: %q %v", got, err)
	}
	b.Run("cp", host+"/hostfile", "stopped:/data/").WantSuccess(t)
	mp := strings.TrimSpace(b.Run("volume", "inspect", "--format", "{{.Mountpoint}}", "outer").WantSuccess(t).Stdout)
	if _, err := os.Stat(mp + "/hostfile"); err != nil {
		t.Errorf("cp into a stopped container's volume: %v", err)
	}
	b.Run("cp", "stopped:/data/bind/hostfile", host+"/back").WantSuccess(t)

	// Container to container, and --overwrite.
	b.Run("run", "-d", "--name", "src", "localhost/bb:1", "sh", "-c", "mkdir /tmp/d; echo file >/tmp/foo; echo in-d >/tmp/d/x; sleep 1000").WantSuccess(t)
	b.Run("run", "-d", "--name", "dst", "-u", "nobody", "localhost/bb:1", "sh", "-c", "mkdir /tmp/foo; sleep 1000").WantSuccess(t)
	for i := 0; i < 50 && b.Run("exec", "src", "test", "-e", "/tmp/d/x").Code != 0; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	b.Run("cp", "src:/tmp/d", "dst:/tmp").WantSuccess(t)
	if out := b.Run("exec", "dst", "cat", "/tmp/d/x").WantSuccess(t).Stdout; out != "in-d\n" {
		t.Errorf("container to container: %q", out)
	}
	wantFailure(t, b.Run("cp", "src:/tmp/foo", "dst:/tmp"), "file exists")
	b.Run("cp", "--overwrite", "--pause", "src:/tmp/foo", "dst:/tmp").WantSuccess(t)
	if out := b.Run("exec", "dst", "cat", "/tmp/foo").WantSuccess(t).Stdout; out != "file\n" {
		t.Errorf("cp --overwrite: %q", out)
	}
	if st := b.Run("inspect", "--format", "{{.State.Status}}", "dst").WantSuccess(t).Stdout; st != "running\n" {
		t.Errorf("after cp --pause the container is %s", st)
	}
	// -a gives what is copied in to the container's user.
	b.Run("cp", "-a", host+"/hostfile", "dst:/tmp/owned").WantSuccess(t)
	if out := b.Run("exec", "dst", "stat", "-c", "%u:%g", "/tmp/owned").WantSuccess(t).Stdout; out != "65534:65534\n" {
		t.Errorf("cp -a owner: %q", out)
	}

	// A compressed tar on stdin is unpacked with its owners; anything else is refused.
	var gz strings.Builder
	tarCmd := exec.Command("tar", "-C", host, "--owner=1042", "--group=1043", "-czf", "-", "hostfile")
	tarCmd.Stdout = &gz
	if err := tarCmd.Run(); err != nil {
		t.Fatal(err)
	}
	b.RunStdin([]byte(gz.String()), "cp", "-", "dst:/tmp").WantSuccess(t)
	if out := b.Run("exec", "dst", "stat", "-c", "%u:%g", "/tmp/hostfile").WantSuccess(t).Stdout; out != "1042:1043\n" {
		t.Errorf("cp - keeps the tar's owners: %q", out)
	}
	b.RunStdin([]byte("plain text\n"), "cp", "-", "dst:/tmp").WantError(t, 1, "source must be a (compressed) tar archive when copying from stdin")
	b.RunStdin([]byte(gz.String()), "cp", "-", "dst:/tmp/owned").WantError(t, 1, "destination must be a directory when copying from stdin")
	wantFailure(t, b.Run("cp", "src:/tmp/*", host), `"/tmp/*" could not be found on container src`)
}

func TestPodmanRunFlags(t *testing.T) {
	b := withImage(t)
	img := "localhost/bb:1"
	out := func(args ...string) string {
		t.Helper()
		return b.Run(args...).WantSuccess(t).Stdout
	}
	// --tz: the last one wins; the zone file is the container's /etc/localtime.
	if got := out("run", "--rm", "--tz=Iceland", "--tz=MST7MDT", img, "date", "-d", "@1600000000"); got != "Sun Sep 13 06:26:40 MDT 2020\n" {
		t.Errorf("--tz: %q", got)
	}
	b.Run("run", "--rm", "--tz=Nowhere/Atlantis", img, "true").WantError(t, 125, "invalid --tz")
	// --memory=0 is no limit; HOME comes from /etc/passwd, or is /.
	if got := out("run", "--rm", "--memory=0", "-u", "4242", img, "sh", "-c", "echo $HOME"); got != "/\n" {
		t.Errorf("HOME of a user without a passwd entry: %q", got)
	}
	if got := out("run", "--rm", img, "sh", "-c", "echo $HOME"); got != "/root\n" {
		t.Errorf("HOME of root: %q", got)
	}
	// Podman's JSON form of --entrypoint.
	if got := out("run", "--rm", `--entrypoint=["/bin/echo","a b"]`, img); got != "a b\n" {
		t.Errorf("--entrypoint JSON: %q", got)
	}
	// --replace, --attach, --http-proxy.
	out("create", "--name", "r", img, "true")
	if got := out("run", "--replace", "--name", "r", img, "echo", "replaced"); got != "replaced\n" {
		t.Errorf("--replace: %q", got)
	}
	r := b.Run("run", "--rm", "-a", "stderr", img, "sh", "-c", "echo out; echo err >&2").WantExit(t, 0)
	if r.Stdout != "" || r.Stderr != "err\n" {
		t.Errorf("--attach stderr: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if got := strings.TrimSpace(out("run", "--name", "ain", "-a", "stdin", img, "echo", "hello")); len(got) != 64 {
		t.Errorf("--attach stdin printed %q, want the container id", got)
	}
	b.Env = append(b.Env, "http_proxy=http://proxy.example:3128")
	if got := out("run", "--rm", img, "sh", "-c", "echo $http_proxy"); got != "http://proxy.example:3128\n" {
		t.Errorf("--http-proxy (default): %q", got)
	}
	if got := out("run", "--rm", "--http-proxy=false", img, "sh", "-c", "echo x$http_proxy"); got != "x\n" {
		t.Errorf("--http-proxy=false: %q", got)
	}
	// --timeout kills the container; --conmon-pidfile names its monitor.
	pidfile := t.TempDir() + "/monitor.pid"
	b.Run("run", "--name", "slow", "--timeout", "1", "--conmon-pidfile", pidfile, img, "sleep", "60").WantExit(t, 137)
	if p, err := os.ReadFile(pidfile); err != nil || len(p) == 0 {
		t.Errorf("--conmon-pidfile: %q %v", p, err)
	}
	// --pid, --requires, --volumes-from and the dependencies they make.
	host := strings.TrimSpace(out("run", "-d", "--name", "base", "-v", "/data", img, "sleep", "1000"))
	out("exec", "base", "sh", "-c", "echo shared >/data/f")
	if got := out("run", "--rm", "--pid", "container:base", img, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"); got != "sleep 1000 " {
		t.Errorf("--pid container: sees pid 1 %q", got)
	}
	if got := out("run", "--rm", "--volumes-from", "base:ro", img, "sh", "-c", "cat /data/f; touch /data/g 2>/dev/null || echo read-only"); got != "shared\nread-only\n" {
		t.Errorf("--volumes-from: %q", got)
	}
	out("stop", "-t", "0", "base")
	dep := strings.TrimSpace(out("create", "--requires", "base", img, "true"))
	out("start", dep)
	if got := out("inspect", "--format", "{{.State.Status}}", "base"); got != "running\n" {
		t.Errorf("--requires did not start base: %s", got)
	}
	wantFailure(t, b.Run("rm", "-f", "base"), "has dependent containers")
	out("rm", "-f", "--depend", host)
	wantFailure(t, b.Run("run", "--rm", "--pid", "bogus", img, "true"), "invalid --pid")
	wantFailure(t, b.Run("run", "--rm", "--init-path", "/bin/true", img, "true"), "--init-path needs --init")
}

func TestWaitConditionInspectNetworkAliases(t *testing.T) {
	b := withImage(t)
	id := strings.TrimSpace(b.Run("create", "--name", "w", "--log-opt", "max-size=9.089m", "localhost/bb:1", "sh", "-c", "sleep 0.5; exit 3").WantSuccess(t).Stdout)
	if out := b.Run("wait", "--condition", "created", "w").WantSuccess(t).Stdout; out != "0\n" {
		t.Errorf("wait --condition created: %q", out)
	}
	b.Run("start", "w").WantSuccess(t)
	if out := b.Run("container", "wait", "--condition=exited", "--condition=stopped", "w").WantSuccess(t).Stdout; out != "3\n" {
		t.Errorf("wait --condition exited: %q", out)
	}
	wantFailure(t, b.Run("wait", "--condition", "sleeping", "w"), "invalid condition \"sleeping\"")
	if out := b.Run("wait", "--ignore", "nosuch").WantSuccess(t).Stdout; out != "-1\n" {
		t.Errorf("wait --ignore of a missing container: %q", out)
	}
	got := b.Run("inspect", "--format", "{{.ImageName}} {{.HostConfig.LogConfig.Size}} {{.HostConfig.LogConfig.Path}}", id).WantSuccess(t).Stdout
	if want := "localhost/bb:1 9.089MB " + b.Root + "/containers/" + id + "/ctr.log\n"; got != want {
		t.Errorf("inspect: %q, want %q", got, want)
	}
	pidfile := t.TempDir() + "/conmon.pid"
	run := strings.TrimSpace(b.Run("run", "-d", "--log-driver", "none", "--conmon-pidfile", pidfile, "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout)
	pid, _ := os.ReadFile(pidfile)
	got = b.Run("inspect", "--format", "{{.State.ConmonPid}} [{{.HostConfig.LogConfig.Path}}] {{.HostConfig.LogConfig.Size}}", run).WantSuccess(t).Stdout
	if want := string(pid) + " [] 0B\n"; got != want || len(pid) == 0 {
		t.Errorf("inspect ConmonPid and LogConfig without a log: %q, want %q", got, want)
	}
	// Podman's name for the default network.
	for _, name := range []string{"podman", "bridge"} {
		if got := b.Run("network", "inspect", "--format", "{{.Name}}", name).WantSuccess(t).Stdout; got != "berth\n" {
			t.Errorf("network inspect %s: %q", name, got)
		}
	}
	if got := b.Run("run", "--rm", "--network", "podman", "localhost/bb:1", "sh", "-c", "ip -o -4 addr show eth0 | wc -l").WantSuccess(t).Stdout; got != "1\n" {
		t.Errorf("run --network podman: %q", got)
	}
	wantFailure(t, b.Run("network", "create", "podman"), "network name podman is reserved")
}

func TestDeviceThrottle(t *testing.T) {
	b := withImage(t)
	dev := ""
	for _, d := range []string{"/dev/loop0", "/dev/sda", "/dev/vda", "/dev/nvme0n1"} {
		if fi, err := os.Stat(d); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
			dev = d
			break
		}
	}
	if dev == "" {
		t.Skip("no block device to throttle")
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dev, &st); err != nil {
		t.Fatal(err)
	}
	num := fmt.Sprintf("%d:%d", (st.Rdev>>8)&0xfff, (st.Rdev&0xff)|((st.Rdev>>12)&0xfff00))
	id := strings.TrimSpace(b.Run("run", "-d", "--device-read-bps", dev+":1M", "--device-write-iops", dev+":100", "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout)
	got := b.Run("exec", id, "sh", "-c", "cat /sys/fs/cgroup/io.max 2>/dev/null || cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device").WantSuccess(t).Stdout
	v2 := num + " rbps=1048576 wbps=max riops=max wiops=100\n"
	v1 := num + " 1048576\n" + num + " 100\n"
	if got != v1 && !strings.Contains(got, v2) {
		t.Errorf("throttles in the container's cgroup: %q, want %q (v1) or a line %q (v2)", got, v1, v2)
	}
	wantFailure(t, b.Run("create", "--device-read-bps", dev, "localhost/bb:1"), "want PATH:RATE")
	wantFailure(t, b.Run("create", "--device-read-iops", dev+":lots", "localhost/bb:1"), "operations per second")
}

// A container whose runtime fails (here: not a runtime at all) is still removed by rm -f, and
// the runtime's failure is reported with its message, not as a silent exit status.
func TestRemoveWithBrokenRuntime(t *testing.T) {
	b := withImage(t)
	r := b.Run("run", "-d", "--name", "broken", "--runtime", "/bin/false", "localhost/bb:1", "true")
	if r.Code == 0 {
		t.Fatalf("run with /bin/false as runtime succeeded: %q", r.Stdout)
	}
	wantFailure(t, b.Run("rm", "broken"), "false delete")
	b.Run("rm", "-f", "broken").WantExit(t, 0)
	if out := b.Run("ps", "-aq").WantSuccess(t).Stdout; out != "" {
		t.Errorf("rm -f left %q", out)
	}
}

func TestSystemdModeAndStopRm(t *testing.T) {
	b := withImage(t)
	id := strings.TrimSpace(b.Run("run", "--rm", "-d", "--privileged", "--systemd=always", "localhost/bb:1", "sleep", "1000").WantSuccess(t).Stdout)
	got := b.Run("exec", id, "sh", "-c", `ls /dev/tty*; echo $container; for d in /run /run/lock /tmp /var/log/journal; do grep -q " $d tmpfs " /proc/mounts && echo $d; done`).WantSuccess(t).Stdout
	if want := "/dev/tty\nberth\n/run\n/run/lock\n/tmp\n/var/log/journal\n"; got != want {
		t.Errorf("systemd mode: %q, want %q", got, want)
	}
	if got := b.Run("inspect", "--format", "{{.Config.StopSignal}}", id).WantSuccess(t).Stdout; got != "37\n" {
		t.Errorf("systemd mode stop signal: %q, want 37 (SIGRTMIN+3)", got)
	}
	// Stopping a --rm container succeeds though its cleanup removes it meanwhile.
	if got := b.Run("stop", "-t", "0", id).WantSuccess(t).Stdout; got != id+"\n" {
		t.Errorf("stop of a --rm container printed %q", got)
	}
	// Without systemd mode, a plain command gets none of it.
	if got := b.Run("run", "--rm", "--systemd=true", "localhost/bb:1", "sh", "-c", "echo x$container").WantSuccess(t).Stdout; got != "x\n" {
		t.Errorf("--systemd=true with a non-init command: %q", got)
	}
	wantFailure(t, b.Run("run", "--rm", "--systemd=sometimes", "localhost/bb:1", "true"), "invalid --systemd")
}

func TestPodmanFilterAndSignalSpellings(t *testing.T) {
	b := withImage(t)
	b.Run("run", "--name", "done1", "localhost/bb:1", "echo", "first").WantSuccess(t)
	// start -a of an exited container runs it again, attached.
	if out := b.Run("start", "-a", "done1").WantSuccess(t).Stdout; out != "first\n" {
		t.Errorf("start -a of an exited container: %q", out)
	}
	if out := b.Run("ps", "-a", "--filter", "status=stopped", "--format", "{{.Names}}").WantSuccess(t).Stdout; out != "done1\n" {
		t.Errorf("ps --filter status=stopped: %q", out)
	}
	for _, v := range []string{"vol_1_x", "vol_10_x", "other"} {
		b.Run("volume", "create", v).WantSuccess(t)
	}
	if out := b.Run("volume", "ls", "-q", "--filter", "name=vol_1[0-9]").WantSuccess(t).Stdout; out != "vol_10_x\n" {
		t.Errorf("volume ls --filter name=REGEX: %q", out)
	}
	if out := b.Run("ps", "-a", "--format", "{{.Names}}", "--filter", "name=^done[0-9]$").WantSuccess(t).Stdout; out != "done1\n" {
		t.Errorf("ps --filter name=REGEX: %q", out)
	}
	r := b.Run("run", "--rm", "-v", "vol_1_x:/x", "-v", "other:/x/", "localhost/bb:1", "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "duplicate mount point: /x") {
		t.Errorf("two mounts on /x: exit %d, %q", r.Code, r.Stderr)
	}
	id := strings.TrimSpace(b.Run("run", "-d", "localhost/bb:1", "sh", "-c", "trap 'echo got HUP; exit 0' HUP; while :; do sleep 0.1; done").WantSuccess(t).Stdout)
	time.Sleep(300 * time.Millisecond) // the trap is set
	b.Run("kill", "-s", "-HUP", id).WantSuccess(t)
	if code := b.Run("wait", id).WantSuccess(t).Stdout; code != "0\n" {
		t.Errorf("kill -s -HUP: the container exited %q", code)
	}
	iid := strings.TrimSpace(b.Run("image", "inspect", "--format", "{{.Id}}", "localhost/bb:1").WantSuccess(t).Stdout)
	if out := b.Run("images", "--noheading", "--filter", "after="+iid).WantSuccess(t).Stdout; out != "" {
		t.Errorf("images --filter after=: %q", out)
	}
	if out := b.Run("image", "inspect", "--format", "{{.Digest}}", "localhost/bb:1").WantSuccess(t).Stdout; !strings.HasPrefix(out, "sha256:") {
		t.Errorf("image inspect .Digest: %q", out)
	}
}

func TestVolumeNoexec(t *testing.T) {
	b := withImage(t)
	b.Run("run", "--rm", "-v", "nx:/vol", "localhost/bb:1", "sh", "-c", `printf '#!/bin/sh\necho ran\n' >/vol/s; chmod +x /vol/s`).WantSuccess(t)
	b.Run("run", "--rm", "-v", "nx:/vol:noexec,z", "localhost/bb:1", "/vol/s").WantError(t, 126, "permission denied")
	if out := b.Run("run", "--rm", "-v", "nx:/vol:exec", "localhost/bb:1", "/vol/s").WantSuccess(t).Stdout; out != "ran\n" {
		t.Errorf("-v ...:exec: %q", out)
	}
}

func TestPasswdEntry(t *testing.T) {
	b := withImage(t)
	if out := b.Run("run", "--rm", "--passwd", "-u", "4242:7", "localhost/bb:1", "sh", "-c", "whoami; grep ^4242: /etc/passwd").WantSuccess(t).Stdout; out != "4242\n4242:*:4242:7:container user:/:/bin/sh\n" {
		t.Errorf("--passwd: %q", out)
	}
	// Without it, as in Docker, the image's /etc/passwd is left alone.
	if r := b.Run("run", "--rm", "-u", "4242", "localhost/bb:1", "grep", "-c", "^4242:", "/etc/passwd"); r.Code != 1 || r.Stdout != "0\n" {
		t.Errorf("no --passwd: exit %d, %q", r.Code, r.Stdout)
	}
}

// Podman's system tests tear every test down with `pod rm -t 0 --all --force --ignore`.
func TestPodRemoveTime(t *testing.T) {
	b := withImage(t)
	b.Run("create", "--pod", "new:pp", "--name", "inpod", "localhost/bb:1", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done").WantSuccess(t)
	b.Run("pod", "start", "pp").WantSuccess(t)
	b.Run("pod", "rm", "-t", "5", "--force", "pp").WantSuccess(t)
	b.Run("pod", "rm", "-t", "0", "--all", "--force", "--ignore").WantSuccess(t)
	if out := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; out != "" {
		t.Errorf("pod rm left containers: %q", out)
	}
}
