package tests

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-project/berth/tests/fixture"
)

// busyboxImage builds the test image: busybox plus layers with known files, and labels.
func busyboxImage(t *testing.T, extra ...[]fixture.Entry) v1.Image {
	t.Helper()
	if len(extra) == 0 {
		extra = [][]fixture.Entry{
			{{Name: "app/", Type: tar.TypeDir}, {Name: "app/hello", Body: "hello\n", Mode: 0o4755, UID: 1000, GID: 1000}},
			{{Name: "app/data", Body: "linked"}, {Name: "app/data-link", Type: tar.TypeLink, Linkname: "app/data"}},
		}
	}
	img, err := fixture.Busybox(map[string]string{"org.test.name": "busybox", "tier": "test"}, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func pushFixture(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	if err := fixture.Push(ref, img); err != nil {
		t.Fatalf("push fixture %s: %v", ref, err)
	}
}

func digestOf(t *testing.T, img v1.Image) string {
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestImagePullListInspectPush(t *testing.T) {
	RequireRoot(t)
	reg := fixture.StartRegistry(t)
	b := NewBerth(t)
	img := busyboxImage(t)
	ref := reg.Addr + "/test/busybox:1"
	pushFixture(t, ref, img)

	r := b.Run("pull", ref).WantSuccess(t)
	for _, want := range []string{"1: Pulling from " + reg.Addr + "/test/busybox", "Pull complete", "Digest: " + digestOf(t, img),
		"Status: Downloaded newer image for " + ref, "\n" + ref + "\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("pull output lacks %q:\n%s", want, r.Stdout)
		}
	}
	// A second pull downloads and unpacks nothing.
	r = b.Run("pull", ref).WantSuccess(t)
	if strings.Contains(r.Stdout, "Pull complete") || !strings.Contains(r.Stdout, "Image is up to date") {
		t.Errorf("re-pull output:\n%s", r.Stdout)
	}
	if got := strings.TrimSpace(b.Run("pull", "-q", ref).WantSuccess(t).Stdout); got != ref {
		t.Errorf("pull -q printed %q", got)
	}

	id, _ := img.ConfigName()
	r = b.Run("images").WantSuccess(t)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "REPOSITORY") || !strings.Contains(lines[0], "IMAGE ID") {
		t.Fatalf("images:\n%s", r.Stdout)
	}
	if f := strings.Fields(lines[1]); f[0] != reg.Addr+"/test/busybox" || f[1] != "1" || f[2] != id.Hex[:12] {
		t.Errorf("images row: %q", lines[1])
	}
	b.Run("image", "ls", "-q").WantSuccess(t)
	if got := strings.TrimSpace(b.Run("image", "ls", "-q").Stdout); got != id.Hex[:12] {
		t.Errorf("image ls -q = %q", got)
	}
	if got := strings.TrimSpace(b.Run("images", "-q", "--no-trunc").Stdout); got != id.String() {
		t.Errorf("images -q --no-trunc = %q", got)
	}
	if got := b.Run("images", "--digests", "--format", "{{.Digest}}").WantSuccess(t).Stdout; strings.TrimSpace(got) != digestOf(t, img) {
		t.Errorf("images --digests = %q", got)
	}
	if got := b.Run("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "label=tier=test").Stdout; strings.TrimSpace(got) != ref {
		t.Errorf("label filter = %q", got)
	}
	if got := b.Run("images", "--filter", "label=tier=prod", "-q").Stdout; got != "" {
		t.Errorf("label filter mismatch listed %q", got)
	}
	if got := b.Run("images", "-q", "--filter", "reference=*/test/*").Stdout; strings.TrimSpace(got) != id.Hex[:12] {
		t.Errorf("reference filter = %q", got)
	}
	b.Run("images", "--filter", "colour=red").WantError(t, 1, `invalid filter "colour"`)

	// inspect is Docker-shaped.
	r = b.Run("image", "inspect", ref).WantSuccess(t)
	var ins []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &ins); err != nil || len(ins) != 1 {
		t.Fatalf("inspect: %v\n%s", err, r.Stdout)
	}
	if ins[0]["Id"] != id.String() || ins[0]["Os"] != "linux" || ins[0]["RootFS"].(map[string]any)["Type"] != "layers" {
		t.Errorf("inspect: %v", ins[0])
	}
	if got := b.Run("image", "inspect", "--format", "{{index .Config.Labels \"org.test.name\"}} {{len .RootFS.Layers}}", ref).Stdout; got != "busybox 3\n" {
		t.Errorf("inspect --format = %q", got)
	}
	b.Run("image", "inspect", "nosuchimage").WantError(t, 1, "nosuchimage")

	// history lists the three layers.
	r = b.Run("history", ref).WantSuccess(t)
	if n := len(strings.Split(strings.TrimSpace(r.Stdout), "\n")); n != 4 || !strings.HasPrefix(r.Stdout, "IMAGE") {
		t.Errorf("history:\n%s", r.Stdout)
	}

	// Push to another repository: only the blobs it lacks are sent, and the digest survives.
	dst := reg.Addr + "/copy/busybox:2"
	r = b.Run("push", ref, dst).WantSuccess(t)
	if !strings.Contains(r.Stdout, "2: digest: "+digestOf(t, img)) {
		t.Errorf("push output:\n%s", r.Stdout)
	}
	b.Run("tag", ref, reg.Addr+"/tagged/busybox:3").WantSuccess(t)
	b.Run("push", reg.Addr+"/tagged/busybox:3").WantSuccess(t)
	for _, repo := range []string{dst, reg.Addr + "/tagged/busybox:3"} {
		nr, _ := name.ParseReference(repo, name.Insecure)
		pushed, err := remote.Image(nr)
		if err != nil {
			t.Fatal(err)
		}
		if got := digestOf(t, pushed); got != digestOf(t, img) {
			t.Errorf("%s has digest %s, want %s", repo, got, digestOf(t, img))
		}
	}
	if skopeo, err := exec.LookPath("skopeo"); err == nil {
		out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "docker://"+dst).Output()
		if err != nil {
			t.Fatalf("skopeo inspect: %v", err)
		}
		var si struct{ Layers []string }
		json.Unmarshal(out, &si)
		m, _ := img.Manifest()
		if len(si.Layers) != len(m.Layers) {
			t.Fatalf("skopeo sees %d layers, want %d", len(si.Layers), len(m.Layers))
		}
		for i, l := range m.Layers {
			if si.Layers[i] != l.Digest.String() {
				t.Errorf("skopeo layer %d = %s, want %s", i, si.Layers[i], l.Digest)
			}
		}
	}
}

