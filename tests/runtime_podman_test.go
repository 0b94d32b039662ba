package tests

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/tests/fixture"
)

// TestRuntimeUnderPodman is the compatibility proof: podman drives berth-runtime through
// conmon for run, detached run, exec, stop and rm.
func TestRuntimeUnderPodman(t *testing.T) {
	RequireRoot(t)
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman not installed")
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "bb.tar")
	if err := fixture.WriteDockerArchive(archive, "localhost/bb:1", busyboxImage(t)); err != nil {
		t.Fatal(err)
	}
	p := podmanRunner{bin: podman, args: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"--runtime", filepath.Join(filepath.Dir(berthBin), "berth-runtime")}}
	if out, code := p.run("load", "-i", archive); code != 0 {
		t.Fatalf("podman load: %s", out)
	}
	if out, code := p.run("run", "--rm", "--network", "none", "localhost/bb:1", "echo", "hi"); code != 0 || out != "hi\n" {
		t.Fatalf("podman run --rm: exit %d %q", code, out)
	}
	if out, code := p.run("run", "--rm", "--network", "none", "localhost/bb:1", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit status through podman: %d %q", code, out)
	}
	if _, code := p.run("run", "--rm", "--network", "none", "localhost/bb:1", "nosuchcmd"); code != 127 {
		t.Errorf("missing command through podman: exit %d, want 127", code)
	}
	out, code := p.run("run", "-d", "--network", "none", "localhost/bb:1", "sleep", "1000")
	if code != 0 {
		t.Fatalf("podman run -d: %s", out)
	}
	id := strings.TrimSpace(out)
	if out, code := p.run("exec", id, "sh", "-c", "echo in $$"); code != 0 || !strings.HasPrefix(out, "in ") {
		t.Errorf("podman exec: %d %q", code, out)
	}
	if out, _ := p.run("ps", "--format", "{{.ID}} {{.Status}}"); !strings.Contains(out, "Up") {
		t.Errorf("podman ps: %q", out)
	}
	if out, code := p.run("stop", "-t", "1", id); code != 0 {
		t.Errorf("podman stop: %s", out)
	}
	if out, code := p.run("rm", id); code != 0 {
		t.Errorf("podman rm: %s", out)
	}
}

type podmanRunner struct {
	bin  string
	args []string
}

func (p podmanRunner) run(args ...string) (string, int) {
	cmd := exec.Command(p.bin, append(append([]string{}, p.args...), args...)...)
	out, _ := cmd.Output()
	return string(out), cmd.ProcessState.ExitCode()
}

// TestRuntimeConsoleSocket checks that a terminal container's pty master arrives over the
// console socket and carries the container's output.
func TestRuntimeConsoleSocket(t *testing.T) {
	rt := runtimes(t)[0]
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 256), make([]byte, 64)
		_, oobn, _, _, err := c.(*net.UnixConn).ReadMsgUnix(buf, oob)
		if err != nil {
			got <- err.Error()
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		fds, _ := unix.ParseUnixRights(&msgs[0])
		master := os.NewFile(uintptr(fds[0]), "master")
		b := make([]byte, 256)
		n, _ := master.Read(b)
		got <- string(b[:n])
	}()
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"sh", "-c", "test -t 0 && echo is-a-tty; sleep 1"}
	})
	id := containerID(t)
	if out, code := rt.run(t, "create", "--bundle", b, "--console-socket", sock, id); code != 0 {
		t.Fatalf("create: %s", out)
	}
	rt.run(t, "start", id)
	if s := <-got; !strings.Contains(s, "is-a-tty") {
		t.Errorf("console output %q", s)
	}
	rt.run(t, "delete", "-f", id)
}
