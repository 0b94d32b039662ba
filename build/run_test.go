package build

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRunArgs(t *testing.T) {
	tests := []struct {
		name string
		df   string
		want []string
	}{
		{"shell form", "RUN echo a  b", []string{"/bin/sh", "-c", "echo a  b"}},
		{"exec form", `RUN ["echo", "a b"]`, []string{"echo", "a b"}},
		{"shell changed", "SHELL [\"/bin/bash\", \"-xc\"]\nRUN echo", []string{"/bin/bash", "-xc", "echo"}},
		{"heredoc", "RUN <<EOF\necho one\necho two\nEOF", []string{"/bin/sh", "-c", "echo one\necho two\n"}},
		{"heredoc chomp", "RUN <<-EOF\n\techo one\nEOF", []string{"/bin/sh", "-c", "echo one\n"}},
		{"heredoc with shebang", "RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF",
			[]string{"/bin/sh", "-c", "exec '/usr/bin/env' 'python3' /dev/fd/3 3<<'BERTH_HEREDOC'\n#!/usr/bin/env python3\nprint(1)\nBERTH_HEREDOC"}},
		{"heredoc as file of a command", "RUN cat <<EOF > /f\nhello\nEOF", []string{"/bin/sh", "-c", "cat <<EOF > /f\nhello\nEOF"}},
		{"continuation", "RUN echo a \\\n  && echo b", []string{"/bin/sh", "-c", "echo a   && echo b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			mustBuild(t, f, "FROM busybox\n"+tt.df, nil)
			if diff := cmp.Diff(tt.want, f.runs[0].Args); diff != "" {
				t.Errorf("RUN args of %q (-want +got):\n%s", tt.df, diff)
			}
		})
	}
}

func TestRunSpecFields(t *testing.T) {
	f := newFake(t)
	ctxDir := writeContext(t, map[string]string{"src/main.go": "package main"})
	mustBuild(t, f, "FROM busybox\nWORKDIR /w\nUSER app\nRUN --network=none true\nRUN true", &Options{ContextDir: ctxDir, Network: "host"})
	r := f.runs[0]
	if r.Workdir != "/w" || r.User != "app" || r.Network != "none" || r.ContextDir != ctxDir {
		t.Errorf("RunSpec = %+v", r)
	}
	if f.runs[1].Network != "host" {
		t.Errorf("default network = %q, want the build's host", f.runs[1].Network)
	}
}

func TestRunMounts(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(secret, []byte("s3cr3t"), 0o600)
	ctxDir := writeContext(t, map[string]string{"src/main.go": "package main"})
	f := newFake(t)
	_, out := mustBuild(t, f, `FROM busybox AS deps
RUN echo dep > /dep
FROM busybox
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache,id=gocache,sharing=locked \
    --mount=type=bind,source=src,target=/src \
    --mount=type=bind,from=deps,source=/dep,target=dep \
    --mount=type=tmpfs,target=/scratch,size=1m \
    --mount=type=secret,id=tok \
    --mount=type=secret,id=tok,target=/etc/tok,mode=0440,uid=5 \
    --mount=type=secret,id=optional \
    --mount=type=secret,id=tok,env=TOKEN \
    --mount=type=cache,target=/var/cache \
    true
`, &Options{ContextDir: ctxDir, Secrets: map[string]string{"tok": secret}})
	run := f.runs[len(f.runs)-1]
	got := run.Mounts
	if len(got) != 7 {
		t.Fatalf("mounts = %+v, want 7 (the optional missing secret skipped, env-only secret no file)\n%s", got, out)
	}
	want := []RunMount{
		{Type: "cache", Target: "/root/.cache", Source: "/", ID: "gocache", Sharing: "locked", Mode: 0o755},
		{Type: "bind", Target: "/src", Source: "src", ReadOnly: true},
		{Type: "bind", Target: "/app/dep", Source: "/dep", ReadOnly: true},
		{Type: "tmpfs", Target: "/scratch", Size: 1 << 20},
		{Type: "secret", Target: "/run/secrets/tok", Source: secret, ID: "tok", ReadOnly: true, Mode: 0o400},
		{Type: "secret", Target: "/etc/tok", Source: secret, ID: "tok", ReadOnly: true, Mode: 0o440, UID: 5},
		{Type: "cache", Target: "/var/cache", Source: "/", ID: "/var/cache", Sharing: "shared", Mode: 0o755},
	}
	for i := range want {
		g := got[i]
		if i == 2 {
			if g.From.ID == "" {
				t.Errorf("bind from=deps has no image")
			}
		} else if g.From.ID != "" {
			t.Errorf("mount %d From = %s, want none", i, g.From.ID)
		}
		g.From = Image{}
		if diff := cmp.Diff(want[i], g); diff != "" {
			t.Errorf("mount %d (-want +got):\n%s", i, diff)
		}
	}
	if !cmp.Equal(run.Env[len(run.Env)-1], "TOKEN=s3cr3t") {
		t.Errorf("env secret not in RUN env: %v", run.Env)
	}
	for _, h := range f.images {
		for _, e := range h.Config.Config.Env {
			if strings.Contains(e, "s3cr3t") {
				t.Errorf("secret leaked into an image config: %v", h.Config.Config.Env)
			}
		}
	}
}

