package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/berth-project/berth/tests/fixture"
)

// apiService is a running `berth system service` on a socket of the test's own.
type apiService struct {
	b      *Berth
	sock   string
	cmd    *exec.Cmd
	done   chan error
	stderr bytes.Buffer
	config string // DOCKER_CONFIG: no login or context of the host's leaks in
}

// startAPI starts `berth system service --time IDLE unix://SOCK` for b and waits for the socket.
func startAPI(t *testing.T, b *Berth, idle string) *apiService {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not installed")
	}
	d := t.TempDir()
	s := &apiService{b: b, sock: filepath.Join(d, "api.sock"), done: make(chan error, 1), config: filepath.Join(d, "docker")}
	s.cmd = b.Cmd("system", "service", "--time", idle, "unix://"+s.sock)
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", s.sock); err == nil {
			c.Close()
			return s
		}
		select {
		case err := <-s.done:
			t.Fatalf("system service exited: %v; stderr: %s", err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("system service did not listen on %s; stderr: %s", s.sock, s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dockerCmd builds a docker CLI command against the service.
func (s *apiService) dockerCmd(args ...string) *exec.Cmd {
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+s.sock, "DOCKER_CONFIG="+s.config, "DOCKER_BUILDKIT=0",
		"DOCKER_CLI_HINTS=false")
	return cmd
}

// docker runs the real docker CLI against the service.
func (s *apiService) docker(t *testing.T, args ...string) *Result {
	t.Helper()
	return s.dockerStdin(t, nil, args...)
}

func (s *apiService) dockerStdin(t *testing.T, stdin []byte, args ...string) *Result {
	t.Helper()
	cmd := s.dockerCmd(args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("docker %v: timed out; stderr: %s; service: %s", args, errb.String(), s.stderr.String())
	}
	return &Result{Args: append([]string{"(docker)"}, args...), Stdout: out.String(), Stderr: errb.String(), Code: cmd.ProcessState.ExitCode()}
}

// get does one raw API request over the socket.
func (s *apiService) request(t *testing.T, method, path string, body io.Reader) (*http.Response, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", s.sock)
	}}, Timeout: 30 * time.Second}
	req, err := http.NewRequest(method, "http://berth"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestDockerAPIRunLogsExec(t *testing.T) {
	b := withImage(t)
	s := startAPI(t, b, "0")
	img := "localhost/bb:1"

	r := s.docker(t, "run", "--rm", img, "sh", "-c", "echo out; echo err >&2; exit 3").WantExit(t, 3)
	if r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("run --rm: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if got := b.Run("ps", "-aq").WantSuccess(t).Stdout; got != "" {
		t.Errorf("run --rm left %q", got)
	}
	s.docker(t, "run", "--rm", "localhost/nosuch:1", "true").WantExit(t, 125)

	// run -d: the same container berth's CLI sees.
	id := strings.TrimSpace(s.docker(t, "run", "-d", "--name", "api-web", "-l", "tier=api", img,
		"sh", "-c", "echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done").WantSuccess(t).Stdout)
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	if got := b.Run("ps", "--format", "{{.ID}} {{.Names}}").WantSuccess(t).Stdout; got != id[:12]+" api-web\n" {
		t.Errorf("berth ps: %q", got)
	}
	ps := s.docker(t, "ps", "--filter", "label=tier=api", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Status}}").WantSuccess(t).Stdout
	if !strings.HasPrefix(ps, id[:12]+" api-web "+img+" Up ") {
		t.Errorf("docker ps: %q", ps)
	}
	if got := s.docker(t, "ps", "-q", "--filter", "label=tier=other").WantSuccess(t).Stdout; got != "" {
		t.Errorf("docker ps with a label no container has: %q", got)
	}
	got := s.docker(t, "inspect", "--format", "{{.Name}} {{.State.Status}} {{.Config.Labels.tier}}", "api-web").WantSuccess(t).Stdout
	if got != "/api-web running api\n" {
		t.Errorf("docker inspect: %q", got)
	}
	s.docker(t, "inspect", "nosuch-api").WantExit(t, 1)

	// logs -f streams until the client goes away; plain logs end.
	cmd := s.dockerCmd("logs", "-f", "api-web")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	if !strings.HasPrefix(out.String(), "started\ntick 0\n") || !strings.Contains(out.String(), "tick 3\n") {
		t.Errorf("logs -f: %q", out.String())
	}
	if got := s.docker(t, "logs", "--tail", "1", "api-web").WantSuccess(t).Stdout; !strings.HasPrefix(got, "tick ") || strings.Count(got, "\n") != 1 {
		t.Errorf("logs --tail 1: %q", got)
	}

	// exec: output, stdin, exit status.
	r = s.docker(t, "exec", "api-web", "sh", "-c", "echo in $(hostname); echo e >&2; exit 4").WantExit(t, 4)
	if r.Stdout != "in "+id[:12]+"\n" || r.Stderr != "e\n" {
		t.Errorf("exec: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if got := s.dockerStdin(t, []byte("piped\n"), "exec", "-i", "api-web", "cat").WantSuccess(t).Stdout; got != "piped\n" {
		t.Errorf("exec -i: %q", got)
	}
	s.docker(t, "exec", "api-web", "nosuchcmd").WantExit(t, 127)

	if got := s.docker(t, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "api-web").WantSuccess(t).Stdout; got != "api-web 2\n" && got != "api-web 1\n" {
		t.Errorf("stats --no-stream: %q", got)
	}
	if got := s.docker(t, "top", "api-web").WantSuccess(t).Stdout; !strings.Contains(got, "PID") || !strings.Contains(got, "sleep") && !strings.Contains(got, "sh -c") {
		t.Errorf("top: %q", got)
	}
	s.docker(t, "stop", "-t", "1", "api-web").WantSuccess(t)
	if got := b.Run("inspect", "--format", "{{.State.Status}}", "api-web").WantSuccess(t).Stdout; got != "exited\n" {
		t.Errorf("after docker stop, berth sees %q", got)
	}
	s.docker(t, "rm", "api-web").WantSuccess(t)
	s.docker(t, "rm", "api-web").WantExit(t, 1)
	if got := b.Run("ps", "-aq").WantSuccess(t).Stdout; got != "" {
		t.Errorf("after docker rm: %q", got)
	}
}

var _ = json.Marshal

func TestDockerAPIServiceIdleExitAndErrors(t *testing.T) {
	RequireRoot(t)
	b := NewBerth(t)
	s := startAPI(t, b, "2")
	fi, err := os.Stat(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want a socket with 0660", fi.Mode())
	}
	// A second service on the same socket refuses, leaving the first serving.
	b.Run("system", "service", "unix://"+s.sock).WantError(t, 2, "already listening")
	b.Run("system", "service", "tcp://127.0.0.1:1").WantError(t, 1, "invalid URI")

	for _, p := range []string{"/_ping", "/v1.44/_ping", "/v1.51/_ping"} {
		resp, body := s.request(t, "GET", p, nil)
		if resp.StatusCode != 200 || body != "OK" || resp.Header.Get("Api-Version") != "1.51" {
			t.Errorf("GET %s: %d %q Api-Version %q", p, resp.StatusCode, body, resp.Header.Get("Api-Version"))
		}
	}
	resp, body := s.request(t, "GET", "/v1.20/version", nil)
	if resp.StatusCode != 400 || !strings.Contains(body, "Minimum supported API version is 1.44") {
		t.Errorf("old client: %d %s", resp.StatusCode, body)
	}
	// Endpoints berth does not serve: Docker's JSON error with 501, at once.
	for _, p := range []string{"/v1.51/swarm", "/plugins", "/v1.44/containers/x/checkpoints"} {
		resp, body := s.request(t, "GET", p, nil)
		var e struct{ Message string }
		if resp.StatusCode != 501 || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Message, "does not implement") {
			t.Errorf("GET %s: %d %q", p, resp.StatusCode, body)
		}
	}
	resp, body = s.request(t, "GET", "/containers/nosuch/json", nil)
	if resp.StatusCode != 404 || !strings.Contains(body, `"message"`) {
		t.Errorf("missing container: %d %s", resp.StatusCode, body)
	}
	resp, body = s.request(t, "POST", "/containers/create", strings.NewReader(`{"Image": "localhost/bb:1", "HostConfig": {`))
	if resp.StatusCode != 400 {
		t.Errorf("bad JSON: %d %s", resp.StatusCode, body)
	}
	resp, _ = s.request(t, "POST", "/volumes/create", strings.NewReader(`{"Name": "api-vol"}`))
	if resp.StatusCode != 201 {
		t.Fatalf("volume create: %d", resp.StatusCode)
	}
	resp, body = s.request(t, "POST", "/volumes/create", strings.NewReader(`{"Name": "api-vol"}`))
	if resp.StatusCode != 201 || !strings.Contains(body, `"Name":"api-vol"`) { // Docker answers with the existing volume
		t.Errorf("volume create again: %d %s", resp.StatusCode, body)
	}
	if got := s.docker(t, "version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}}").WantSuccess(t).Stdout; got != "1.51 1.44\n" {
		t.Errorf("docker version: %q", got)
	}

	// Idle: no request for --time seconds and the service exits by itself, removing its socket.
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Errorf("service exited with %v; stderr %s", err, s.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("service still running 15s after its last request with --time 2")
	}
	if _, err := os.Stat(s.sock); !os.IsNotExist(err) {
		t.Errorf("socket left after idle exit: %v", err)
	}
	if s.stderr.Len() != 0 {
		t.Errorf("service stderr: %s", s.stderr.String())
	}
}

