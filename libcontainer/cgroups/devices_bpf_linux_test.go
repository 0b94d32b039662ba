package cgroups

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDeviceFilterAssembles(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	prog, err := DeviceFilter([]specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: n(1), Minor: n(5), Access: "rw"}})
	if err != nil {
		t.Fatal(err)
	}
	// 6 loads, the allow rule (type, access 3, major, minor, mov, exit = 8), then the deny-all rule
	// (2), which makes a default unnecessary.
	if len(prog) != 16 {
		t.Errorf("program has %d instructions, want 16", len(prog))
	}
	if _, err := DeviceFilter([]specs.LinuxDeviceCgroup{{Type: "x"}}); err == nil {
		t.Error("bad device type accepted")
	}
}

// TestDeviceFilterEnforced attaches a filter allowing /dev/zero (and 40 devices a test
// process does not open) to a v2 cgroup (the
// unified hierarchy of a hybrid host works too) and checks what a process in it may open.
func TestDeviceFilterEnforced(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	base := "/sys/fs/cgroup"
	if DetectMode() == Hybrid {
		base = "/sys/fs/cgroup/unified"
	} else if DetectMode() != Unified {
		t.Skip("no cgroup v2 hierarchy")
	}
	dir := filepath.Join(base, fmt.Sprintf("berth-devtest-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a v2 cgroup: %v", err)
	}
	defer os.Remove(dir)
	n := func(v int64) *int64 { return &v }
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	// Many --device grants (the shape that failed to load with ENOSPC), none of them /dev/null.
	for i := int64(0); i < 40; i++ {
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(195), Minor: n(i), Access: "rw"})
	}
	rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(1), Minor: n(5), Access: "r"})
	if err := attachDeviceFilter(dir, rules); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "read x; head -c1 /dev/zero | wc -c; cat /dev/null 2>&1 || echo null-denied")
	in, _ := cmd.StdinPipe()
	out := &strings.Builder{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("go\n"))
	in.Close()
	cmd.Wait()
	if got := out.String(); !strings.HasPrefix(got, "1\n") || !strings.Contains(got, "not permitted") || !strings.HasSuffix(got, "null-denied\n") {
		t.Errorf("inside the filtered cgroup: %q", got)
	}
}

// TestDeviceFilterLoadsManyRules loads the program for the default devices plus several
// --device rules, which failed with ENOSPC while the verifier's log was on ("processed 348
// insns" with three --device on a v2 host).
func TestDeviceFilterLoadsManyRules(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	n := func(v int64) *int64 { return &v }
	for _, extra := range []int{0, 3, 40} {
		rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
		for _, d := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2}, {136, -1}, {5, 1}} {
			rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(d[0]), Minor: n(d[1]), Access: "rwm"})
		}
		for i := 0; i < extra; i++ {
			rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(195), Minor: n(int64(i)), Access: "rw"})
		}
		prog, err := DeviceFilter(rules)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := loadDeviceFilter(prog)
		if err != nil {
			t.Fatalf("%d extra devices (%d instructions): %v", extra, len(prog), err)
		}
		syscall.Close(fd)
	}
}

func TestVerifierSummary(t *testing.T) {
	for _, c := range []struct{ log, want string }{
		{"", ""},
		{"0: r2 = *(u32 *)(r1 +0)\nR0 !read_ok\nprocessed 3 insns\n", "0: r2 = *(u32 *)(r1 +0); R0 !read_ok; processed 3 insns"},
		{"a\nb\nc\nd\ne\n", "c; d; e"},
	} {
		if got := verifierSummary(c.log); got != c.want {
			t.Errorf("verifierSummary(%q) = %q, want %q", c.log, got, c.want)
		}
	}
}
