package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/tests/fixture"
)

// widgetSpec is a made-up vendor's CDI spec: a device node (backed by the host's /dev/zero),
// a mount, env at spec and device level, and a createContainer hook that records the state
// it is given.
const widgetSpec = `cdiVersion: "0.6.0"
kind: test.berth.dev/widget
containerEdits:
  env: ["WIDGET_VENDOR=berth"]
devices:
- name: w0
  containerEdits:
    deviceNodes:
    - path: /dev/widget0
      hostPath: /dev/zero
    mounts:
    - hostPath: @DIR@/firmware
      containerPath: /opt/widget
      options: [ro, bind]
    env: ["WIDGET=w0"]
    hooks:
    - hookName: createContainer
      path: @DIR@/hook.sh
      args: [hook.sh, w0]
      env: ["PATH=/usr/bin:/bin"]
- name: w1
  containerEdits:
    deviceNodes:
    - path: /dev/widget1
      hostPath: /dev/null
`

func cdiSetup(t *testing.T) (*Berth, string) {
	t.Helper()
	b := withImage(t)
	dir := t.TempDir()
	specs := filepath.Join(dir, "cdi")
	for name, data := range map[string]string{
		"firmware/blob":   "firmware-v1\n",
		"hook.sh":         "#!/bin/sh\ncat > \"$(dirname \"$0\")/hook-state.json\"\necho \"$1\" > \"$(dirname \"$0\")/hook-arg\"\n",
		"cdi/widget.yaml": strings.ReplaceAll(widgetSpec, "@DIR@", dir),
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b.Env = append(b.Env, "BERTH_CDI_SPEC_DIRS="+specs)
	return b, dir
}

func TestCDIDevices(t *testing.T) {
	b, dir := cdiSetup(t)
	if got := b.Run("cdi", "list").WantSuccess(t).Stdout; got != "test.berth.dev/widget=w0\ntest.berth.dev/widget=w1\n" {
		t.Errorf("cdi list = %q", got)
	}
	out := b.Run("run", "--rm", "--device", "test.berth.dev/widget=w0", "localhost/bb:1", "sh", "-c",
		"head -c 5 /dev/widget0 | wc -c; cat /opt/widget/blob; echo $WIDGET $WIDGET_VENDOR; touch /opt/widget/x 2>/dev/null || echo ro").WantSuccess(t).Stdout
	if want := "5\nfirmware-v1\nw0 berth\nro\n"; out != want {
		t.Errorf("container with the widget saw %q, want %q", out, want)
	}
	var state struct {
		ID, Status string
	}
	if err := json.Unmarshal(must(os.ReadFile(filepath.Join(dir, "hook-state.json"))), &state); err != nil || state.ID == "" {
		t.Errorf("hook did not get the container state: %+v %v", state, err)
	}
	if arg := string(must(os.ReadFile(filepath.Join(dir, "hook-arg")))); arg != "w0\n" {
		t.Errorf("hook args: %q", arg)
	}
	// w1 alone: its node and the spec-level env, none of w0's edits.
	out = b.Run("run", "--rm", "--device", "test.berth.dev/widget=w1", "localhost/bb:1", "sh", "-c",
		"ls /dev/widget* ; echo $WIDGET_VENDOR-$WIDGET; ls /opt/widget 2>&1 >/dev/null | wc -l").WantSuccess(t).Stdout
	if want := "/dev/widget1\nberth-\n1\n"; out != want {
		t.Errorf("container with w1 saw %q, want %q", out, want)
	}
	// A created container keeps its devices for every start.
	id := strings.TrimSpace(b.Run("create", "--device", "test.berth.dev/widget=w0", "localhost/bb:1", "cat", "/opt/widget/blob").WantSuccess(t).Stdout)
	if got := b.Run("start", "-a", id).WantSuccess(t).Stdout; got != "firmware-v1\n" {
		t.Errorf("start -a: %q", got)
	}
	b.Run("inspect", "--format", "{{.ID}}", id).WantSuccess(t)
}

func TestCDIErrors(t *testing.T) {
	b, dir := cdiSetup(t)
	specs := filepath.Join(dir, "cdi")
	b.Run("run", "--rm", "--device", "test.berth.dev/widget=nope", "localhost/bb:1", "true").
		WantError(t, 125, "unresolvable CDI devices test.berth.dev/widget=nope")
	b.Run("create", "--device", "test.berth.dev/widget=nope", "localhost/bb:1", "true").WantExit(t, 125)
	if got := b.Run("ps", "-aq").WantSuccess(t).Stdout; got != "" {
		t.Errorf("a refused create left %q", got)
	}
	b.Run("run", "--rm", "--device", "bad-vendor/x=y", "localhost/bb:1", "true").WantError(t, 125, "bad-vendor/x=y")
	b.Run("run", "--rm", "--gpus", "all", "localhost/bb:1", "true").WantError(t, 125, "NVIDIA")
	b.Run("run", "--rm", "--gpus", "colour=red", "localhost/bb:1", "true").WantError(t, 125, `unknown option "colour"`)

	// A malformed spec is named, with what is wrong, and does not hide the good one.
	os.WriteFile(filepath.Join(specs, "broken.yaml"), []byte("cdiVersion: \"0.6.0\"\nkind: broken.berth.dev/x\ndevices:\n- name: a\n  containerEdits:\n    env: [NO_EQUALS_SIGN]\n"), 0o644)
	os.WriteFile(filepath.Join(specs, "garbage.yaml"), []byte("cdiVersion: [\n"), 0o644)
	r := b.Run("cdi", "list").WantExit(t, 0)
	if !strings.Contains(r.Stdout, "test.berth.dev/widget=w0") || !strings.Contains(r.Stderr, "garbage.yaml") || !strings.Contains(r.Stderr, "broken.yaml") {
		t.Errorf("cdi list with broken specs: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	b.Run("run", "--rm", "--device", "broken.berth.dev/x=a", "localhost/bb:1", "true").WantError(t, 125, "broken.yaml")
	b.Run("run", "--rm", "--device", "test.berth.dev/widget=w1", "localhost/bb:1", "true").WantExit(t, 0)

	// Two specs at one priority both giving a device: neither wins, and the error says so.
	dup := "cdiVersion: \"0.6.0\"\nkind: dup.berth.dev/x\ndevices:\n- name: a\n  containerEdits:\n    env: [A=%s]\n"
	os.WriteFile(filepath.Join(specs, "dup1.yaml"), []byte(strings.Replace(dup, "%s", "1", 1)), 0o644)
	os.WriteFile(filepath.Join(specs, "dup2.yaml"), []byte(strings.Replace(dup, "%s", "2", 1)), 0o644)
	b.Run("run", "--rm", "--device", "dup.berth.dev/x=a", "localhost/bb:1", "true").WantError(t, 125, "conflicting device")

	// A spec in a later directory overrides an earlier one's device of the same name.
	later := t.TempDir()
	os.WriteFile(filepath.Join(later, "widget.yaml"), []byte("cdiVersion: \"0.6.0\"\nkind: test.berth.dev/widget\ndevices:\n- name: w1\n  containerEdits:\n    env: [A=later]\n"), 0o644)
	b.Env = append(b.Env, "BERTH_CDI_SPEC_DIRS="+specs+":"+later)
	if got := b.Run("run", "--rm", "--device", "test.berth.dev/widget=w1", "localhost/bb:1", "sh", "-c", "echo $A; test -e /dev/widget1 && echo node || echo none").WantExit(t, 0).Stdout; got != "later\nnone\n" {
		t.Errorf("overriding spec: %q", got)
	}
	b.Run("cdi", "generate", "amd").WantError(t, 1, `unknown vendor "amd"`)
}

func TestCDIBuildDevice(t *testing.T) {
	b, _ := cdiSetup(t)
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM localhost/bb:1\nRUN cat /opt/widget/blob > /fw && head -c 3 /dev/widget0 | wc -c > /n\n"})
	b.Run("build", "-q", "--device", "test.berth.dev/widget=w0", "-t", "localhost/fw:1", ctx).WantSuccess(t)
	if got := b.Run("run", "--rm", "localhost/fw:1", "cat", "/fw", "/n").WantSuccess(t).Stdout; got != "firmware-v1\n3\n" {
		t.Errorf("build RUN with a CDI device wrote %q", got)
	}
	b.Run("build", "-q", "--device", "test.berth.dev/widget=nope", ctx).WantError(t, 1, "unresolvable CDI devices")
}

func TestRootlessCDIDevice(t *testing.T) {
	b := NewRootlessBerth(t)
	dir := filepath.Dir(b.Root)
	p := filepath.Join(dir, "bb.tar")
	if err := fixture.WriteDockerArchive(p, "localhost/bb:1", busyboxImage(t)); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	b.Run("load", "-i", p).WantSuccess(t)
	specs := filepath.Join(dir, "cdi")
	os.MkdirAll(specs, 0o755)
	spec := "cdiVersion: \"0.6.0\"\nkind: test.berth.dev/widget\ndevices:\n- name: w0\n  containerEdits:\n    deviceNodes:\n    - path: /dev/widget0\n      hostPath: /dev/zero\n    env: [WIDGET=w0]\n"
	os.WriteFile(filepath.Join(specs, "widget.yaml"), []byte(spec), 0o644)
	b.Env = append(b.Env, "BERTH_CDI_SPEC_DIRS="+specs)
	out := b.Run("run", "--rm", "--device", "test.berth.dev/widget=w0", "localhost/bb:1", "sh", "-c", "head -c 7 /dev/widget0 | wc -c; echo $WIDGET").WantSuccess(t).Stdout
	if out != "7\nw0\n" {
		t.Errorf("rootless container with a CDI device saw %q", out)
	}
}

func TestCDIPodDevices(t *testing.T) {
	b, _ := cdiSetup(t)
	b.Run("pod", "create", "--name", "cdipod", "--device", "test.berth.dev/widget=w0").WantSuccess(t)
	out := b.Run("run", "--rm", "--pod", "cdipod", "--device", "test.berth.dev/widget=w1", "localhost/bb:1", "sh", "-c",
		"cat /opt/widget/blob; echo $WIDGET; ls /dev/widget*").WantSuccess(t).Stdout
	if want := "firmware-v1\nw0\n/dev/widget0\n/dev/widget1\n"; out != want {
		t.Errorf("container in a pod with a CDI device saw %q, want %q", out, want)
	}
	b.Run("pod", "create", "--name", "badpod", "--device", "test.berth.dev/widget=nope").WantError(t, 125, "unresolvable CDI devices")
	b.Run("pod", "exists", "badpod").WantExit(t, 1)
	b.Run("pod", "rm", "-f", "cdipod").WantSuccess(t)
}