// ptyDocker runs a docker CLI command on a terminal sized 33x99, typing input once the
// command has printed something, and returns what the terminal showed and the exit code.
func ptyDocker(t *testing.T, cmd *exec.Cmd, wait string, input string) (string, int) {
	t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 33, Cols: 99})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		seen := strings.Contains(out.String(), wait)
		mu.Unlock()
		if seen || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	io.WriteString(f, input)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		mu.Lock()
		t.Fatalf("docker %v on a terminal timed out; output %q", cmd.Args, out.String())
	}
	time.Sleep(100 * time.Millisecond) // the last output in flight
	mu.Lock()
	defer mu.Unlock()
	return out.String(), cmd.ProcessState.ExitCode()
}

func TestDockerAPIInteractiveTTY(t *testing.T) {
	b := withImage(t)
	s := startAPI(t, b, "0")
	s.docker(t, "run", "-d", "--name", "api-tty", "localhost/bb:1", "sleep", "60").WantSuccess(t)

	// exec -it: a terminal of the client's size, input echoed back, the shell's exit status.
	out, code := ptyDocker(t, s.dockerCmd("exec", "-it", "api-tty", "sh"), "# ", "stty size; tty; echo typed-$((6*7)); exit 5\n")
	if code != 5 || !strings.Contains(out, "33 99") || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "typed-42") {
		t.Errorf("exec -it: exit %d, output %q", code, out)
	}
	// run -it --rm: the same through an attach before start.
	out, code = ptyDocker(t, s.dockerCmd("run", "-it", "--rm", "localhost/bb:1", "sh"), "# ", "stty size; echo run-$((2*3)); exit 3\n")
	if code != 3 || !strings.Contains(out, "33 99") || !strings.Contains(out, "run-6") {
		t.Errorf("run -it: exit %d, output %q", code, out)
	}
	if got := b.Run("ps", "-a", "--format", "{{.Names}}").WantSuccess(t).Stdout; got != "api-tty\n" {
		t.Errorf("after run -it --rm: %q", got)
	}
	// run -i without a terminal: stdin reaches the container and its end closes it.
	if got := s.dockerStdin(t, []byte("one\ntwo\n"), "run", "-i", "--rm", "localhost/bb:1", "wc", "-l").WantSuccess(t).Stdout; strings.TrimSpace(got) != "2" {
		t.Errorf("run -i: %q", got)
	}
	s.docker(t, "rm", "-f", "api-tty").WantSuccess(t)
}

