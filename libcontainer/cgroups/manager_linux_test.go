package cgroups

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000, 0: 1} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestDeviceRule(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	cases := map[string]specs.LinuxDeviceCgroup{
		"a *:* rwm":  {Allow: false},
		"c 1:3 rwm":  {Type: "c", Major: n(1), Minor: n(3), Access: "rwm"},
		"c 136:* rw": {Type: "c", Major: n(136), Minor: n(-1), Access: "rw"},
		"b *:* m":    {Type: "b", Access: "m"},
	}
	for want, r := range cases {
		if got := DeviceRule(r); got != want {
			t.Errorf("DeviceRule(%+v) = %q, want %q", r, got, want)
		}
	}
}

func TestNewRejectsRelativePaths(t *testing.T) {
	for _, p := range []string{"relative", "/a/../../etc"} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%q) accepted", p)
		}
	}
}

// TestManagerV2 drives the v2 manager on the real kernel: a pure v2 host's hierarchy, or a
// hybrid host's unified one (which has no controllers, so limits are not set here): create and
// join, device filter, freeze and thaw, pids, and a Destroy that also removes a child cgroup
// the container made.
func TestManagerV2(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	at := Root
	switch DetectMode() {
	case Hybrid:
		at = filepath.Join(Root, "unified")
	case Legacy:
		t.Skip("no cgroup v2 hierarchy")
	}
	parent := fmt.Sprintf("/berth-v2test-%d", os.Getpid())
	m := &Manager{path: parent + "/ctr", v2: true, v2at: at}
	defer os.Remove(filepath.Join(at, parent))
	cmd := exec.Command("sh", "-c", "read x; head -c1 /dev/zero | wc -c; cat /dev/null 2>/dev/null || echo null-denied")
	in, _ := cmd.StdinPipe()
	out := &strings.Builder{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	n := func(v int64) *int64 { return &v }
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: n(1), Minor: n(5), Access: "r"}}}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if pids, err := m.Pids(); err != nil || len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Errorf("Pids = %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
	if err := m.Freeze(); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	if frozen, err := m.Frozen(); !frozen || err != nil {
		t.Errorf("Frozen after Freeze = %v, %v", frozen, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	if err := os.Mkdir(filepath.Join(m.dir(""), "made-inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("go\n"))
	in.Close()
	cmd.Wait()
	if got := out.String(); got != "1\nnull-denied\n" {
		t.Errorf("in the cgroup: %q, want /dev/zero read and /dev/null refused", got)
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	if _, err := os.Stat(m.dir("")); !os.IsNotExist(err) {
		t.Errorf("Destroy left %s: %v", m.dir(""), err)
	}
}

func TestThrottleSettings(t *testing.T) {
	r := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 1, Minor: 5}, Rate: 1048576}},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 100}},
	}}
	tests := []struct {
		name string
		got  []setting
		want []setting
	}{
		{"v1", v1Settings(r), []setting{{"blkio", "blkio.throttle.read_bps_device", "1:5 1048576", false}, {"blkio", "blkio.throttle.write_iops_device", "8:0 100", false}}},
		{"v2", v2Settings(r), []setting{{"", "io.max", "1:5 rbps=1048576", false}, {"", "io.max", "8:0 wiops=100", false}}},
	}
	for _, tc := range tests {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s settings = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
