package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