// legacyBuilderNotice is what the docker CLI itself prints on stderr with DOCKER_BUILDKIT=0.
const legacyBuilderNotice = `DEPRECATED: The legacy builder is deprecated and will be removed in a future release.
            BuildKit is currently disabled; enable it by removing the DOCKER_BUILDKIT=0
            environment-variable.`

func TestDockerAPIImagesBuildCopy(t *testing.T) {
	RequireRoot(t)
	reg := fixture.StartRegistry(t)
	b := NewBerth(t)
	s := startAPI(t, b, "0")
	img := busyboxImage(t)
	ref := reg.Addr + "/api/busybox:1"
	pushFixture(t, ref, img)

	r := s.docker(t, "pull", ref).WantSuccess(t)
	for _, want := range []string{"1: Pulling from " + reg.Addr + "/api/busybox", "Pull complete", "Digest: " + digestOf(t, img), "Status: Downloaded newer image for " + ref} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("docker pull output lacks %q:\n%s", want, r.Stdout)
		}
	}
	id, _ := img.ConfigName()
	if got := s.docker(t, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").WantSuccess(t).Stdout; got != ref+" "+id.Hex[:12]+"\n" {
		t.Errorf("docker images: %q", got)
	}
	if got := b.Run("images", "-q").WantSuccess(t).Stdout; got != id.Hex[:12]+"\n" {
		t.Errorf("berth images after docker pull: %q", got)
	}
	s.docker(t, "pull", reg.Addr+"/api/nosuch:1").WantExit(t, 1)

	// tag, push to the registry, pull back as another name, rmi.
	pushed := reg.Addr + "/api/pushed:2"
	s.docker(t, "tag", ref, pushed).WantSuccess(t)
	r = s.docker(t, "push", pushed).WantSuccess(t)
	if !strings.Contains(r.Stdout, "The push refers to repository ["+reg.Addr+"/api/pushed]") || !strings.Contains(r.Stdout, "2: digest: sha256:") {
		t.Errorf("docker push output:\n%s", r.Stdout)
	}
	r = s.docker(t, "rmi", pushed).WantSuccess(t)
	if r.Stdout != "Untagged: "+pushed+"\n" {
		t.Errorf("docker rmi: %q", r.Stdout)
	}
	s.docker(t, "pull", "-q", pushed).WantSuccess(t)
	if got := s.docker(t, "image", "inspect", "--format", "{{.Id}} {{index .Config.Labels \"tier\"}}", pushed).WantSuccess(t).Stdout; got != id.String()+" test\n" {
		t.Errorf("image inspect: %q", got)
	}
	if got := s.docker(t, "history", "-q", pushed).WantSuccess(t).Stdout; !strings.HasPrefix(got, id.Hex[:12]+"\n") {
		t.Errorf("history: %q", got)
	}
	s.docker(t, "rmi", "nosuch:1").WantExit(t, 1)

	// build (the legacy builder's stream) from a tar context.
	ctxDir := t.TempDir()
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM "+ref+"\nCOPY msg /msg\nRUN cat /msg > /copied\nLABEL built=api\n"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "msg"), []byte("from the context\n"), 0o644)
	r = s.docker(t, "build", "-t", "localhost/api-built:1", ctxDir).WantExit(t, 0)
	if !strings.Contains(r.Stdout, "COPY msg /msg") || !strings.Contains(r.Stdout, "Successfully tagged localhost/api-built:1") ||
		strings.TrimSpace(strings.ReplaceAll(r.Stderr, legacyBuilderNotice, "")) != "" {
		t.Errorf("docker build output:\n%s", r.Stdout)
	}
	if got := s.docker(t, "run", "--rm", "localhost/api-built:1", "cat", "/copied").WantSuccess(t).Stdout; got != "from the context\n" {
		t.Errorf("built image: %q", got)
	}
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM "+ref+"\nRUN exit 7\n"), 0o644)
	s.docker(t, "build", ctxDir).WantExit(t, 1)

	// cp both ways, on a running container.
	s.docker(t, "run", "-d", "--name", "api-cp", ref, "sleep", "60").WantSuccess(t)
	src := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(src, []byte("copied in\n"), 0o644)
	s.docker(t, "cp", src, "api-cp:/tmp/").WantSuccess(t)
	if got := s.docker(t, "exec", "api-cp", "cat", "/tmp/in.txt").WantSuccess(t).Stdout; got != "copied in\n" {
		t.Errorf("cp in: %q", got)
	}
	dst := t.TempDir()
	s.docker(t, "cp", "api-cp:/app/hello", dst).WantSuccess(t)
	if got, _ := os.ReadFile(filepath.Join(dst, "hello")); string(got) != "hello\n" {
		t.Errorf("cp out: %q", got)
	}
	s.docker(t, "cp", "api-cp:/nosuch", dst).WantExit(t, 1)

	// commit, then save and load the result.
	s.docker(t, "commit", "-c", "LABEL committed=yes", "api-cp", "localhost/api-committed:1").WantSuccess(t)
	if got := s.docker(t, "run", "--rm", "localhost/api-committed:1", "cat", "/tmp/in.txt").WantSuccess(t).Stdout; got != "copied in\n" {
		t.Errorf("committed image: %q", got)
	}
	archive := filepath.Join(t.TempDir(), "saved.tar")
	s.docker(t, "save", "-o", archive, "localhost/api-committed:1").WantSuccess(t)
	s.docker(t, "rmi", "localhost/api-committed:1").WantSuccess(t)
	if got := s.docker(t, "load", "-i", archive).WantSuccess(t).Stdout; got != "Loaded image: localhost/api-committed:1\n" {
		t.Errorf("load: %q", got)
	}
	if got := s.docker(t, "image", "inspect", "--format", "{{.Config.Labels.committed}}", "localhost/api-committed:1").WantSuccess(t).Stdout; got != "yes\n" {
		t.Errorf("loaded image label: %q", got)
	}
	s.docker(t, "rm", "-f", "api-cp").WantSuccess(t)
}

