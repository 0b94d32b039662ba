package tests

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/userns"
	"github.com/berth-project/berth/libcontainer"
	"github.com/berth-project/berth/tests/fixture"
)

const rootlessUser = "berthtest"

// NewRootlessBerth runs berth as an unprivileged user with subordinate id ranges, creating
// the user (as root) when it does not exist yet.
func NewRootlessBerth(t *testing.T) *Berth {
	t.Helper()
	RequireRoot(t)
	for _, tool := range []string{"newuidmap", "newgidmap", "runuser", "useradd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("rootless tests need %s (apt-get install uidmap)", tool)
		}
	}
	u, err := user.Lookup(rootlessUser)
	if err != nil {
		if out, err := exec.Command("useradd", "-m", rootlessUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v: %s", err, out)
		}
		if u, err = user.Lookup(rootlessUser); err != nil {
			t.Fatal(err)
		}
	}
	if data, _ := os.ReadFile("/etc/subuid"); !strings.Contains(string(data), rootlessUser+":") {
		if out, err := exec.Command("usermod", "--add-subuids", "300000-365535", "--add-subgids", "300000-365535", rootlessUser).CombinedOutput(); err != nil {
			t.Fatalf("usermod: %v: %s", err, out)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	d, err := os.MkdirTemp("", "berth-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	os.Chown(d, uid, gid)
	t.Cleanup(func() { os.RemoveAll(d) })
	b := &Berth{t: t, Root: filepath.Join(d, "root"), RunRoot: filepath.Join(d, "run"),
		Env:    []string{"BERTH_AUTH_FILE=" + filepath.Join(d, "auth.json"), "HOME=" + u.HomeDir, "XDG_RUNTIME_DIR="},
		Prefix: []string{"runuser", "-u", rootlessUser, "--"}}
	return b
}

func TestRootlessPullKeepsOwners(t *testing.T) {
	b := NewRootlessBerth(t)
	reg := fixture.StartRegistry(t)
	img := busyboxImage(t)
	ref := reg.Addr + "/rootless/busybox:1"
	pushFixture(t, ref, img)

	b.Run("pull", "-q", ref).WantSuccess(t)
	r := b.Run("info", "--format", "{{.Host.Rootless}} {{.Store.Driver}}").WantSuccess(t)
	t.Logf("rootless info: %s", r.Stdout)
	if !strings.HasPrefix(r.Stdout, "true ") {
		t.Errorf("info as %s: %q", rootlessUser, r.Stdout)
	}
	// Inside the user namespace, files keep their in-image owners and modes.
	out, err := exec.Command("find", b.Root, "-path", "*/app/hello").Output()
	if err != nil || len(strings.Fields(string(out))) == 0 {
		t.Fatalf("unpacked app/hello not found under %s: %v", b.Root, err)
	}
	hello := strings.Fields(string(out))[0]
	r = b.Run("unshare", "stat", "-c", "%u:%g %a", hello).WantSuccess(t)
	if got := strings.TrimSpace(r.Stdout); got != "1000:1000 4755" {
		t.Errorf("inside the namespace app/hello is %q, want 1000:1000 4755", got)
	}
	// On the host the owner is the user's subordinate uid for 1000.
	var st = mustStat(t, hello)
	if st.uid < 100000 {
		t.Errorf("on the host app/hello belongs to uid %d, want a subordinate uid", st.uid)
	}
	b.Run("images", "-q").WantSuccess(t)
	b.Run("rmi", ref).WantSuccess(t)
}

type owner struct{ uid, gid int }

func mustStat(t *testing.T, p string) owner {
	out, err := exec.Command("stat", "-c", "%u %g", p).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	u, _ := strconv.Atoi(f[0])
	g, _ := strconv.Atoi(f[1])
	return owner{u, g}
}

func TestRootlessRuntime(t *testing.T) {
	b := NewRootlessBerth(t)
	u, _ := user.Lookup(rootlessUser)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	subU, err := userns.SubIDs("/etc/subuid", rootlessUser, uid)
	if err != nil {
		t.Fatal(err)
	}
	subG, err := userns.SubIDs("/etc/subgid", rootlessUser, uid)
	if err != nil {
		t.Fatal(err)
	}
	for name, ranges := range map[string]bool{"own uid only": false, "subordinate ranges": true} {
		t.Run(name, func(t *testing.T) {
			dir := bundle(t, func(s *specs.Spec) {
				libcontainer.MakeRootless(s, uid, gid)
				s.Process.Args = []string{"sh", "-c", "cat /proc/self/uid_map; id -u"}
				if ranges {
					s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 1, HostID: uint32(subU[0].Start), Size: 1000})
					s.Linux.GIDMappings = append(s.Linux.GIDMappings, specs.LinuxIDMapping{ContainerID: 1, HostID: uint32(subG[0].Start), Size: 1000})
				}
			})
			exec.Command("chown", "-R", u.Uid+":"+u.Gid, dir).Run()
			r := b.Run("runtime", "--root", filepath.Join(filepath.Dir(b.Root), "rt"), "run", "--bundle", dir, "rl").WantSuccess(t)
			if f := strings.Fields(r.Stdout); len(f) < 4 || f[0] != "0" || f[1] != strconv.Itoa(uid) || f[len(f)-1] != "0" {
				t.Errorf("rootless container output:\n%s", r.Stdout)
			}
			if ranges && !strings.Contains(r.Stdout, strconv.Itoa(subU[0].Start)) {
				t.Errorf("subordinate range not mapped:\n%s", r.Stdout)
			}
		})
	}
}

// A user without root builds an image with RUN steps and runs containers from it; on a host
// whose cgroups are not delegated to the user, both run without a cgroup rather than fail.
func TestRootlessBuildAndRun(t *testing.T) {
	b := NewRootlessBerth(t)
	reg := fixture.StartRegistry(t)
	ref := reg.Addr + "/rootless/busybox:1"
	pushFixture(t, ref, busyboxImage(t))
	b.Run("pull", "-q", ref).WantSuccess(t)
	dockerfile := "FROM " + ref + "\nRUN echo built > /built && id -u > /uid\nCMD cat /built /uid\n"
	b.RunStdin([]byte(dockerfile), "build", "-q", "-t", "localhost/rootless-built", "-").WantSuccess(t)
	if r := b.Run("run", "--rm", "localhost/rootless-built").WantSuccess(t); r.Stdout != "built\n0\n" {
		t.Errorf("rootless run of a built image: %q", r.Stdout)
	}
	b.Run("run", "--rm", "localhost/rootless-built", "sh", "-c", "exit 3").WantExit(t, 3)
}
