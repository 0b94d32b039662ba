package tests

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
