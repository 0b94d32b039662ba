package cdi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const vendorSpec = `cdiVersion: "0.6.0"
kind: example.com/fpga
containerEdits:
  env: ["FPGA_COMMON=1"]
devices:
- name: card0
  containerEdits:
    deviceNodes:
    - path: /dev/fpga0
      hostPath: /dev/null
    mounts:
    - hostPath: /etc/hostname
      containerPath: /opt/fpga/hostname
      options: [ro, bind]
    env: ["FPGA=card0"]
    hooks:
    - hookName: createContainer
      path: /bin/true
      args: ["true", "fpga"]
`

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryInject(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "fpga.yaml"), vendorSpec)
	r, err := Open([]string{dir, filepath.Join(dir, "missing")})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Devices(); len(got) != 1 || got[0] != "example.com/fpga=card0" {
		t.Fatalf("Devices() = %v, want [example.com/fpga=card0]", got)
	}
	s := &specs.Spec{Process: &specs.Process{Env: []string{"PATH=/bin"}}, Linux: &specs.Linux{}}
	if err := r.Inject(s, []string{"example.com/fpga=card0"}); err != nil {
		t.Fatalf("Inject: %v", err)
	}
	env := strings.Join(s.Process.Env, " ")
	if !strings.Contains(env, "FPGA=card0") || !strings.Contains(env, "FPGA_COMMON=1") {
		t.Errorf("env = %q, want the device's and the spec's variables", env)
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/fpga0" || s.Linux.Devices[0].Major != 1 || s.Linux.Devices[0].Minor != 3 {
		t.Errorf("devices = %+v, want /dev/fpga0 as 1:3 (/dev/null)", s.Linux.Devices)
	}
	if s.Linux.Resources == nil || len(s.Linux.Resources.Devices) != 1 || !s.Linux.Resources.Devices[0].Allow {
		t.Errorf("cgroup device rules = %+v, want one allow rule", s.Linux.Resources)
	}
	if len(s.Mounts) != 1 || s.Mounts[0].Destination != "/opt/fpga/hostname" {
		t.Errorf("mounts = %+v", s.Mounts)
	}
	if s.Hooks == nil || len(s.Hooks.CreateContainer) != 1 || s.Hooks.CreateContainer[0].Path != "/bin/true" {
		t.Errorf("hooks = %+v", s.Hooks)
	}
}

func TestRegistryErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "fpga.yaml"), vendorSpec)
	writeFile(t, filepath.Join(dir, "broken.yaml"), "cdiVersion: \"0.6.0\"\nkind: broken.com/x\ndevices:\n- name: a\n  containerEdits:\n    env: [NOEQUALSSIGN]\n")
	writeFile(t, filepath.Join(dir, "bad.yaml"), "cdiVersion: [\n")
	// Two specs at the same priority giving one device conflict, and neither wins.
	writeFile(t, filepath.Join(dir, "dup1.yaml"), "cdiVersion: \"0.6.0\"\nkind: dup.com/x\ndevices:\n- name: a\n  containerEdits:\n    env: [A=1]\n")
	writeFile(t, filepath.Join(dir, "dup2.yaml"), "cdiVersion: \"0.6.0\"\nkind: dup.com/x\ndevices:\n- name: a\n  containerEdits:\n    env: [A=2]\n")
	r, err := Open([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	errs := strings.Join(r.Errors(), "\n")
	for _, want := range []string{"broken.yaml", "bad.yaml", "dup"} {
		if !strings.Contains(errs, want) {
			t.Errorf("Errors() = %q, want a line naming %s", errs, want)
		}
	}
	for _, tc := range []struct{ dev, want string }{
		{"example.com/fpga=card9", "unresolvable CDI devices example.com/fpga=card9"},
		{"broken.com/x=a", "broken.yaml"},
		{"dup.com/x=a", "conflict"},
		{"not a name", `invalid CDI device "not a name"`},
	} {
		s := &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{}}
		err := r.Inject(s, []string{tc.dev})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Inject(%q) = %v, want error containing %q", tc.dev, err, tc.want)
		}
	}
	// The good spec still works beside the broken ones.
	if err := r.Check([]string{"example.com/fpga=card0"}); err != nil {
		t.Errorf("Check(card0) = %v", err)
	}
}

func TestWriteSpecRoundTrip(t *testing.T) {
	root := fakeNVIDIAHost(t)
	spec, err := GenerateNVIDIA(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteSpec(spec, filepath.Join(dir, "nvidia.yaml")); err != nil {
		t.Fatal(err)
	}
	r, err := Open([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if e := r.Errors(); len(e) > 0 {
		t.Fatalf("written spec has errors: %v", e)
	}
	if err := r.Check([]string{"nvidia.com/gpu=all", "nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=GPU-bbbb"}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d files, want only nvidia.yaml", len(ents))
	}
	bad := *spec
	bad.Kind = "no kind"
	if err := WriteSpec(&bad, filepath.Join(dir, "bad.yaml")); err == nil {
		t.Error("WriteSpec of an invalid spec succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("a refused spec left files behind: %d entries", len(ents))
	}
}
