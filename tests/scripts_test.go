package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The exit-code table (errdefs, documented in `berth --help`) across every command that takes
// names: scripts written for docker and podman test $? and must keep working.
func TestExitCodeTable(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	b.Run("volume", "create", "xvol").WantSuccess(t)
	b.Run("network", "create", "xnet").WantSuccess(t)
	b.Run("run", "-d", "--name", "xrun", "--network", "none", "-v", "xvol:/v", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	b.Run("create", "--name", "xuser", "--network", "xnet", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("create", "--name", "xstopped", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("pod", "create", "--name", "xpod", "--network", "none").WantSuccess(t)
	t.Cleanup(func() { b.Run("pod", "rm", "-af") })
	b.Run("run", "-d", "--pod", "xpod", "--name", "xinpod", "localhost/bb:1", "sleep", "100").WantSuccess(t)

	cases := []struct {
		name string
		args []string
		code int
		msg  string // in stderr; "" with code 0 means stdout and stderr are empty
	}{
		// 1: a named object does not exist.
		{"rm", []string{"rm", "nosuch"}, 1, "no such container: nosuch"},
		{"container rm", []string{"container", "rm", "nosuch"}, 1, "no such container"},
		{"rmi", []string{"rmi", "nosuch"}, 1, "no such image: nosuch"},
		{"image rm", []string{"image", "rm", "nosuch"}, 1, "no such image"},
		{"volume rm", []string{"volume", "rm", "nosuch"}, 1, "no such volume: nosuch"},
		{"network rm", []string{"network", "rm", "nosuch"}, 1, "nosuch"},
		{"stop", []string{"stop", "nosuch"}, 1, "no such container"},
		{"start", []string{"start", "nosuch"}, 1, "no such container"},
		{"restart", []string{"restart", "nosuch"}, 1, "no such container"},
		{"kill", []string{"kill", "nosuch"}, 1, "no such container"},
		{"pause", []string{"pause", "nosuch"}, 1, "no such container"},
		{"unpause", []string{"unpause", "nosuch"}, 1, "no such container"},
		{"wait", []string{"wait", "nosuch"}, 1, "no such container"},
		{"logs", []string{"logs", "nosuch"}, 1, "no such container"},
		{"exec", []string{"exec", "nosuch", "true"}, 1, "no such container"},
		{"top", []string{"top", "nosuch"}, 1, "no such container"},
		{"port", []string{"port", "nosuch"}, 1, "no such container"},
		{"rename", []string{"rename", "nosuch", "other"}, 1, "no such container"},
		{"attach", []string{"attach", "nosuch"}, 1, "no such container"},
		{"diff", []string{"diff", "nosuch"}, 1, "no such container"},
		{"export", []string{"export", "-o", t.TempDir() + "/x.tar", "nosuch"}, 1, "no such container"},
		{"commit", []string{"commit", "nosuch", "localhost/x:1"}, 1, "no such container"},
		{"cp", []string{"cp", "nosuch:/etc/hostname", t.TempDir()}, 1, "no such container"},
		{"stats", []string{"stats", "--no-stream", "nosuch"}, 1, "no such container"},
		{"inspect", []string{"inspect", "nosuch"}, 1, "nosuch"},
		{"container inspect", []string{"container", "inspect", "nosuch"}, 1, "no such container"},
		{"image inspect", []string{"image", "inspect", "nosuch"}, 1, "no such image"},
		{"volume inspect", []string{"volume", "inspect", "nosuch"}, 1, "no such volume"},
		{"network inspect", []string{"network", "inspect", "nosuch"}, 1, "nosuch"},
		{"tag", []string{"tag", "nosuch", "localhost/x:1"}, 1, "no such image"},
		{"history", []string{"history", "nosuch"}, 1, "no such image"},
		{"save", []string{"save", "-o", t.TempDir() + "/x.tar", "nosuch"}, 1, "no such image"},
		{"network connect", []string{"network", "connect", "nosuch", "xstopped"}, 1, "nosuch"},
		{"network connect container", []string{"network", "connect", "xnet", "nosuch"}, 1, "no such container"},
		{"network disconnect", []string{"network", "disconnect", "nosuch", "xstopped"}, 1, "nosuch"},
		{"pod rm", []string{"pod", "rm", "nosuch"}, 1, "no pod with name or ID nosuch found: no such pod"},
		{"pod inspect", []string{"pod", "inspect", "nosuch"}, 1, "no such pod"},
		{"pod start", []string{"pod", "start", "nosuch"}, 1, "no such pod"},
		{"pod stop", []string{"pod", "stop", "nosuch"}, 1, "no such pod"},
		{"pod kill", []string{"pod", "kill", "nosuch"}, 1, "no such pod"},
		// 1: Docker's status for the other user errors of non-run commands.
		{"kill bad signal", []string{"kill", "-s", "NOSUCHSIG", "xrun"}, 1, "NOSUCHSIG"},
		{"exec stopped", []string{"exec", "xstopped", "true"}, 1, "is not running"},
		{"unpause running", []string{"unpause", "xrun"}, 1, "not paused"},
		{"rename taken", []string{"rename", "xstopped", "xrun"}, 1, "already in use"},
		{"network create taken", []string{"network", "create", "xnet"}, 1, "already exists"},
		{"ps bad filter", []string{"ps", "--filter", "colour=red"}, 1, "invalid filter"},
		{"volume prune bad filter", []string{"volume", "prune", "-f", "--filter", "colour=red"}, 1, "invalid filter"},
		{"too few arguments", []string{"rm"}, 1, `"berth rm" requires at least 1 argument`},
		{"unknown command", []string{"nosuchcmd"}, 1, `unknown command "nosuchcmd" for "berth"`},
		{"run without an image", []string{"run"}, 1, `"berth run" requires at least 1 argument`},
		// 2: the object's state refuses the operation.
		{"rm running", []string{"rm", "xrun"}, 2, "container is running"},
		{"rmi in use", []string{"rmi", "localhost/bb:1"}, 2, "in use by a container"},
		{"rmi -f in use", []string{"rmi", "-f", "localhost/bb:1"}, 2, "in use by a container"},
		{"volume rm in use", []string{"volume", "rm", "xvol"}, 2, "volume is in use"},
		{"network rm in use", []string{"network", "rm", "xnet"}, 2, "in use"},
		{"pod rm running", []string{"pod", "rm", "xpod"}, 2, "cannot remove pod xpod"},
		// 0: -f of something absent succeeds silently.
		{"rm -f absent", []string{"rm", "-f", "nosuch"}, 0, ""},
		{"rmi -f absent", []string{"rmi", "-f", "nosuch"}, 0, ""},
		{"volume rm -f absent", []string{"volume", "rm", "-f", "nosuch"}, 0, ""},
		{"network rm -f absent", []string{"network", "rm", "-f", "nosuch"}, 0, ""},
		{"pod rm -f absent", []string{"pod", "rm", "-f", "nosuch"}, 0, ""},
		// 125: berth's own failure, every failure of run and create, flag errors.
		{"run missing image", []string{"run", "--pull", "never", "localhost/nosuch:1", "true"}, 125, "localhost/nosuch:1"},
		{"create missing image", []string{"create", "--pull", "never", "localhost/nosuch:1"}, 125, "localhost/nosuch:1"},
		{"run missing network", []string{"run", "--rm", "--network", "nosuchnet", "localhost/bb:1", "true"}, 125, "nosuchnet"},
		{"run name taken", []string{"run", "--name", "xrun", "localhost/bb:1", "true"}, 125, "already in use"},
		{"unknown flag", []string{"rm", "--bogus", "x"}, 125, "unknown flag: --bogus"},
		{"unknown flag of run", []string{"run", "--bogus", "localhost/bb:1"}, 125, "unknown flag: --bogus"},
		// 126, 127 and the container's own status.
		{"cannot invoke", []string{"run", "--rm", "localhost/bb:1", "/etc"}, 126, "permission denied"},
		{"command not found", []string{"run", "--rm", "localhost/bb:1", "nosuchcmd"}, 127, "nosuchcmd"},
		{"container status", []string{"run", "--rm", "localhost/bb:1", "sh", "-c", "exit 3"}, 3, ""},
		{"exec status", []string{"exec", "xrun", "sh", "-c", "exit 4"}, 4, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := b.Run(c.args...)
			switch {
			case c.code == 0:
				r.WantSuccess(t)
				if r.Stdout != "" {
					t.Errorf("berth %s printed %q, want nothing", strings.Join(c.args, " "), r.Stdout)
				}
			case c.msg == "":
				r.WantExit(t, c.code)
			default:
				r.WantError(t, c.code, c.msg)
			}
		})
	}
	// The refused operations changed nothing.
	if got := b.Run("inspect", "-f", "{{.State.Status}}", "xrun").WantSuccess(t).Stdout; got != "running\n" {
		t.Errorf("xrun after the refusals: %q", got)
	}
	b.Run("volume", "inspect", "xvol").WantSuccess(t)
	b.Run("network", "inspect", "xnet").WantSuccess(t)
	b.Run("image", "inspect", "localhost/bb:1").WantSuccess(t)
}

// Several names: what exists is acted on, each failure is reported, the exit is non-zero and
// an unknown name decides the status, as Podman does.
func TestExitCodeSeveralNames(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	b.Run("create", "--name", "one", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("create", "--name", "two", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("run", "-d", "--name", "up", "--network", "none", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	r := b.Run("rm", "gone1", "one", "up", "two", "gone2").WantExit(t, 1)
	if r.Stdout != "one\ntwo\n" {
		t.Errorf("rm printed %q, want the removed names", r.Stdout)
	}
	for _, want := range []string{"no such container: gone1", "container is running", "no such container: gone2"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("rm stderr %q lacks %q", r.Stderr, want)
		}
	}
	if n := strings.Count(r.Stderr, "Error: "); n != 3 {
		t.Errorf("rm reported %d errors, want 3: %q", n, r.Stderr)
	}
	if got := b.Run("ps", "-a", "--format", "{{.Names}}").WantSuccess(t).Stdout; got != "up\n" {
		t.Errorf("after rm: %q", got)
	}
	// Only refusals of state: 2.
	b.Run("create", "--name", "three", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("rm", "up", "up").WantError(t, 2, "container is running")
	// -f skips the absent names and removes the rest.
	r = b.Run("rm", "-f", "gone", "up", "three").WantSuccess(t)
	if r.Stdout != "up\nthree\n" {
		t.Errorf("rm -f printed %q", r.Stdout)
	}
	// inspect prints what it found and reports each name it did not.
	for _, group := range [][]string{{"inspect"}, {"container", "inspect"}, {"volume", "inspect"}, {"image", "inspect"}, {"network", "inspect"}} {
		found := map[string]string{"inspect": "ic", "container": "ic", "volume": "iv", "image": "localhost/bb:1", "network": "inet"}[group[0]]
		switch group[0] {
		case "inspect":
			b.Run("create", "--name", "ic", "localhost/bb:1", "true").WantSuccess(t)
		case "volume":
			b.Run("volume", "create", "iv").WantSuccess(t)
		case "network":
			b.Run("network", "create", "inet").WantSuccess(t)
		}
		args := append(append([]string{}, group...), "--format", "found", "gone1", found, "gone2")
		r := b.Run(args...).WantExit(t, 1)
		if r.Stdout != "found\n" || strings.Count(r.Stderr, "Error: ") != 2 || !strings.Contains(r.Stderr, "gone1") || !strings.Contains(r.Stderr, "gone2") {
			t.Errorf("berth %v: stdout %q stderr %q", args, r.Stdout, r.Stderr)
		}
	}
	if r := b.Run("inspect", "gone1", "gone2").WantExit(t, 1); r.Stdout != "[]\n" {
		t.Errorf("inspect of missing names printed %q, want [] as Docker", r.Stdout)
	}
	b.Run("volume", "create", "v1").WantSuccess(t)
	r = b.Run("volume", "rm", "v1", "nosuch").WantError(t, 1, "no such volume: nosuch")
	if r.Stdout != "v1\n" {
		t.Errorf("volume rm printed %q", r.Stdout)
	}
}

func TestVersionFlagAndHelp(t *testing.T) {
	b := NewBerth(t)
	for _, flag := range []string{"--version", "-v"} {
		r := b.Run(flag).WantSuccess(t)
		if !strings.HasPrefix(r.Stdout, "berth version ") || strings.Count(r.Stdout, "\n") != 1 {
			t.Errorf("berth %s printed %q", flag, r.Stdout)
		}
	}
	// Scripts ask docker's {{.Server.Version}} (is the engine there?) and podman's {{.Client.Version}}.
	version := strings.TrimPrefix(strings.TrimSpace(b.Run("--version").Stdout), "berth version ")
	if got := b.Run("version", "--format", "{{.Server.Version}} {{.Client.Version}} {{.Client.APIVersion}}").WantSuccess(t).Stdout; got != version+" "+version+" 1.47\n" {
		t.Errorf("version --format: %q", got)
	}
	var v struct {
		Client, Server struct{ Version, ApiVersion string }
	}
	if err := json.Unmarshal([]byte(b.Run("version", "--format", "json").WantSuccess(t).Stdout), &v); err != nil || v.Server.Version != version || v.Client.ApiVersion != "1.47" {
		t.Errorf("version --format json: %+v %v", v, err)
	}
	r := b.Run("--help").WantSuccess(t)
	for _, want := range []string{"Exit status:", "  2    the object's state refuses", "  125  berth itself failed", "  127  the container's command is not found"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestPortAlreadyAllocated(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	port := freePort(t)
	pub := fmt.Sprintf("127.0.0.1:%d:80", port)
	b.Run("run", "-d", "--name", "first", "-p", pub, "localhost/bb:1", "sleep", "100").WantSuccess(t)
	b.Run("run", "-d", "--name", "second", "-p", pub, "localhost/bb:1", "sleep", "100").
		WantError(t, 125, fmt.Sprintf("Bind for 127.0.0.1:%d/tcp failed: port is already allocated", port))
	b.Run("create", "--name", "third", "-p", pub, "localhost/bb:1", "sleep", "100").WantSuccess(t)
	b.Run("start", "third").WantError(t, 125, "port is already allocated")
	if got := b.Run("inspect", "-f", "{{.State.Status}}", "first").WantSuccess(t).Stdout; got != "running\n" {
		t.Errorf("first after the clashes: %q", got)
	}
}

func TestRegistryUnauthorized(t *testing.T) {
	b := NewBerth(t)
	srv := basicAuthRegistry(t, "alice", "s3cret")
	b.Run("pull", srv+"/library/busybox:1").WantError(t, 1, "unauthorized")
	b.RunStdin([]byte("wrong\n"), "login", "-u", "alice", "--password-stdin", srv).WantError(t, 1, "unauthorized")
}
