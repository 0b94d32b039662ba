package tests

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDockerAPICompose drives Debian's docker-compose 1.29 (docker-py over the Engine API):
// two services on the project's network, a named volume, depends_on with a health check
// condition, a published port; up -d, ps, logs, exec, down -v.
func TestDockerAPICompose(t *testing.T) {
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skip("docker-compose not installed (apt-get install docker-compose)")
	}
	b := withImage(t)
	s := startAPI(t, b, "0")
	port := freePort(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(fmt.Sprintf(`version: "3.8"
services:
  db:
    image: localhost/bb:1
    command: ["sh", "-c", "echo db-up; echo stored > /data/f; touch /tmp/ready; exec sleep 300"]
    volumes:
      - dbdata:/data
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 1s
      retries: 10
  web:
    image: localhost/bb:1
    command: ["sh", "-c", "echo web-up; mkdir -p /www; echo hello-compose > /www/index.html; while true; do nc -l -p 8080 < /www/index.html; done"]
    ports:
      - "127.0.0.1:%d:8080"
    depends_on:
      db:
        condition: service_healthy
volumes:
  dbdata:
`, port)), 0o644)
	project := fmt.Sprintf("apic%d", os.Getpid()%100000)
	compose := func(args ...string) *Result {
		t.Helper()
		cmd := exec.Command("docker-compose", append([]string{"-p", project, "--ansi", "never"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+s.sock, "DOCKER_CONFIG="+s.config)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			<-done
			t.Fatalf("docker-compose %v timed out: %s", args, errb.String())
		}
		return &Result{Args: append([]string{"(compose)"}, args...), Stdout: out.String(), Stderr: errb.String(), Code: cmd.ProcessState.ExitCode()}
	}
	t.Cleanup(func() {
		if t.Failed() {
			compose("down", "-v", "-t", "1")
		}
	})

	r := compose("up", "-d").WantExit(t, 0)
	if !strings.Contains(r.Stderr, "Creating "+project+"_db_1 ... done") || !strings.Contains(r.Stderr, "Creating "+project+"_web_1 ... done") {
		t.Fatalf("up -d:\n%s", r.Stderr)
	}
	// depends_on service_healthy: db was healthy before web started.
	if got := b.Run("inspect", "--format", "{{.State.Health.Status}}", project+"_db_1").WantSuccess(t).Stdout; got != "healthy\n" {
		t.Errorf("db health: %q", got)
	}
	ps := compose("ps").WantExit(t, 0).Stdout
	if !strings.Contains(ps, project+"_db_1") || !strings.Contains(ps, "Up (healthy)") || !strings.Contains(ps, fmt.Sprintf("127.0.0.1:%d->8080/tcp", port)) {
		t.Errorf("ps:\n%s", ps)
	}
	var body []byte
	for i := 0; i < 50; i++ {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			body, _ = io.ReadAll(c)
			c.Close()
			if len(body) > 0 {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if string(body) != "hello-compose\n" {
		t.Errorf("published port answered %q", body)
	}
	logs := compose("logs", "--no-color").WantExit(t, 0).Stdout
	if !strings.Contains(logs, "db-up") || !strings.Contains(logs, "web-up") {
		t.Errorf("logs:\n%s", logs)
	}
	// exec, and the service name resolving on the project's network.
	if got := compose("exec", "-T", "web", "sh", "-c", "nslookup db >/dev/null && echo resolved").WantExit(t, 0).Stdout; got != "resolved\n" {
		t.Errorf("exec and service name resolution: %q", got)
	}
	mp := strings.TrimSpace(b.Run("volume", "inspect", "--format", "{{.Mountpoint}}", project+"_dbdata").WantSuccess(t).Stdout)
	if got, _ := os.ReadFile(filepath.Join(mp, "f")); string(got) != "stored\n" {
		t.Errorf("named volume holds %q", got)
	}
	r = compose("down", "-v", "-t", "1").WantExit(t, 0)
	if !strings.Contains(r.Stderr, "Removing network "+project+"_default") || !strings.Contains(r.Stderr, "Removing volume "+project+"_dbdata") {
		t.Errorf("down -v:\n%s", r.Stderr)
	}
	if got := b.Run("ps", "-aq").WantSuccess(t).Stdout + b.Run("volume", "ls", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("left after down -v: %q", got)
	}
	if got := b.Run("network", "ls", "-q", "--filter", "name="+project).WantSuccess(t).Stdout; got != "" {
		t.Errorf("network left after down -v: %q", got)
	}
}

// TestDockerAPISocketActivation hands the service its socket the way berth.socket does
// (LISTEN_FDS, through systemd-socket-activate): the first client starts it, it serves, and
// it exits once idle.
func TestDockerAPISocketActivation(t *testing.T) {
	RequireRoot(t)
	sa, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate not installed (systemd)")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not installed")
	}
	b := NewBerth(t)
	dir := t.TempDir()
	sock, unused := filepath.Join(dir, "act.sock"), filepath.Join(dir, "unused.sock")
	// The URI is not used: the socket systemd passes takes its place.
	args := append([]string{"-l", sock, berthBin}, "--root", b.Root, "--runroot", b.RunRoot, "system", "service", "--time", "1", "unix://"+unused)
	cmd := exec.Command(sa, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := &apiService{b: b, sock: sock, config: filepath.Join(t.TempDir(), "docker")}
	if got := s.docker(t, "version", "--format", "{{.Server.APIVersion}}").WantSuccess(t).Stdout; got != "1.51\n" {
		t.Errorf("docker version through the activated socket: %q", got)
	}
	if got := s.docker(t, "volume", "create", "act-vol").WantSuccess(t).Stdout; got != "act-vol\n" {
		t.Errorf("volume create: %q", got)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("activated service exited with %v: %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("activated service did not exit when idle")
	}
	if got := b.Run("volume", "ls", "-q").WantSuccess(t).Stdout; got != "act-vol\n" {
		t.Errorf("berth volume ls: %q", got)
	}
	if _, err := os.Stat(unused); !os.IsNotExist(err) {
		t.Errorf("the service made its own socket besides systemd's: %v", err)
	}
}