func TestImageSharedLayersFetchedOnce(t *testing.T) {
	RequireRoot(t)
	reg := fixture.StartRegistry(t)
	b := NewBerth(t)
	var layers [][]fixture.Entry
	for i := 0; i < 7; i++ {
		layers = append(layers, []fixture.Entry{{Name: fmt.Sprintf("l%d", i), Body: strings.Repeat("x", i*100)}})
	}
	a := busyboxImage(t, layers...)
	bimg := busyboxImage(t, append(layers, []fixture.Entry{{Name: "extra", Body: "more"}})...)
	pushFixture(t, reg.Addr+"/a:1", a)
	pushFixture(t, reg.Addr+"/b:1", bimg)
	b.Run("pull", reg.Addr+"/a:1").WantSuccess(t)
	r := b.Run("pull", reg.Addr+"/b:1").WantSuccess(t)
	if n := strings.Count(r.Stdout, "Already exists"); n != 8 {
		t.Errorf("second image: %d layers already present, want 8:\n%s", n, r.Stdout)
	}
	if n := strings.Count(r.Stdout, "Pull complete"); n != 1 {
		t.Errorf("second image: %d layers pulled, want 1:\n%s", n, r.Stdout)
	}
}

func TestImageReferenceErrors(t *testing.T) {
	b := NewBerth(t)
	for _, ref := range []string{"UPPER/case", "a:b:c", "busybox@sha256:123", "-x", "ba d"} {
		r := b.Run("pull", ref)
		want := 1 // a bad reference is the user's error; Docker exits 1
		if ref == "-x" {
			want = 125 // an unknown flag
		}
		if r.Code != want || strings.Count(strings.TrimSpace(r.Stderr), "\n") > 1 || r.Stderr == "" {
			t.Errorf("pull %q: exit %d, stderr %q", ref, r.Code, r.Stderr)
		}
	}
	b.Run("pull", "127.0.0.1:1/none/such:1").WantError(t, 125, "127.0.0.1:1/none/such:1")
	b.Run("rmi", "nosuch").WantError(t, 1, "nosuch")
	b.Run("tag", "nosuch", "x:1").WantError(t, 1, "nosuch")
	b.Run("save", "-o", filepath.Join(t.TempDir(), "x.tar"), "nosuch").WantError(t, 1, "nosuch")
	b.Run("load", "-i", "/nonexistent.tar").WantError(t, 1, "/nonexistent.tar")
	b.Run("images", "--bogus").WantError(t, 125, "unknown flag: --bogus")
}