func TestRunMountErrors(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"required secret missing", "RUN --mount=type=secret,id=nope,required true", "secret nope not found: pass it with --secret id=nope,src=FILE"},
		{"ssh", "RUN --mount=type=ssh true", "RUN --mount=type=ssh is not supported"},
		{"bad type", "RUN --mount=type=nfs,target=/x true", `unsupported mount type "nfs"`},
		{"bad network", "RUN --network=bridge true", `invalid network mode "bridge"`},
		{"bind outside context", "RUN --mount=type=bind,source=../x,target=/x true", "forbidden path outside the build context: ../x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := build(t, newFake(t), "FROM busybox\n"+tt.line, &Options{ContextDir: writeContext(t, nil)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build(%q) = %v, want %q", tt.line, err, tt.want)
			}
		})
	}
}

func TestRunFailure(t *testing.T) {
	f := newFake(t)
	_, out, err := build(t, f, "FROM busybox\nRUN echo before\nRUN false\nRUN echo after", &Options{Tags: []string{"t"}})
	want := `process "/bin/sh -c false" did not complete successfully: exit code: 1`
	if err == nil || err.Error() != want {
		t.Fatalf("Build = %v, want %q", err, want)
	}
	var ec interface{ ExitCode() int }
	if !errors.As(err, &ec) || ec.ExitCode() != 1 {
		t.Errorf("error carries no exit code 1: %#v", err)
	}
	if !strings.Contains(out, "failing now\n") {
		t.Errorf("output lacks the failing step's output:\n%s", out)
	}
	if strings.Contains(out, "STEP 4/4") || len(f.tags) != 0 {
		t.Errorf("build went on or tagged after the failure:\n%s", out)
	}
	// exec form and exit codes other than 1
	_, _, err = build(t, newFake(t), "FROM busybox\nRUN [\"exit\", \"3\"]", nil)
	if err == nil || err.Error() != `process "exit 3" did not complete successfully: exit code: 3` || !errors.As(err, &ec) || ec.ExitCode() != 3 {
		t.Errorf("exec-form failure = %v", err)
	}
}

func TestQuiet(t *testing.T) {
	f := newFake(t)
	img, out := mustBuild(t, f, "FROM busybox\nRUN echo noisy\nRUN echo x > /x", &Options{Quiet: true, Tags: []string{"q"}})
	if out != img.ID+"\n" {
		t.Errorf("quiet output = %q, want only the image ID", out)
	}
	_, out, err := build(t, newFake(t), "FROM busybox\nRUN false", &Options{Quiet: true})
	if err == nil || out != "failing now\n" {
		t.Errorf("quiet failure: err %v, output %q; want the failing step's output only", err, out)
	}
}

func TestRunBindSeesFilteredContext(t *testing.T) {
	f := newFake(t)
	ctxDir := writeContext(t, copyContext)
	var seen []string
	f.onRun = func(spec RunSpec) {
		filepath.Walk(spec.ContextDir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				rel, _ := filepath.Rel(spec.ContextDir, p)
				seen = append(seen, filepath.ToSlash(rel))
			}
			return nil
		})
	}
	mustBuild(t, f, "FROM busybox\nRUN --mount=type=bind,source=dir,target=/d --mount=type=bind,target=/all,source=. true", &Options{ContextDir: ctxDir})
	for _, s := range seen {
		if strings.HasSuffix(s, "skip.log") || strings.HasSuffix(s, ".md") || strings.HasPrefix(s, "secret/") {
			t.Errorf("RUN bind saw the ignored %s", s)
		}
	}
	want := map[string]bool{"dir/x": false, "dir/keep.log": false, "a.txt": false}
	for _, s := range seen {
		if _, ok := want[s]; ok {
			want[s] = true
		}
	}
	for p, ok := range want {
		if !ok {
			t.Errorf("RUN bind lacks %s; saw %v", p, seen)
		}
	}
	if _, err := os.Stat(f.runs[0].ContextDir); !os.IsNotExist(err) {
		t.Errorf("filtered context %s left behind", f.runs[0].ContextDir)
	}
}
