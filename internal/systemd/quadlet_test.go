package systemd

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestQuadletGolden translates each directory of testdata/quadlet as a search path and
// compares the units, their links and the diagnostics with testdata/quadlet/NAME.golden.
func TestQuadletGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata/quadlet")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata", "quadlet", c.Name())
			units, diags := GenerateQuadlet(QuadletOptions{Dirs: []string{dir}, Executable: "/usr/bin/berth"})
			var b strings.Builder
			for _, u := range units {
				b.WriteString("---" + u.Name + "---\n" + u.Text)
				for _, w := range u.WantedBy {
					b.WriteString("# link " + w + ".wants/" + linkName(u) + "\n")
				}
				for _, r := range u.RequiredBy {
					b.WriteString("# link " + r + ".requires/" + linkName(u) + "\n")
				}
			}
			if len(diags) > 0 {
				b.WriteString("---diagnostics---\n")
				for _, d := range diags {
					fatal := ""
					if d.Fatal {
						fatal = " [unit not generated]"
					}
					b.WriteString(d.Error() + fatal + "\n")
				}
			}
			golden(t, filepath.Join("quadlet", c.Name()+".golden"), b.String())
		})
	}
}

func linkName(u QuadletUnit) string {
	if u.LinkAs != "" {
		return u.LinkAs
	}
	return u.Name
}

func TestQuadletDirs(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		user bool
		env  map[string]string
		want []string
	}{
		{"system", false, nil, []string{"/run/containers/systemd", "/etc/containers/systemd", "/usr/share/containers/systemd"}},
		{"user", true, nil, []string{"/home/u/.config/containers/systemd", "/etc/containers/systemd/users/1000", "/etc/containers/systemd/users"}},
		{"xdg", true, map[string]string{"XDG_CONFIG_HOME": "/cfg"}, []string{"/cfg/containers/systemd", "/etc/containers/systemd/users/1000", "/etc/containers/systemd/users"}},
		{"override", false, map[string]string{"QUADLET_UNIT_DIRS": "/a::/b"}, []string{"/a", "/b"}},
	}
	for _, tc := range tests {
		if got := QuadletDirs(tc.user, 1000, "/home/u", env(tc.env)); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: QuadletDirs = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A file in a higher-priority directory hides one of the same name below it, and drop-ins
// with the same name too.
func TestQuadletPriority(t *testing.T) {
	hi, lo := t.TempDir(), t.TempDir()
	write := func(p, s string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(hi, "web.container"), "[Container]\nImage=hi\n")
	write(filepath.Join(lo, "web.container"), "[Container]\nImage=lo\n")
	write(filepath.Join(lo, "sub", "db.container"), "[Container]\nImage=db\n")
	write(filepath.Join(lo, "web.container.d", "10.conf"), "[Container]\nExec=lo\n")
	write(filepath.Join(hi, "web.container.d", "10.conf"), "[Container]\nExec=hi\n")
	write(filepath.Join(lo, "web.container.d", "20.conf"), "[Container]\nLabel=x=lo20\n")
	units, diags := GenerateQuadlet(QuadletOptions{Dirs: []string{hi, lo}, Executable: "berth"})
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	var names []string
	for _, u := range units {
		names = append(names, u.Name)
		if u.Name == "web.service" {
			for _, want := range []string{" hi hi\n", "--label x=lo20"} {
				if !strings.Contains(u.Text, want) {
					t.Errorf("web.service lacks %q:\n%s", want, u.Text)
				}
			}
		}
	}
	sort.Strings(names)
	if !cmp.Equal(names, []string{"db.service", "web.service"}) {
		t.Errorf("units %q, want db.service (from a subdirectory) and web.service", names)
	}
}

func TestWriteQuadletUnits(t *testing.T) {
	dir := t.TempDir()
	units := []QuadletUnit{{Name: "web.service", Text: "[Service]\n", WantedBy: []string{"default.target"}, Alias: []string{"www.service"}},
		{Name: "e@.service", Text: "[Service]\n", LinkAs: "e@x.service", RequiredBy: []string{"multi-user.target"}}}
	if err := WriteQuadletUnits(dir, units); err != nil {
		t.Fatal(err)
	}
	for link, want := range map[string]string{"default.target.wants/web.service": "../web.service", "www.service": "web.service",
		"multi-user.target.requires/e@x.service": "../e@.service"} {
		if got, err := os.Readlink(filepath.Join(dir, link)); err != nil || got != want {
			t.Errorf("link %s -> %q (%v), want %q", link, got, err, want)
		}
	}
}