func TestImageCorruptBlobStoresNothing(t *testing.T) {
	RequireRoot(t)
	reg := fixture.StartRegistry(t)
	b := NewBerth(t)
	img := busyboxImage(t)
	ref := reg.Addr + "/bad/busybox:1"
	pushFixture(t, ref, img)
	layers, _ := img.Layers()
	d, _ := layers[1].Digest()
	data := filepath.Join(reg.Dir, "docker/registry/v2/blobs/sha256", d.Hex[:2], d.Hex, "data")
	orig, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{}, orig...)
	bad[len(bad)/2] ^= 0xff
	os.WriteFile(data, bad, 0o644)
	r := b.Run("pull", ref).WantExit(t, 125)
	if !strings.Contains(r.Stderr, d.String()) {
		t.Errorf("corrupt pull error does not name the blob: %q", r.Stderr)
	}
	if got := b.Run("images", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("a failed pull left images: %q", got)
	}
	// A truncated blob also fails cleanly.
	os.WriteFile(data, orig[:len(orig)/2], 0o644)
	b.Run("pull", ref).WantExit(t, 125)
	// Once the registry is healthy the pull completes.
	os.WriteFile(data, orig, 0o644)
	b.Run("pull", ref).WantSuccess(t)
}

func TestImagePullKilledMidway(t *testing.T) {
	RequireRoot(t)
	reg := fixture.StartRegistry(t)
	b := NewBerth(t)
	big, err := random.Image(4<<20, 8)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Addr + "/big/random:1"
	pushFixture(t, ref, big)
	for _, delay := range []time.Duration{5, 30, 80, 150, 300, 600} {
		cmd := b.Cmd("pull", ref)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // kill its helper processes too
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay * time.Millisecond)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		out := b.Run("images", "-q", "--no-trunc").WantSuccess(t).Stdout
		if out != "" && strings.TrimSpace(out) != mustConfigName(t, big) {
			t.Fatalf("after kill at %v: images lists %q", delay*time.Millisecond, out)
		}
		if out != "" {
			// Finished before the kill: start over so the next round is interrupted again.
			b.Run("rmi", ref).WantSuccess(t)
		}
	}
	b.Run("pull", ref).WantSuccess(t)
	if got := strings.TrimSpace(b.Run("images", "-q", "--no-trunc").Stdout); got != mustConfigName(t, big) {
		t.Errorf("after completing pull: %q", got)
	}
}

func mustConfigName(t *testing.T, img v1.Image) string {
	n, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return n.String()
}

func TestImageSaveLoad(t *testing.T) {
	RequireRoot(t)
	b := NewBerth(t)
	dir := t.TempDir()
	one, two := busyboxImage(t), busyboxImage(t, []fixture.Entry{{Name: "two", Body: "2"}})
	for tag, img := range map[string]v1.Image{"localhost/one:1": one, "localhost/two:2": two} {
		p := filepath.Join(dir, strings.ReplaceAll(tag, "/", "_")+".tar")
		if err := fixture.WriteDockerArchive(p, tag, img); err != nil {
			t.Fatal(err)
		}
		r := b.Run("load", "-i", p).WantSuccess(t)
		if want := "Loaded image: " + tag + "\n"; r.Stdout != want {
			t.Errorf("load output %q, want %q", r.Stdout, want)
		}
	}
	for _, format := range []string{"docker-archive", "oci-archive"} {
		t.Run(format, func(t *testing.T) {
			archive := filepath.Join(dir, format+".tar")
			b.Run("save", "--format", format, "-o", archive, "localhost/one:1", "localhost/two:2").WantSuccess(t)
			b2 := NewBerth(t)
			data, _ := os.ReadFile(archive)
			r := b2.RunStdin(data, "load").WantSuccess(t)
			for _, tag := range []string{"localhost/one:1", "localhost/two:2"} {
				if !strings.Contains(r.Stdout, "Loaded image: "+tag) {
					t.Errorf("load of %s lacks %s: %q", format, tag, r.Stdout)
				}
			}
			got := b2.Run("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").WantSuccess(t).Stdout
			for tag, img := range map[string]v1.Image{"localhost/one:1": one, "localhost/two:2": two} {
				id, _ := img.ConfigName()
				if !strings.Contains(got, tag+" "+id.Hex[:12]) {
					t.Errorf("%s after load: %q lacks %s %s", format, got, tag, id.Hex[:12])
				}
			}
		})
	}
	b.Run("load", "-i", filepath.Join(dir, "nonarchive")).WantExit(t, 1)
	os.WriteFile(filepath.Join(dir, "garbage.tar"), []byte("not a tar at all"), 0o644)
	b.Run("load", "-i", filepath.Join(dir, "garbage.tar")).WantExit(t, 1)
	if n := len(strings.Fields(b.Run("images", "-q").Stdout)); n != 2 {
		t.Errorf("after bad loads: %d images, want 2", n)
	}
}

