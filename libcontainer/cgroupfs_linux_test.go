package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/libcontainer/cgroups"
)

// TestCgroupViews checks what a container is shown of its cgroups, on the real kernel: a
// helper process joins a fresh cgroup (v1 memory with a limit, and the v2 hierarchy: a hybrid
// host's unified one, or a pure v2 host's), enters a cgroup namespace as the init does, and
// mounts its view read-only. It must see its own cgroup at the top, its own limit, "/" paths
// in /proc/self/cgroup, and be refused every write.
func TestCgroupViews(t *testing.T) {
	if os.Getenv("BERTH_CGVIEW_CHILD") != "" {
		cgroupViewChild()
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	name := fmt.Sprintf("berth-viewtest-%d", os.Getpid())
	var v1mem, v2 string
	switch cgroups.DetectMode() {
	case cgroups.Unified:
		v2 = filepath.Join(cgroups.Root, name)
	case cgroups.Hybrid:
		v2 = filepath.Join(cgroups.Root, "unified", name)
		v1mem = filepath.Join(cgroups.Root, "memory", name)
	default:
		v1mem = filepath.Join(cgroups.Root, "memory", name)
	}
	var dirs []string
	for _, d := range []string{v1mem, v2} {
		if d == "" {
			continue
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Skipf("cannot create a cgroup: %v", err)
		}
		dirs = append(dirs, d)
		defer os.Remove(d)
	}
	if v1mem != "" {
		if err := os.WriteFile(filepath.Join(v1mem, "memory.limit_in_bytes"), []byte("50331648"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCgroupViews$", "-test.v")
	cmd.Env = append(os.Environ(), "BERTH_CGVIEW_CHILD=1", "BERTH_CGVIEW_DIRS="+strings.Join(dirs, ":"), "BERTH_CGVIEW_MNT="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	for _, want := range []string{"own cgroup ok", "v2 ok"} {
		if want == "v2 ok" && v2 == "" {
			continue
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("helper did not report %q:\n%s", want, out)
		}
	}
	if v1mem != "" && !strings.Contains(string(out), "v1 ok") {
		t.Errorf("helper did not report v1 ok:\n%s", out)
	}
}

// cgroupViewChild is the helper of TestCgroupViews; it prints what held and exits non-zero on
// the first failure.
func cgroupViewChild() {
	runtime.LockOSThread()
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL: "+format+"\n", args...)
		os.Exit(1)
	}
	for _, d := range strings.Split(os.Getenv("BERTH_CGVIEW_DIRS"), ":") {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte("0"), 0o644); err != nil {
			fail("join %s: %v", d, err)
		}
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		fail("unshare mount namespace: %v", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fail("make / private: %v", err)
	}
	views, err := cgroups.OwnViews()
	if err != nil {
		fail("OwnViews: %v", err)
	}
	if err := enterCgroupNS(); err != nil {
		fail("%v", err)
	}
	own, _ := os.ReadFile("/proc/self/cgroup")
	for _, c := range cgroups.ParseProcCgroup(string(own)) {
		if c.Path != "/" {
			fail("/proc/self/cgroup in the new namespace: %q", own)
		}
	}
	fmt.Println("own cgroup ok")
	mnt := os.Getenv("BERTH_CGVIEW_MNT")
	flags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	pid := strconv.Itoa(os.Getpid())
	mode := cgroups.DetectMode()
	if mode != cgroups.Legacy {
		v2dir := filepath.Join(mnt, "v2")
		os.Mkdir(v2dir, 0o755)
		if err := mountCgroup2(v2dir, flags, views); err != nil {
			fail("mountCgroup2: %v", err)
		}
		procs, _ := os.ReadFile(filepath.Join(v2dir, "cgroup.procs"))
		if strings.TrimSpace(string(procs)) != pid {
			fail("v2 cgroup.procs at the top is %q, want only us (%s)", procs, pid)
		}
		if ents, _ := os.ReadDir(v2dir); hasDir(ents) {
			fail("v2 view shows child cgroups: %v", ents)
		}
		if err := os.WriteFile(filepath.Join(v2dir, "cgroup.procs"), []byte(pid), 0o644); !errors.Is(err, unix.EROFS) {
			fail("write v2 cgroup.procs: %v, want EROFS", err)
		}
		if err := os.Mkdir(filepath.Join(v2dir, "escape"), 0o755); !errors.Is(err, unix.EROFS) {
			fail("mkdir in the v2 view: %v, want EROFS", err)
		}
		fmt.Println("v2 ok")
	}
	if mode != cgroups.Unified {
		v1dir := filepath.Join(mnt, "v1")
		os.Mkdir(v1dir, 0o755)
		if err := mountCgroup1(v1dir, flags, views); err != nil {
			fail("mountCgroup1: %v", err)
		}
		limit, _ := os.ReadFile(filepath.Join(v1dir, "memory/memory.limit_in_bytes"))
		if strings.TrimSpace(string(limit)) != "50331648" {
			fail("memory.limit_in_bytes in the view: %q, want the cgroup's 50331648", limit)
		}
		for _, f := range []string{"memory/cgroup.procs", "memory/memory.limit_in_bytes", "memory/tasks"} {
			if err := os.WriteFile(filepath.Join(v1dir, f), []byte(pid), 0o644); !errors.Is(err, unix.EROFS) {
				fail("write %s: %v, want EROFS", f, err)
			}
		}
		if err := os.Mkdir(filepath.Join(v1dir, "new"), 0o755); !errors.Is(err, unix.EROFS) {
			fail("mkdir in the v1 tmpfs: %v, want EROFS", err)
		}
		fmt.Println("v1 ok")
	}
	os.Exit(0)
}

func hasDir(ents []os.DirEntry) bool {
	for _, e := range ents {
		if e.IsDir() {
			return true
		}
	}
	return false
}

func TestCloneFlagsLeaveCgroupNamespaceToInit(t *testing.T) {
	cases := []struct {
		name string
		nss  []specs.LinuxNamespace
		want uintptr
	}{
		{"cgroup namespace is not cloned", []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.CgroupNamespace}},
			unix.CLONE_NEWPID},
		{"joined namespaces are not cloned", []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/x"}, {Type: specs.MountNamespace}},
			unix.CLONE_NEWNS},
		{"user and uts", []specs.LinuxNamespace{{Type: specs.UserNamespace}, {Type: specs.UTSNamespace}},
			unix.CLONE_NEWUSER | unix.CLONE_NEWUTS},
	}
	for _, c := range cases {
		if got := cloneFlags(&specs.Linux{Namespaces: c.nss}); got != c.want {
			t.Errorf("%s: cloneFlags = %#x, want %#x", c.name, got, c.want)
		}
	}
}