func TestDockerAPINetworksVolumesEvents(t *testing.T) {
	b := withImage(t)
	s := startAPI(t, b, "0")
	img := "localhost/bb:1"
	since := time.Now().Add(-time.Second).Unix()
	net1 := fmt.Sprintf("apinet%d", os.Getpid()%100000)

	// network create/ls/inspect/connect/disconnect/rm
	nid := strings.TrimSpace(s.docker(t, "network", "create", "--label", "app=api", net1).WantSuccess(t).Stdout)
	if len(nid) < 12 {
		t.Fatalf("network create printed %q", nid)
	}
	if got := s.docker(t, "network", "ls", "--filter", "label=app=api", "--format", "{{.Name}} {{.Driver}}").WantSuccess(t).Stdout; got != net1+" bridge\n" {
		t.Errorf("network ls: %q", got)
	}
	subnet := strings.TrimSpace(s.docker(t, "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", net1).WantSuccess(t).Stdout)
	prefix, _, ok := strings.Cut(subnet, "0/24")
	if !ok {
		t.Fatalf("network inspect: subnet %q", subnet)
	}
	s.docker(t, "network", "create", net1).WantExit(t, 1)
	s.docker(t, "run", "-d", "--name", "api-srv", "--network", net1, "--network-alias", "srv", img, "sleep", "60").WantSuccess(t)
	if got := s.docker(t, "run", "--rm", "--network", net1, img, "sh", "-c", "nslookup srv >/dev/null && echo resolved").WantSuccess(t).Stdout; got != "resolved\n" {
		t.Errorf("alias on a user network: %q", got)
	}
	s.docker(t, "network", "rm", net1).WantExit(t, 1) // in use
	s.docker(t, "run", "-d", "--name", "api-other", img, "sleep", "60").WantSuccess(t)
	s.docker(t, "network", "connect", net1, "api-other").WantSuccess(t)
	if got := s.docker(t, "exec", "api-other", "sh", "-c", "ip -4 addr | grep -c "+prefix).WantSuccess(t).Stdout; got != "1\n" {
		t.Errorf("after network connect: %q", got)
	}
	s.docker(t, "network", "disconnect", net1, "api-other").WantSuccess(t)
	s.docker(t, "rm", "-f", "api-srv", "api-other").WantSuccess(t)
	s.docker(t, "network", "rm", net1).WantSuccess(t)
	s.docker(t, "network", "inspect", net1).WantExit(t, 1)

	// volume create/ls/inspect/use/rm/prune
	s.docker(t, "volume", "create", "--label", "app=api", "api-data").WantSuccess(t)
	if got := s.docker(t, "volume", "ls", "--filter", "label=app=api", "--format", "{{.Name}} {{.Driver}}").WantSuccess(t).Stdout; got != "api-data local\n" {
		t.Errorf("volume ls: %q", got)
	}
	s.docker(t, "run", "--rm", "-v", "api-data:/data", img, "sh", "-c", "echo kept > /data/f").WantSuccess(t)
	if got := s.docker(t, "run", "--rm", "--mount", "type=volume,source=api-data,target=/d,readonly", img, "cat", "/d/f").WantSuccess(t).Stdout; got != "kept\n" {
		t.Errorf("volume contents: %q", got)
	}
	mp := strings.TrimSpace(s.docker(t, "volume", "inspect", "--format", "{{.Mountpoint}}", "api-data").WantSuccess(t).Stdout)
	if got, _ := os.ReadFile(filepath.Join(mp, "f")); string(got) != "kept\n" {
		t.Errorf("volume mountpoint %s holds %q", mp, got)
	}
	if got := b.Run("volume", "ls", "-q").WantSuccess(t).Stdout; got != "api-data\n" {
		t.Errorf("berth volume ls: %q", got)
	}
	// system df counts it.
	df := s.docker(t, "system", "df", "--format", "{{.Type}} {{.TotalCount}}").WantSuccess(t).Stdout
	if !strings.Contains(df, "Images 1\n") || !strings.Contains(df, "Local Volumes 1\n") || !strings.Contains(df, "Containers 0\n") {
		t.Errorf("system df:\n%s", df)
	}
	s.docker(t, "volume", "rm", "api-data").WantSuccess(t)
	s.docker(t, "volume", "rm", "api-data").WantExit(t, 1)
	s.docker(t, "volume", "create", "api-junk").WantSuccess(t)
	if got := s.docker(t, "volume", "prune", "-af").WantSuccess(t).Stdout; !strings.Contains(got, "api-junk") {
		t.Errorf("volume prune: %q", got)
	}

	// events: the window since the test began, filtered, ending at until.
	until := time.Now().Unix() + 1
	time.Sleep(1100 * time.Millisecond)
	ev := s.docker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "--filter", "type=container",
		"--filter", "container=api-srv", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}").WantSuccess(t).Stdout
	for _, want := range []string{"container create api-srv\n", "container start api-srv\n", "container destroy api-srv\n"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events lack %q:\n%s", want, ev)
		}
	}
	if strings.Contains(ev, "api-other") || strings.Contains(ev, "volume") {
		t.Errorf("events filter let others through:\n%s", ev)
	}
	ev = s.docker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "--filter", "type=network", "--format", "{{.Action}}").WantSuccess(t).Stdout
	if !strings.Contains(ev, "create\n") || !strings.Contains(ev, "connect\n") || !strings.Contains(ev, "destroy\n") {
		t.Errorf("network events:\n%s", ev)
	}
	// Following: an event that happens while the client listens reaches it.
	cmd := s.dockerCmd("events", "--filter", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}")
	var out bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout = &lockedWriter{w: &out, mu: &mu}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(500 * time.Millisecond)
	b.Run("volume", "create", "api-followed").WantSuccess(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := out.String()
		mu.Unlock()
		if got == "create api-followed\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events (following) saw %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDockerAPILifecycle(t *testing.T) {
	b := withImage(t)
	s := startAPI(t, b, "0")
	img := "localhost/bb:1"
	s.docker(t, "create", "--name", "api-life", img, "sh", "-c", "echo begin; trap 'echo got-term; exit 9' TERM; while true; do sleep 0.1; done").WantSuccess(t)
	if got := s.docker(t, "ps", "-a", "--filter", "status=created", "--format", "{{.Names}} {{.Status}}").WantSuccess(t).Stdout; got != "api-life Created\n" {
		t.Errorf("ps created: %q", got)
	}
	s.docker(t, "start", "api-life").WantSuccess(t)
	s.docker(t, "start", "api-life").WantSuccess(t) // already running: 304, no error
	s.docker(t, "pause", "api-life").WantSuccess(t)
	if got := b.Run("inspect", "--format", "{{.State.Status}}", "api-life").WantSuccess(t).Stdout; got != "paused\n" {
		t.Errorf("after docker pause: %q", got)
	}
	s.docker(t, "exec", "api-life", "true").WantExit(t, 1) // paused
	s.docker(t, "unpause", "api-life").WantSuccess(t)
	s.docker(t, "rename", "api-life", "api-life2").WantSuccess(t)
	s.docker(t, "rm", "api-life2").WantExit(t, 1) // running
	// stop sends the signal the shell traps; wait reports its status.
	s.docker(t, "stop", "api-life2").WantSuccess(t)
	if got := s.docker(t, "wait", "api-life2").WantSuccess(t).Stdout; got != "9\n" {
		t.Errorf("wait: %q", got)
	}
	if got := s.docker(t, "logs", "-t", "api-life2").WantSuccess(t).Stdout; !strings.Contains(got, "Z begin\n") || !strings.Contains(got, "Z got-term\n") {
		t.Errorf("logs -t: %q", got)
	}
	s.docker(t, "restart", "-t", "1", "api-life2").WantSuccess(t)
	s.docker(t, "kill", "-s", "KILL", "api-life2").WantSuccess(t)
	if got := s.docker(t, "wait", "api-life2").WantSuccess(t).Stdout; got != "137\n" {
		t.Errorf("wait after kill: %q", got)
	}
	// docker attach to a running container sees its output until it exits.
	s.docker(t, "run", "-d", "--name", "api-att", img, "sh", "-c", "sleep 1; echo late; exit 6").WantSuccess(t)
	r := s.docker(t, "attach", "api-att").WantExit(t, 6)
	if r.Stdout != "late\n" {
		t.Errorf("attach: %q", r.Stdout)
	}
	if got := s.docker(t, "container", "prune", "-f").WantSuccess(t).Stdout; !strings.Contains(got, "Deleted Containers:") {
		t.Errorf("container prune: %q", got)
	}
	if got := b.Run("ps", "-aq").WantSuccess(t).Stdout; got != "" {
		t.Errorf("after prune: %q", got)
	}
}