func TestImagePodmanInterop(t *testing.T) {
	RequireRoot(t)
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman not installed")
	}
	b := NewBerth(t)
	dir := t.TempDir()
	pd := func(args ...string) (string, error) {
		full := append([]string{"--root", filepath.Join(dir, "proot"), "--runroot", filepath.Join(dir, "prun"), "--storage-driver", "vfs"}, args...)
		out, err := exec.Command(podman, full...).CombinedOutput()
		return string(out), err
	}
	p := filepath.Join(dir, "in.tar")
	if err := fixture.WriteDockerArchive(p, "localhost/inter:1", busyboxImage(t)); err != nil {
		t.Fatal(err)
	}
	b.Run("load", "-i", p).WantSuccess(t)
	for _, format := range []string{"docker-archive", "oci-archive"} {
		out := filepath.Join(dir, "berth-"+format+".tar")
		b.Run("save", "--format", format, "-o", out, "localhost/inter:1").WantSuccess(t)
		if o, err := pd("load", "-i", out); err != nil {
			t.Fatalf("podman load of berth's %s: %v\n%s", format, err, o)
		}
		if o, err := pd("run", "--rm", "--network", "none", "--cgroups", "disabled", "localhost/inter:1", "cat", "/app/hello"); err != nil || !strings.Contains(o, "hello") {
			t.Logf("podman run of loaded image (informational): %v %s", err, o)
		}
	}
	// podman save → berth load.
	if o, err := pd("tag", "localhost/inter:1", "localhost/frompodman:7"); err != nil {
		t.Fatalf("podman tag: %v %s", err, o)
	}
	for _, format := range []string{"docker-archive", "oci-archive"} {
		out := filepath.Join(dir, "podman-"+format+".tar")
		if o, err := pd("save", "--format", format, "-o", out, "localhost/frompodman:7"); err != nil {
			t.Fatalf("podman save: %v %s", err, o)
		}
		b2 := NewBerth(t)
		r := b2.Run("load", "-i", out).WantSuccess(t)
		if format == "docker-archive" && !strings.Contains(r.Stdout, "localhost/frompodman:7") {
			t.Errorf("podman %s load: %q", format, r.Stdout)
		}
		if got := b2.Run("image", "inspect", "--format", "{{index .Config.Labels \"tier\"}}", strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(strings.Split(r.Stdout, "\n")[0], "Loaded image: ")), "Loaded image ID: ")).Stdout; got != "test\n" {
			t.Errorf("podman %s archive loaded with labels %q", format, got)
		}
	}
}

