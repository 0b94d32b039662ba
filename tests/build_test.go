package tests

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/tests/fixture"
)

// buildContext writes files (path -> content) into a new context directory.
func buildContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// lastLine is the image ID a build prints last.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func inspectConfig(t *testing.T, b *Berth, ref string) map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal([]byte(b.Run("image", "inspect", ref).WantSuccess(t).Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	return out[0]
}

func TestBuildInstructions(t *testing.T) {
	b := withImage(t)
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	tw.WriteHeader(&tar.Header{Name: "x/in-tar.txt", Mode: 0o644, Size: 8, Typeflag: tar.TypeReg})
	tw.Write([]byte("fromtar\n"))
	tw.Close()
	ctx := buildContext(t, map[string]string{
		"Dockerfile": `# syntax=docker/dockerfile:1
ARG BASE=localhost/bb:1
FROM ${BASE} AS base
ARG GREETING=hello
ENV APP_HOME=/srv/app LEVEL=3
WORKDIR $APP_HOME
COPY hello.txt ./
COPY --chmod=0600 --chown=65534:65534 secret.conf /etc/app.conf
COPY dir/ /copied/
ADD files.tar /extracted/
RUN echo "$GREETING from $(pwd) level $LEVEL" > /srv/app/run.txt
RUN ["/bin/sh", "-c", "echo exec-form > /srv/app/exec.txt"]
RUN <<EOT
echo heredoc-line1 > /srv/app/heredoc.txt
echo heredoc-line2 >> /srv/app/heredoc.txt
EOT
SHELL ["/bin/sh", "-c"]
USER nobody
EXPOSE 8080 53/udp
LABEL org.test.built="yes" version=1.0
VOLUME /data
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s CMD true
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /srv/app/run.txt"]
`,
		"hello.txt":     "hello file\n",
		"secret.conf":   "conf\n",
		"dir/a.txt":     "a\n",
		"dir/sub/b.txt": "b\n",
	})
	if err := os.WriteFile(filepath.Join(ctx, "files.tar"), tarBuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := b.Run("build", "-t", "localhost/built:1", "-t", "localhost/built:also", "--build-arg", "GREETING=hi", ctx).WantSuccess(t)
	if !strings.Contains(r.Stdout, "STEP") {
		t.Errorf("no step lines in %q", r.Stdout)
	}
	id := lastLine(r.Stdout)
	if got := b.Run("run", "--rm", "localhost/built:1").WantSuccess(t).Stdout; got != "hi from /srv/app level 3\n" {
		t.Errorf("CMD output %q", got)
	}
	check := "cat hello.txt exec.txt heredoc.txt /copied/a.txt /copied/sub/b.txt /extracted/x/in-tar.txt; stat -c '%a %u' /etc/app.conf; id -u"
	want := "hello file\nexec-form\nheredoc-line1\nheredoc-line2\na\nb\nfromtar\n600 65534\n65534\n"
	if got := b.Run("run", "--rm", "localhost/built:also", check).WantSuccess(t).Stdout; got != want {
		t.Errorf("files:\n%s\nwant:\n%s", got, want)
	}
	in := inspectConfig(t, b, "localhost/built:1")
	if !strings.HasPrefix(in["Id"].(string), "sha256:") || !strings.Contains(in["Id"].(string), strings.TrimPrefix(id, "sha256:")) {
		t.Errorf("build printed %q, image is %v", id, in["Id"])
	}
	cfg := in["Config"].(map[string]any)
	for k, want := range map[string]string{
		"User": "nobody", "WorkingDir": "/srv/app", "StopSignal": "SIGTERM",
		"Entrypoint": "[/bin/sh -c]", "Cmd": "[cat /srv/app/run.txt]",
		"ExposedPorts": "map[53/udp:map[] 8080/tcp:map[]]", "Volumes": "map[/data:map[]]",
		"Labels": "map[org.test.built:yes org.test.name:busybox tier:test version:1.0]",
	} {
		if got := fmt.Sprint(cfg[k]); got != want {
			t.Errorf("Config.%s = %s, want %s", k, got, want)
		}
	}
	if env := fmt.Sprint(cfg["Env"]); !strings.Contains(env, "APP_HOME=/srv/app") || !strings.Contains(env, "LEVEL=3") {
		t.Errorf("Env %s", env)
	}
	if hc := fmt.Sprint(cfg["Healthcheck"]); !strings.Contains(hc, "CMD true") && !strings.Contains(hc, "true") {
		t.Errorf("Healthcheck %s", hc)
	}
	// History: one entry per instruction, empty_layer on config-only steps.
	h := b.Run("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "localhost/built:1").WantSuccess(t).Stdout
	if !strings.Contains(h, "ENV APP_HOME=/srv/app LEVEL=3") || !strings.Contains(h, "RUN") {
		t.Errorf("history:\n%s", h)
	}
}

func TestBuildCacheAndRerun(t *testing.T) {
	b := withImage(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": `FROM localhost/bb:1
COPY a.txt /a.txt
RUN --mount=type=cache,target=/counter,id=runs1 echo run1 >> /counter/n && echo ran-step-""1
COPY b.txt /b.txt
RUN --mount=type=cache,target=/counter,id=runs2 echo run2 >> /counter/n && echo ran-step-""2
`,
		"a.txt": "a\n",
		"b.txt": "b\n",
	})
	first := b.Run("build", "-t", "localhost/cached:1", ctx).WantSuccess(t)
	if !strings.Contains(first.Stdout, "ran-step-1") || !strings.Contains(first.Stdout, "ran-step-2") {
		t.Fatalf("first build did not run both steps:\n%s", first.Stdout)
	}
	second := b.Run("build", "-t", "localhost/cached:1", ctx).WantSuccess(t)
	if strings.Contains(second.Stdout, "ran-step-1") || strings.Contains(second.Stdout, "ran-step-2") || strings.Count(second.Stdout, "Using cache") < 4 {
		t.Errorf("second build ran steps again:\n%s", second.Stdout)
	}
	if lastLine(first.Stdout) != lastLine(second.Stdout) {
		t.Errorf("cached rebuild gave %s, first %s", lastLine(second.Stdout), lastLine(first.Stdout))
	}
	// Intermediate images hide from `images` and show with -a.
	if got := b.Run("images", "--format", "{{.Repository}}:{{.Tag}}").WantSuccess(t).Stdout; got != "localhost/cached:1\nlocalhost/bb:1\n" {
		t.Errorf("images shows intermediates:\n%s", got)
	}
	if got := b.Run("images", "-a", "-q").WantSuccess(t).Stdout; strings.Count(got, "\n") != 5 {
		t.Errorf("images -a: want the 2 images and 3 intermediates, got\n%s", got)
	}
	counts := func() (int, int) {
		n := [2]int{}
		for i, id := range []string{"runs1", "runs2"} {
			df := fmt.Sprintf("FROM localhost/bb:1\nRUN --mount=type=cache,target=/c,id=%s wc -l < /c/n > /count\n", id)
			out := lastLine(b.RunStdin([]byte(df), "build", "--no-cache", "-q", "-f", "-", ctx).WantSuccess(t).Stdout)
			n[i], _ = strconv.Atoi(strings.TrimSpace(b.Run("run", "--rm", out, "cat", "/count").WantSuccess(t).Stdout))
		}
		return n[0], n[1]
	}
	if c1, c2 := counts(); c1 != 1 || c2 != 1 {
		t.Errorf("after a cached rebuild: step 1 ran %d times, step 2 %d, want 1 and 1", c1, c2)
	}
	// Changing b.txt re-runs only what follows its COPY.
	os.WriteFile(filepath.Join(ctx, "b.txt"), []byte("b changed\n"), 0o644)
	third := b.Run("build", "-t", "localhost/cached:1", ctx).WantSuccess(t)
	if strings.Contains(third.Stdout, "ran-step-1") || !strings.Contains(third.Stdout, "ran-step-2") {
		t.Errorf("after changing b.txt:\n%s", third.Stdout)
	}
	if c1, c2 := counts(); c1 != 1 || c2 != 2 {
		t.Errorf("after changing b.txt: step 1 ran %d times, step 2 %d, want 1 and 2", c1, c2)
	}
	// --no-cache runs everything again.
	fourth := b.Run("build", "--no-cache", "-t", "localhost/cached:1", ctx).WantSuccess(t)
	if !strings.Contains(fourth.Stdout, "ran-step-1") || strings.Contains(fourth.Stdout, "Using cache") {
		t.Errorf("--no-cache:\n%s", fourth.Stdout)
	}
	// builder prune removes the intermediates; tagged images stay.
	shown := b.Run("images", "-q").WantSuccess(t).Stdout
	b.Run("builder", "prune", "-a", "-f").WantSuccess(t)
	after := b.Run("images", "-a", "-q").WantSuccess(t).Stdout
	if after != shown {
		t.Errorf("after builder prune: images -a\n%s\nwant\n%s", after, shown)
	}
	b.Run("run", "--rm", "localhost/cached:1", "cat", "/b.txt").WantSuccess(t)
	rebuilt := b.Run("build", "-t", "localhost/cached:1", ctx).WantSuccess(t)
	if !strings.Contains(rebuilt.Stdout, "ran-step-2") {
		t.Errorf("after prune the cache should be gone:\n%s", rebuilt.Stdout)
	}
}

func TestBuildMultiStageParallel(t *testing.T) {
	b := withImage(t)
	df := `FROM localhost/bb:1 AS one
RUN cut -d' ' -f1 /proc/uptime > /start; sleep 2; cut -d' ' -f1 /proc/uptime > /end
FROM localhost/bb:1 AS two
RUN cut -d' ' -f1 /proc/uptime > /start; sleep 2; cut -d' ' -f1 /proc/uptime > /end
FROM localhost/bb:1 AS unused
RUN exit 9
FROM localhost/bb:1
COPY --from=one /start /one.start
COPY --from=one /end /one.end
COPY --from=two /start /two.start
COPY --from=two /end /two.end
`
	ctx := buildContext(t, map[string]string{"Dockerfile": df})
	b.Run("build", "-t", "localhost/multi:1", ctx).WantSuccess(t)
	out := b.Run("run", "--rm", "localhost/multi:1", "cat", "/one.start", "/one.end", "/two.start", "/two.end").WantSuccess(t).Stdout
	var v [4]float64
	for i, f := range strings.Fields(out) {
		if i < 4 {
			v[i], _ = strconv.ParseFloat(f, 64)
		}
	}
	// The two stages overlapped: each started before the other ended.
	if !(v[0] < v[3] && v[2] < v[1]) {
		t.Errorf("stages ran one after the other: one %v-%v, two %v-%v", v[0], v[1], v[2], v[3])
	}
	// --target builds only what the target needs: "unused" fails if it runs.
	r := b.Run("build", "--target", "one", "-t", "localhost/multi:one", ctx).WantSuccess(t)
	if strings.Contains(r.Stdout, "exit 9") {
		t.Errorf("--target one built the unused stage:\n%s", r.Stdout)
	}
	b.Run("run", "--rm", "localhost/multi:one", "cat", "/start").WantSuccess(t)
	b.Run("build", "--target", "nosuch", ctx).WantError(t, 1, "nosuch")
}

func TestBuildReproducible(t *testing.T) {
	b := withImage(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM localhost/bb:1\nCOPY f.txt /f.txt\nRUN echo built > /built && mkdir -p /d/e\nLABEL x=y\n",
		"f.txt":      "content\n",
	})
	var ids []string
	for i := 0; i < 2; i++ {
		iid := filepath.Join(t.TempDir(), "iid")
		b.Run("build", "--no-cache", "--timestamp", "1700000000", "--iidfile", iid, "-q", ctx).WantSuccess(t)
		got, err := os.ReadFile(iid)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, string(got))
		os.Chtimes(filepath.Join(ctx, "f.txt"), time.Now(), time.Now())
		time.Sleep(1100 * time.Millisecond)
	}
	if ids[0] != ids[1] || !strings.HasPrefix(ids[0], "sha256:") {
		t.Errorf("same input and --timestamp: %q != %q", ids[0], ids[1])
	}
	in := inspectConfig(t, b, ids[0])
	if !strings.HasPrefix(in["Created"].(string), "2023-11-14T22:13:20") {
		t.Errorf("Created %v, want the --timestamp", in["Created"])
	}
	// SOURCE_DATE_EPOCH does the same.
	b.Env = append(b.Env, "SOURCE_DATE_EPOCH=1700000000")
	r := b.Run("build", "--no-cache", "-q", ctx).WantSuccess(t)
	if lastLine(r.Stdout) != ids[0] {
		t.Errorf("SOURCE_DATE_EPOCH build %s, --timestamp build %s", lastLine(r.Stdout), ids[0])
	}
}

func TestBuildDockerignoreSecretsStdin(t *testing.T) {
	b := withImage(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile":    "FROM localhost/bb:1\nCOPY . /ctx/\nRUN --mount=type=secret,id=tok wc -c < /run/secrets/tok | sed s/^/secret-len-/\n",
		".dockerignore": "*.log\nbuild/\n!keep.log\n",
		"app.txt":       "app\n",
		"debug.log":     "noise\n",
		"keep.log":      "kept\n",
		"build/out.bin": "junk\n",
	})
	secret := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(secret, []byte("s3cr3t-VALUE"), 0o600)
	r := b.Run("build", "-t", "localhost/ign:1", "--secret", "id=tok,src="+secret, ctx).WantSuccess(t)
	if !strings.Contains(r.Stdout, "secret-len-12") {
		t.Errorf("secret not seen:\n%s", r.Stdout)
	}
	got := b.Run("run", "--rm", "localhost/ign:1", "sh", "-c", "cd /ctx && ls -A | sort | tr '\\n' ' '; ls /run/secrets 2>&1 | wc -l").WantSuccess(t).Stdout
	if !strings.HasPrefix(got, ".dockerignore Dockerfile app.txt keep.log ") {
		t.Errorf(".dockerignore: /ctx holds %q", got)
	}
	// The secret is in no layer: no file holds it, and its mount point is gone.
	if got := b.Run("run", "--rm", "localhost/ign:1", "sh", "-c", "test ! -e /run/secrets || echo mount point left; grep -rl \"s3cr3t-$(echo VALUE)\" /bin /etc /ctx /tmp; true").WantSuccess(t).Stdout; got != "" {
		t.Errorf("secret left in the image: %q", got)
	}
	// Secret from the environment.
	b.Env = append(b.Env, "TOKVAR=hunter2")
	b.Run("build", "--secret", "id=tok,env=TOKVAR", ctx).WantSuccess(t)

	// A tar context on stdin.
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for name, body := range map[string]string{"Dockerfile": "FROM localhost/bb:1\nCOPY in.txt /in.txt\n", "in.txt": "from stdin tar\n"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	b.RunStdin(tb.Bytes(), "build", "-t", "localhost/stdin:1", "-").WantSuccess(t)
	if got := b.Run("run", "--rm", "localhost/stdin:1", "cat", "/in.txt").WantSuccess(t).Stdout; got != "from stdin tar\n" {
		t.Errorf("tar context: %q", got)
	}
	// A Dockerfile on stdin, no context.
	b.RunStdin([]byte("FROM localhost/bb:1\nRUN echo nocontext > /n\n"), "build", "-t", "localhost/stdin:2", "-").WantSuccess(t)
	if got := b.Run("run", "--rm", "localhost/stdin:2", "cat", "/n").WantSuccess(t).Stdout; got != "nocontext\n" {
		t.Errorf("stdin Dockerfile: %q", got)
	}
	// -f - with a directory context.
	b.RunStdin([]byte("FROM localhost/bb:1\nCOPY app.txt /\n"), "build", "-t", "localhost/stdin:3", "-f", "-", ctx).WantSuccess(t)
	b.Run("run", "--rm", "localhost/stdin:3", "cat", "/app.txt").WantSuccess(t)
	// --label, --network none, buildx build and image build.
	b.Run("buildx", "build", "--label", "from=cli", "--network", "none", "-t", "localhost/bx:1", "-f", filepath.Join(ctx, "Dockerfile"), "--secret", "id=tok,src="+secret, ctx).WantSuccess(t)
	if l := fmt.Sprint(inspectConfig(t, b, "localhost/bx:1")["Config"].(map[string]any)["Labels"]); !strings.Contains(l, "from:cli") {
		t.Errorf("--label: %s", l)
	}
	b.RunStdin([]byte("FROM localhost/bb:1\nRUN cat /sys/class/net/lo/operstate; ls /sys/class/net\n"), "image", "build", "--network", "none", "-").WantSuccess(t)
}

func TestBuildErrors(t *testing.T) {
	b := withImage(t)
	b.Run("build", filepath.Join(t.TempDir(), "nosuch")).WantError(t, 1, "nosuch")
	empty := t.TempDir()
	b.Run("build", empty).WantError(t, 1, "Dockerfile")
	b.Run("build", "-f", "Other.Dockerfile", empty).WantError(t, 1, "Other.Dockerfile")
	bad := buildContext(t, map[string]string{"Dockerfile": "FROM localhost/bb:1\nCOPPY x y\n"})
	b.Run("build", bad).WantError(t, 1, "Dockerfile:2")
	missing := buildContext(t, map[string]string{"Dockerfile": "FROM localhost/bb:1\nCOPY nothere.txt /x\n"})
	b.Run("build", missing).WantError(t, 1, "nothere.txt")
	b.Run("build", "--platform", "linux/s390x-nosuch", bad).WantExit(t, 1)
	b.Run("build", "--progress", "fancy", bad).WantError(t, 1, "fancy")
	b.Run("build", "-t", "UPPER:case", bad).WantError(t, 1, "UPPER")

	// A failing RUN shows its output and status, exits 1 and leaves no image or tag.
	before := b.Run("images", "-a", "-q").WantSuccess(t).Stdout
	fail := buildContext(t, map[string]string{"Dockerfile": "FROM localhost/bb:1\nRUN echo creating > /x\nRUN echo about-to-fail; exit 3\n"})
	r := b.Run("build", "-t", "localhost/failed:1", fail).WantExit(t, 1)
	if !strings.Contains(r.Stdout+r.Stderr, "about-to-fail") || !strings.Contains(r.Stderr, "exit code: 3") {
		t.Errorf("failing RUN:\nstdout %s\nstderr %s", r.Stdout, r.Stderr)
	}
	b.Run("image", "inspect", "localhost/failed:1").WantExit(t, 1)
	after := b.Run("images", "-q").WantSuccess(t).Stdout
	if strings.Count(after, "\n") > strings.Count(before, "\n") {
		t.Errorf("failed build left images:\n%s", after)
	}
	assertNoBuildLeftovers(t, b)
}

// assertNoBuildLeftovers checks that no overlay mount under the root and no runtime state or
// build layer outlived the builds.
func assertNoBuildLeftovers(t *testing.T, b *Berth) {
	t.Helper()
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), b.Root) {
		t.Errorf("mounts left under the root")
	}
	if rt, _ := os.ReadDir(filepath.Join(b.RunRoot, "runtime")); len(rt) > 0 {
		for _, e := range rt {
			if !strings.HasPrefix(e.Name(), ".") {
				t.Errorf("runtime state %s left", e.Name())
			}
		}
	}
	layers, _ := os.ReadDir(filepath.Join(b.Root, "storage", "overlay"))
	for _, e := range layers {
		if strings.HasPrefix(e.Name(), "build") {
			t.Errorf("build layer %s left", e.Name())
		}
	}
}

func TestBuildInterrupt(t *testing.T) {
	b := withImage(t)
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM localhost/bb:1\nRUN echo started; sleep 30\n"})
	cmd := b.Cmd("build", "-t", "localhost/int:1", ctx)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "started") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("build ignored SIGINT:\n%s", out.String())
	}
	if cmd.ProcessState.ExitCode() == 0 {
		t.Errorf("interrupted build exited 0")
	}
	b.Run("image", "inspect", "localhost/int:1").WantExit(t, 1)
	assertNoBuildLeftovers(t, b)

	// A build killed with SIGKILL mid-step leaves its container, mount and layer; the next
	// build sweeps them.
	cmd = b.Cmd("build", "-t", "localhost/int:2", ctx)
	out.Reset()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "started") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	b.RunStdin([]byte("FROM localhost/bb:1\nRUN true\n"), "build", "-q", "-").WantSuccess(t)
	assertNoBuildLeftovers(t, b)
}

// A prune run while a build runs waits for it, rather than remove an intermediate image the
// build still needs: here the finished stage a, which a later COPY reads. Neither prune
// removes an image a container was made from.
func TestBuildPruneDuringBuild(t *testing.T) {
	for _, prune := range [][]string{{"builder", "prune", "-f"}, {"image", "prune", "-f"}} {
		t.Run(prune[0], func(t *testing.T) {
			b := withImage(t)
			cmd := b.Cmd("build", "--progress", "plain", "-t", "localhost/pb:1", "-")
			cmd.Stdin = strings.NewReader("FROM localhost/bb:1 AS a\nRUN echo a > /a\n" +
				"FROM localhost/bb:1\nRUN echo started >&2; sleep 5\nCOPY --from=a /a /b\n")
			var out lockedBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "started") && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(out.String(), "started") {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("the RUN step never started:\n%s", out.String())
			}
			// stage a's image is committed while the other stage's RUN still sleeps
			for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if strings.Count(b.Run("images", "-a", "-q").WantSuccess(t).Stdout, "\n") >= 2 {
					break
				}
			}
			b.Run(prune...).WantSuccess(t)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("build during %s: %v\n%s", strings.Join(prune, " "), err, out.String())
			}
			b.Run("create", "--name", "pb", "localhost/pb:1", "cat", "/b").WantSuccess(t)
			b.Run(append(prune, "-a")...).WantSuccess(t)
			if got := b.Run("start", "-a", "pb").WantSuccess(t).Stdout; got != "a\n" {
				t.Errorf("built image's /b = %q, want %q", got, "a\n")
			}
			b.Run("rm", "pb").WantSuccess(t)
			assertNoBuildLeftovers(t, b)
		})
	}
}

// lockedBuffer collects a command's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
}

func TestBuildConcurrent(t *testing.T) {
	b := withImage(t)
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM localhost/bb:1\nARG N\nRUN echo $N > /n\nCOPY Dockerfile /\nRUN cat /n /n > /nn\n"})
	const n = 10
	var wg sync.WaitGroup
	results := make([]*Result, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = b.Run("build", "-q", "--build-arg", fmt.Sprintf("N=%d", i), "-t", fmt.Sprintf("localhost/conc:%d", i), ctx)
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		r.WantSuccess(t)
		if got := b.Run("run", "--rm", fmt.Sprintf("localhost/conc:%d", i), "cat", "/nn").WantSuccess(t).Stdout; got != fmt.Sprintf("%d\n%d\n", i, i) {
			t.Errorf("build %d: %q", i, got)
		}
	}
	assertNoBuildLeftovers(t, b)
}

func TestBuildPullOnbuildAndURL(t *testing.T) {
	RequireRoot(t)
	reg := fixture.StartRegistry(t)
	b := NewBerth(t)
	ref := reg.Addr + "/test/bb:1"
	pushFixture(t, ref, busyboxImage(t))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "downloaded "+r.URL.Path+"\n")
	}))
	defer srv.Close()

	parent := buildContext(t, map[string]string{"Dockerfile": "FROM " + ref + "\nONBUILD RUN echo onbuild-ran > /onbuild\n"})
	b.Run("build", "-t", "localhost/parent:1", parent).WantSuccess(t) // FROM pulls what is missing
	child := buildContext(t, map[string]string{"Dockerfile": "FROM localhost/parent:1\nADD " + srv.URL + "/file.txt /dl.txt\nCOPY --from=" + ref + " /app/hello /hello2\n"})
	b.Run("build", "-t", "localhost/child:1", child).WantSuccess(t)
	want := "onbuild-ran\ndownloaded /file.txt\nhello\n"
	if got := b.Run("run", "--rm", "localhost/child:1", "cat", "/onbuild", "/dl.txt", "/hello2").WantSuccess(t).Stdout; got != want {
		t.Errorf("ONBUILD, ADD URL, COPY --from=image: %q, want %q", got, want)
	}

	// --pull fetches a newer image under the same name; without it the local one is used.
	pushFixture(t, ref, busyboxImage(t, []fixture.Entry{{Name: "version", Body: "2\n"}}))
	probe := buildContext(t, map[string]string{"Dockerfile": "FROM " + ref + "\nRUN cat /version 2>/dev/null || echo 1 > /version\n"})
	b.Run("build", "-t", "localhost/probe:1", probe).WantSuccess(t)
	if got := b.Run("run", "--rm", "localhost/probe:1", "cat", "/version").WantSuccess(t).Stdout; got != "1\n" {
		t.Errorf("without --pull: version %q, want the local image's", got)
	}
	b.Run("build", "--pull", "-t", "localhost/probe:2", probe).WantSuccess(t)
	if got := b.Run("run", "--rm", "localhost/probe:2", "cat", "/version").WantSuccess(t).Stdout; got != "2\n" {
		t.Errorf("with --pull: version %q, want the registry's newer image", got)
	}
}

func TestBuildRunsBelowInteractivePriority(t *testing.T) {
	b := withImage(t)
	r := b.RunStdin([]byte("FROM localhost/bb:1\nRUN cut -d' ' -f19 /proc/self/stat | sed s/^/nice=/\n"), "build", "--no-cache", "-").WantSuccess(t)
	if !strings.Contains(r.Stdout, "nice=10\n") {
		t.Errorf("RUN step priority:\n%s", r.Stdout)
	}
}
