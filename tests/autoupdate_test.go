package tests

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/tests/fixture"
)

// loadAs loads a busybox image with the extra files as ref and returns its ID.
func loadAs(t *testing.T, b *Berth, ref string, files ...fixture.Entry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "img.tar")
	if err := fixture.WriteDockerArchive(p, ref, busyboxImage(t, files)); err != nil {
		t.Fatal(err)
	}
	b.Run("load", "-i", p).WantSuccess(t)
	return strings.TrimSpace(b.Run("image", "inspect", "--format", "{{.Id}}", ref).WantSuccess(t).Stdout)
}

func TestAutoUpdateUnderSystemd(t *testing.T) {
	b := withImage(t)
	v1 := loadAs(t, b, "localhost/au:1", fixture.Entry{Name: "version", Body: "1\n"})
	b.Run("create", "--name", "au", "--network", "none", "--stop-timeout", "1", "--label", "io.containers.autoupdate=local",
		"localhost/au:1", "sleep", "1000").WantSuccess(t)
	sd := startSystemd(t)
	in := sd.Inside(b)
	sd.WriteUnit("container-au.service", b.Run("generate", "systemd", "--new", "--name", "au").WantSuccess(t).Stdout)
	b.Run("rm", "au").WantSuccess(t)
	sd.MustSystemctl("daemon-reload")
	sd.MustSystemctl("start", "container-au.service")
	image := func() string {
		return strings.TrimSpace(in.Run("inspect", "--format", "{{.Image}}", "au").WantSuccess(t).Stdout)
	}
	if got := image(); got != v1 {
		t.Fatalf("the unit's container runs %s, want %s", got, v1)
	}

	// Nothing newer: nothing to do.
	r := in.Run("auto-update", "--format", "{{.Unit}} {{.Policy}} {{.Updated}}").WantSuccess(t)
	if r.Stdout != "container-au.service local false\n" {
		t.Errorf("auto-update with nothing newer: %q", r.Stdout)
	}

	// A newer local image: --dry-run says so, auto-update restarts the unit with it.
	v2 := loadAs(t, b, "localhost/au:1", fixture.Entry{Name: "version", Body: "2\n"})
	r = in.Run("auto-update", "--dry-run", "--format", "{{.Updated}}").WantSuccess(t)
	if r.Stdout != "pending\n" || image() != v1 {
		t.Errorf("--dry-run: %q, container image %s (want pending and still %s)", r.Stdout, image(), v1)
	}
	r = in.Run("auto-update").WantSuccess(t)
	if !strings.Contains(r.Stdout, "UNIT") || !strings.Contains(r.Stdout, "container-au.service") || !strings.HasSuffix(r.Stdout, "true\n") {
		t.Errorf("auto-update table:\n%s", r.Stdout)
	}
	if got := image(); got != v2 {
		t.Errorf("after auto-update the container runs %s, want %s", got, v2)
	}
	if got := in.Run("exec", "au", "cat", "/version").WantSuccess(t).Stdout; got != "2\n" {
		t.Errorf("/version = %q", got)
	}
	if got := sd.Show("container-au.service", "ActiveState"); got != "active" {
		t.Errorf("unit is %s after the update", got)
	}
	ev := in.Run("events", "--since", "0", "--until", "0s", "--filter", "event=auto-update", "--format", "{{.Action}} {{.Actor.Attributes.updated}}").WantSuccess(t).Stdout
	if ev != "auto-update true\n" {
		t.Errorf("auto-update events: %q", ev)
	}

	// A broken image (its sleep cannot run): the unit fails to start, the old image comes back.
	loadAs(t, b, "localhost/au:1", fixture.Entry{Name: "bin/sleep", Body: "not a program\n", Mode: 0o644})
	r = in.Run("auto-update", "--format", "{{.Updated}}").WantExit(t, 125)
	if r.Stdout != "rolled back\n" || !strings.Contains(r.Stderr, "rolled back") {
		t.Errorf("auto-update of a broken image: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if got := strings.TrimSpace(b.Run("image", "inspect", "--format", "{{.Id}}", "localhost/au:1").WantSuccess(t).Stdout); got != v2 {
		t.Errorf("after the rollback localhost/au:1 is %s, want %s", got, v2)
	}
	if got := image(); got != v2 {
		t.Errorf("after the rollback the container runs %s, want %s", got, v2)
	}
	if got := sd.Show("container-au.service", "ActiveState"); got != "active" {
		t.Errorf("unit is %s after the rollback", got)
	}
}

func TestAutoUpdateBadInput(t *testing.T) {
	b := withImage(t)
	// A policy but no unit: said plainly, the container left alone.
	b.Run("run", "-d", "--name", "nounit", "--network", "none", "--label", "io.containers.autoupdate=local", "localhost/bb:1", "sleep", "1000").WantSuccess(t)
	r := b.Run("auto-update", "--format", "{{.Container}} {{.Updated}}").WantExit(t, 1)
	if !strings.HasSuffix(r.Stdout, "(nounit) failed\n") {
		t.Errorf("stdout %q", r.Stdout)
	}
	if want := "Error: auto-update container nounit: no systemd unit runs it (no BERTH_SYSTEMD_UNIT label): run it from a unit of `generate systemd --new` or a Quadlet file\n"; r.Stderr != want {
		t.Errorf("stderr %q, want %q", r.Stderr, want)
	}
	b.Run("rm", "-f", "nounit").WantSuccess(t)
	b.Run("run", "-d", "--name", "badpolicy", "--network", "none", "--label", "io.containers.autoupdate=sometimes", "--label", "BERTH_SYSTEMD_UNIT=x.service", "localhost/bb:1", "sleep", "1000").WantSuccess(t)
	b.Run("auto-update").WantError(t, 1, `auto-update container badpolicy: invalid auto-update policy "sometimes": want registry or local`)
	b.Run("rm", "-f", "badpolicy").WantSuccess(t)
	// No labelled container: nothing printed, success.
	if r := b.Run("auto-update").WantSuccess(t); r.Stdout != "" {
		t.Errorf("auto-update with nothing to do printed %q", r.Stdout)
	}
}

// The registry policy compares with the registry's image: --dry-run only asks the registry.
func TestAutoUpdateRegistryDryRun(t *testing.T) {
	reg := fixture.StartRegistry(t)
	b := NewBerth(t)
	ref := reg.Addr + "/test/au:1"
	pushFixture(t, ref, busyboxImage(t, []fixture.Entry{{Name: "version", Body: "1\n"}}))
	b.Run("pull", "-q", ref).WantSuccess(t)
	b.Run("run", "-d", "--name", "reg", "--network", "none", "--label", "io.containers.autoupdate=registry",
		"--label", "BERTH_SYSTEMD_UNIT=reg.service", ref, "sleep", "1000").WantSuccess(t)
	if got := b.Run("auto-update", "--dry-run", "--format", "{{.Policy}} {{.Updated}}").WantSuccess(t).Stdout; got != "registry false\n" {
		t.Errorf("registry with the same image: %q", got)
	}
	pushFixture(t, ref, busyboxImage(t, []fixture.Entry{{Name: "version", Body: "2\n"}}))
	before := b.Run("images", "-q").WantSuccess(t).Stdout
	if got := b.Run("auto-update", "--dry-run", "--format", "{{.Policy}} {{.Updated}}").WantSuccess(t).Stdout; got != "registry pending\n" {
		t.Errorf("registry with a newer image: %q", got)
	}
	if after := b.Run("images", "-q").WantSuccess(t).Stdout; after != before {
		t.Errorf("--dry-run pulled: images %q, then %q", before, after)
	}
	b.Run("rm", "-f", "reg").WantSuccess(t)
}