func TestImageImportTagRemovePrune(t *testing.T) {
	RequireRoot(t)
	b := NewBerth(t)
	entries, err := fixture.BusyboxEntries()
	if err != nil {
		t.Fatal(err)
	}
	rootfs, _ := fixture.TarBytes(entries)
	r := b.RunStdin(rootfs, "import", "-c", `CMD ["sh", "-c", "echo hi"]`, "-c", "ENV FOO=bar", "-c", "WORKDIR /tmp",
		"-c", "LABEL a=b", "-c", `ENTRYPOINT ["/bin/sh"]`, "-m", "imported", "-", "localhost/imported:1").WantSuccess(t)
	id := strings.TrimSpace(r.Stdout)
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("import printed %q", r.Stdout)
	}
	got := b.Run("image", "inspect", "--format", "{{json .Config.Cmd}} {{.Config.Env}} {{.Config.WorkingDir}} {{.Config.Labels.a}} {{json .Config.Entrypoint}} {{.Comment}}", "localhost/imported:1").WantSuccess(t).Stdout
	if want := `["sh","-c","echo hi"] [FOO=bar] /tmp b ["/bin/sh"] imported` + "\n"; got != want {
		t.Errorf("imported config %q, want %q", got, want)
	}
	b.RunStdin(rootfs, "import", "-c", "FROB x", "-").WantError(t, 1, `invalid change "FROB x"`)
	b.RunStdin([]byte("garbage"), "import", "-").WantExit(t, 1)
	b.Run("import", "/nonexistent.tar").WantError(t, 1, "/nonexistent.tar")

	// tag adds a name; rmi of one name untags; rmi of the last deletes.
	b.Run("tag", "localhost/imported:1", "other:2").WantSuccess(t)
	if n := strings.Count(b.Run("images").Stdout, id[7:19]); n != 2 {
		t.Errorf("after tag: image listed %d times, want 2", n)
	}
	b.Run("tag", "localhost/imported:1", "Bad:Name").WantError(t, 1, "Bad:Name")
	r = b.Run("rmi", "other:2").WantSuccess(t)
	if r.Stdout != "Untagged: other:2\n" {
		t.Errorf("rmi name printed %q", r.Stdout)
	}
	b.Run("tag", "localhost/imported:1", "other:2").WantSuccess(t)
	b.Run("rmi", id[7:19]).WantError(t, 2, "must be forced")
	r = b.Run("rmi", "-f", id[7:19]).WantSuccess(t)
	if !strings.Contains(r.Stdout, "Deleted: "+id) {
		t.Errorf("rmi -f printed %q", r.Stdout)
	}
	if got := b.Run("images", "-q").Stdout; got != "" {
		t.Errorf("after rmi -f: %q", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(b.Root, "storage", "overlay")); len(entries) > 2 {
		t.Logf("storage after rmi: %v", entries)
	}

	// prune removes dangling images only; -a removes unused ones too.
	b.RunStdin(rootfs, "import", "-", "localhost/keep:1").WantSuccess(t)
	r = b.RunStdin(append(rootfs[:0:0], rootfs...), "import", "-c", "LABEL x=y", "-", "localhost/dangle:1").WantSuccess(t)
	dangling := strings.TrimSpace(r.Stdout)
	b.RunStdin(rootfs, "import", "-c", "LABEL x=z", "-", "localhost/dangle:1").WantSuccess(t)
	if got := strings.TrimSpace(b.Run("images", "-q", "--no-trunc", "--filter", "dangling=true").Stdout); got != dangling {
		t.Errorf("dangling = %q, want %q", got, dangling)
	}
	r = b.Run("image", "prune", "-f").WantSuccess(t)
	if !strings.Contains(r.Stdout, "Deleted: "+dangling) {
		t.Errorf("prune printed %q", r.Stdout)
	}
	if n := len(strings.Fields(b.Run("images", "-q").Stdout)); n != 2 {
		t.Errorf("after prune: %d images, want 2", n)
	}
	b.Run("image", "prune", "-a", "-f").WantSuccess(t)
	if got := b.Run("images", "-q").Stdout; got != "" {
		t.Errorf("after prune -a: %q", got)
	}
}

func TestImageLoginLogout(t *testing.T) {
	b := NewBerth(t)
	srv := basicAuthRegistry(t, "alice", "s3cret")
	b.RunStdin([]byte("wrong\n"), "login", "-u", "alice", "--password-stdin", srv).WantError(t, 1, "unauthorized: incorrect username or password")
	r := b.RunStdin([]byte("s3cret\n"), "login", "-u", "alice", "--password-stdin", srv).WantSuccess(t)
	if r.Stdout != "Login Succeeded\n" {
		t.Errorf("login printed %q", r.Stdout)
	}
	auth := b.Env[0][len("BERTH_AUTH_FILE="):]
	data, err := os.ReadFile(auth)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	json.Unmarshal(data, &cfg)
	if cfg.Auths[srv].Auth != "YWxpY2U6czNjcmV0" {
		t.Errorf("auth file %s", data)
	}
	b.Run("login", "-u", "alice", "-p", "x", "--password-stdin", srv).WantError(t, 1, "mutually exclusive")
	b.Run("logout", srv).WantSuccess(t)
	data, _ = os.ReadFile(auth)
	if strings.Contains(string(data), srv) {
		t.Errorf("logout left %s", data)
	}
}

