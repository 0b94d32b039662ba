package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeQuadlet writes Quadlet files into dir.
func writeQuadlet(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The generator as systemd runs it: berth linked as berth-system-generator in a generator
// directory, QUADLET_UNIT_DIRS naming the test's files, the units in /run/systemd/generator.
func TestQuadletGeneratorUnderSystemd(t *testing.T) {
	b := withImage(t)
	gens, qdir := t.TempDir(), t.TempDir()
	if err := os.Symlink(berthBin, filepath.Join(gens, "berth-system-generator")); err != nil {
		t.Fatal(err)
	}
	// The units reach the test's storage through berth's environment variables.
	service := "[Service]\nEnvironment=BERTH_ROOT=" + b.Root + " BERTH_RUNROOT=" + b.RunRoot + "\n"
	writeQuadlet(t, qdir, map[string]string{
		"qweb.container": "[Unit]\nDescription=quadlet web\n\n[Container]\nImage=localhost/bb:1\nExec=sleep 1000\n" +
			"ContainerName=qweb\nNetwork=none\nVolume=qdata.volume:/data\nEnvironment=GREETING=\"hello world\"\nLabel=app=qweb\n" +
			"StopTimeout=1\n\n" + service + "\n[Install]\nWantedBy=berth-e2e.target\n",
		"qweb.container.d/10-user.conf": "[Container]\nUser=65534\n",
		"qdata.volume":                  "[Volume]\nVolumeName=qdata\nLabel=from=quadlet\n\n" + service,
		"qtypo.container":               "[Container]\nImage=localhost/bb:1\nExec=sleep 1000\nColour=blue\n",
		"qnoimage.container":            "[Container]\nExec=true\n",
	})
	sd := startSystemdWith(t, gens, "QUADLET_UNIT_DIRS="+qdir)
	in := sd.Inside(b)

	for _, u := range []string{"qweb.service", "qdata-volume.service", "qtypo.service"} {
		if got := sd.Show(u, "LoadState"); got != "loaded" {
			t.Fatalf("%s LoadState = %q, want loaded\n%s", u, got, sd.Log())
		}
	}
	// A unit with a problem it cannot run without is left out, and the log says why.
	if got := sd.Show("qnoimage.service", "LoadState"); got != "not-found" {
		t.Errorf("qnoimage.service LoadState = %q, want not-found", got)
	}
	log := sd.Log()
	for _, want := range []string{
		"berth-quadlet: warning: " + filepath.Join(qdir, "qtypo.container") + ":4: Colour: unknown key in section [Container]",
		"berth-quadlet: error (unit not generated): " + filepath.Join(qdir, "qnoimage.container") + ": Image: missing: a container needs an image",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("systemd's log lacks %q:\n%s", want, log)
		}
	}
	// [Install] WantedBy= became a link.
	if got := sd.Show("berth-e2e.target", "Wants"); !strings.Contains(got, "qweb.service") {
		t.Errorf("berth-e2e.target Wants = %q, want qweb.service", got)
	}

	sd.MustSystemctl("start", "qweb.service")
	if got := sd.Show("qweb.service", "ActiveState"); got != "active" {
		t.Fatalf("qweb.service is %q, want active\n%s", got, sd.Log())
	}
	if got := sd.Show("qdata-volume.service", "ActiveState"); got != "active" {
		t.Errorf("qdata-volume.service is %q, want active (Requires= of qweb)", got)
	}
	r := in.Run("exec", "qweb", "sh", "-c", "echo $GREETING; id -u; test -d /data && echo data").WantSuccess(t)
	if r.Stdout != "hello world\n65534\ndata\n" {
		t.Errorf("container of qweb.service: %q", r.Stdout)
	}
	if got := in.Run("volume", "inspect", "--format", "{{.Labels.from}}", "qdata").WantSuccess(t).Stdout; got != "quadlet\n" {
		t.Errorf("volume qdata label from = %q, want quadlet", got)
	}
	sd.MustSystemctl("stop", "qweb.service")
	if got := in.Run("ps", "-a", "-q", "--filter", "name=qweb").WantSuccess(t).Stdout; got != "" {
		t.Errorf("after stop qweb is still there: %q", got)
	}
}

func TestQuadletDryrun(t *testing.T) {
	b := NewBerth(t)
	dir := t.TempDir()
	b.Env = append(b.Env, "QUADLET_UNIT_DIRS="+dir)
	writeQuadlet(t, dir, map[string]string{
		"web.container":          "[Container]\nImage=busybox\nExec=httpd -f\nPublishPort=8080:80\n",
		"echo@.container":        "[Container]\nImage=busybox\nExec=echo %i\n",
		"net.network":            "[Network]\nSubnet=10.90.0.0/24\n",
		"sub/db.container":       "[Container]\nImage=db\nNetwork=net.network\n",
		"web.container.d/a.conf": "[Service]\nRestart=always\n",
	})
	r := b.Run("quadlet", "--dryrun").WantSuccess(t)
	for _, want := range []string{"---web.service---", "---echo@.service---", "---net-network.service---", "---db.service---",
		"--name=systemd-%N", "--publish 8080:80 busybox httpd -f", "Restart=always", "--network systemd-net",
		"network create --ignore --subnet 10.90.0.0/24 systemd-net", "--name=systemd-%p_%i"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("quadlet --dryrun output lacks %q:\n%s", want, r.Stdout)
		}
	}
	b.Run("quadlet", "--dryrun", "--user").WantSuccess(t) // QUADLET_UNIT_DIRS applies to --user too

	// Any problem fails a dry run, each named by file, line and key; the rest is still printed.
	writeQuadlet(t, dir, map[string]string{"bad.container": "[Container]\nImage=busybox\nReadOnly=perhaps\n"})
	r = b.Run("quadlet", "--dryrun").WantExit(t, 1)
	if want := filepath.Join(dir, "bad.container") + ":3: ReadOnly: \"perhaps\" is not a boolean (true or false)\n"; !strings.HasPrefix(r.Stderr, want) {
		t.Errorf("stderr %q, want it to start with %q", r.Stderr, want)
	}
	if !strings.HasSuffix(r.Stderr, "Error: 1 problem in Quadlet files\n") || !strings.Contains(r.Stdout, "---web.service---") {
		t.Errorf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stdout, "---bad.service---") {
		t.Errorf("a unit whose ReadOnly= is invalid was generated")
	}
	b.Run("quadlet").WantError(t, 1, "quadlet needs an output directory, or --dryrun")

	// Without --dryrun the units are written, with their links.
	out := t.TempDir()
	writeQuadlet(t, dir, map[string]string{"bad.container": "[Container]\nImage=busybox\n\n[Install]\nWantedBy=default.target\n"})
	b.Run("quadlet", out).WantSuccess(t)
	if l, err := os.Readlink(filepath.Join(out, "default.target.wants", "bad.service")); err != nil || l != "../bad.service" {
		t.Errorf("default.target.wants/bad.service -> %q (%v)", l, err)
	}
	verifyUnit(t, filepath.Join(out, "web.service"))
}