// basicAuthRegistry answers /v2/ like a registry that wants HTTP basic credentials.
func basicAuthRegistry(t *testing.T, user, password string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == user && p == password {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestImagePullDiskFull(t *testing.T) {
	RequireRoot(t)
	reg := fixture.StartRegistry(t)
	big, err := random.Image(2<<20, 4)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Addr + "/big/full:1"
	pushFixture(t, ref, big)
	b := NewBerth(t)
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", filepath.Dir(b.Root)).Run(); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", filepath.Dir(b.Root)).Run() })
	b.Run("pull", ref).WantError(t, 125, "no space left on device")
	if got := b.Run("images", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("a pull that hit ENOSPC left images: %q", got)
	}
}

func TestImageMirrorAndPlatform(t *testing.T) {
	RequireRoot(t)
	reg := fixture.StartRegistry(t)
	b := NewBerth(t)
	img := busyboxImage(t)
	pushFixture(t, reg.Addr+"/library/busybox:mirrored", img)
	conf := filepath.Join(t.TempDir(), "berth.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("[registries]\nmirrors = { \"docker.io\" = [%q] }\n", reg.Addr)), 0o644)
	// docker.io is unreachable here: the pull can only succeed through the mirror.
	r := b.Run("--config", conf, "pull", "busybox:mirrored").WantSuccess(t)
	if !strings.HasSuffix(r.Stdout, "docker.io/library/busybox:mirrored\n") {
		t.Errorf("mirror pull output:\n%s", r.Stdout)
	}
	if got := b.Run("images", "--format", "{{.Repository}}:{{.Tag}}").Stdout; got != "busybox:mirrored\n" {
		t.Errorf("images after mirror pull: %q", got)
	}
	b.Run("pull", "--platform", "linux/s390x", reg.Addr+"/library/busybox:mirrored").WantError(t, 1, "linux/s390x")
	b.Run("pull", "--platform", "nonsense", reg.Addr+"/library/busybox:mirrored").WantExit(t, 1)
	b.Run("pull", "-q", "--platform", "linux/amd64", reg.Addr+"/library/busybox:mirrored").WantSuccess(t)
}

func TestImageBeforeSinceAndTTYProgress(t *testing.T) {
	RequireRoot(t)
	b := NewBerth(t)
	entries, _ := fixture.BusyboxEntries()
	rootfs, _ := fixture.TarBytes(entries)
	for _, n := range []string{"first", "second", "third"} {
		b.RunStdin(rootfs, "import", "-c", "LABEL n="+n, "-", "localhost/"+n+":1").WantSuccess(t)
		time.Sleep(10 * time.Millisecond)
	}
	list := func(f string) string {
		return strings.TrimSpace(b.Run("images", "--format", "{{.Repository}}", "--filter", f).WantSuccess(t).Stdout)
	}
	if got := list("before=localhost/second:1"); got != "localhost/first" {
		t.Errorf("before= %q", got)
	}
	if got := list("since=localhost/second:1"); got != "localhost/third" {
		t.Errorf("since= %q", got)
	}
	b.Run("images", "--filter", "since=nosuch").WantError(t, 1, "nosuch")
	b.Run("images", "--filter", "dangling=maybe").WantError(t, 1, "dangling")

	// On a terminal, pull draws per-layer progress lines in place.
	reg := fixture.StartRegistry(t)
	ref := reg.Addr + "/tty/busybox:1"
	pushFixture(t, ref, busyboxImage(t))
	cmd := b.Cmd("pull", ref)
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(f)
	cmd.Wait()
	if cmd.ProcessState.ExitCode() != 0 || !strings.Contains(string(out), "\x1b[2K") || !strings.Contains(string(out), "Pull complete") {
		t.Errorf("tty pull (exit %d):\n%q", cmd.ProcessState.ExitCode(), out)
	}
}
