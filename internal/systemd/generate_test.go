package systemd

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-project/berth/internal/errdefs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", p, diff)
	}
}

var valueFlags = map[string]bool{"--root": true, "--runroot": true, "--name": true, "-e": true, "--env": true,
	"-p": true, "--publish": true, "-v": true, "--volume": true, "--restart": true, "--cidfile": true,
	"--sdnotify": true, "-l": true, "--label": true, "-w": true, "--workdir": true, "-u": true, "--user": true}

func testContainer() ContainerInfo {
	return ContainerInfo{
		ID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Name: "web",
		CreateCommand: []string{"berth", "--root", "/var/lib/berth", "run", "-dit", "--name", "web", "--rm",
			"-e", "GREETING=hello world", "-p8080:80", "--restart=always", "--cidfile", "/tmp/x", "--label", "a=b",
			"busybox", "sh", "-c", "echo $HOME 100%; sleep 1000"},
		StopTimeout: 10, RestartPolicy: "always", MonitorPIDFile: "/run/berth/containers/0123/monitor.pid",
		Root: "/var/lib/berth", RunRoot: "/run/berth",
	}
}

func TestContainerUnitGolden(t *testing.T) {
	five := uint(5)
	tests := []struct {
		name string
		edit func(*ContainerInfo)
		opts GenerateOptions
	}{
		{name: "basic", opts: GenerateOptions{}},
		{name: "name", opts: GenerateOptions{UseName: true}},
		{name: "new", opts: GenerateOptions{New: true, UseName: true}},
		{name: "new-create", edit: func(c *ContainerInfo) {
			c.CreateCommand = []string{"/usr/bin/berth", "container", "create", "--name=db", "-v", "data:/data", "busybox"}
			c.RestartPolicy = "no"
		}, opts: GenerateOptions{New: true}},
		{name: "new-healthy", edit: func(c *ContainerInfo) {
			c.SdNotify = "healthy"
			c.CreateCommand = []string{"berth", "run", "-d", "--sdnotify", "healthy", "--health-cmd=true", "busybox", "top"}
		}, opts: GenerateOptions{New: true, UseName: true}},
		{name: "ignore", edit: func(c *ContainerInfo) { c.SdNotify = "ignore" }, opts: GenerateOptions{UseName: true}},
		{name: "new-ignore", edit: func(c *ContainerInfo) { c.SdNotify = "ignore" }, opts: GenerateOptions{New: true, UseName: true}},
		{name: "flags", opts: GenerateOptions{UseName: true, RestartPolicy: "on-abnormal", RestartSec: 15, StopTimeout: &five,
			ContainerPrefix: "app", Separator: "_", After: []string{"db.service"}, Wants: []string{"db.service"},
			Requires: []string{"db.service", "cache.service"}, Env: []string{"FOO=bar baz"}, Executable: "/usr/bin/berth",
			GlobalArgs: []string{"--root", "/srv/berth"}, Version: "1.2.3"}},
		{name: "unless-stopped", edit: func(c *ContainerInfo) { c.RestartPolicy = "unless-stopped" }, opts: GenerateOptions{UseName: true}},
		{name: "no-restart", edit: func(c *ContainerInfo) { c.RestartPolicy = "no"; c.Root, c.RunRoot = "", "" }, opts: GenerateOptions{UseName: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testContainer()
			if tc.edit != nil {
				tc.edit(&c)
			}
			tc.opts.TakesValue = func(f string) bool { return valueFlags[f] }
			u, err := ContainerUnit(c, tc.opts)
			if err != nil {
				t.Fatalf("ContainerUnit: %v", err)
			}
			if !strings.HasPrefix(u.Text, "# "+u.Name+"\n") {
				t.Errorf("unit text does not start with its name %s", u.Name)
			}
			golden(t, "generate/"+tc.name+".service", u.Text)
		})
	}
}

func TestContainerUnitErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*ContainerInfo)
		opts GenerateOptions
		want string
	}{
		{"restart policy", nil, GenerateOptions{RestartPolicy: "sometimes"}, `invalid --restart-policy "sometimes": want one of no, on-success, on-failure, on-abnormal, on-watchdog, on-abort, always`},
		{"env", nil, GenerateOptions{Env: []string{"NOVALUE"}}, `invalid --env "NOVALUE": want KEY=VALUE`},
		{"after", nil, GenerateOptions{After: []string{"a b"}}, `invalid unit name "a b" in --after, --wants or --requires`},
		{"no create command", func(c *ContainerInfo) { c.CreateCommand = nil }, GenerateOptions{New: true},
			"container web has no recorded create command (it was not created by the berth CLI): --new needs one"},
		{"no image", func(c *ContainerInfo) { c.CreateCommand = []string{"berth", "run", "-d"} }, GenerateOptions{New: true},
			`container web: no image in its create command "berth run -d"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testContainer()
			if tc.edit != nil {
				tc.edit(&c)
			}
			_, err := ContainerUnit(c, tc.opts)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("ContainerUnit() error = %v, want %q", err, tc.want)
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

func TestSplitWordsRoundTrip(t *testing.T) {
	tests := [][]string{
		{"run", "busybox"},
		{"sh", "-c", "echo $HOME 100%; sleep 1"},
		{`a "quoted" word`, `back\slash`, ""},
		{"tab\there", "new\nline", "it's"},
	}
	for _, words := range tests {
		line := JoinWords(words)
		// systemd turns $$ into $ and %% into % before splitting; do the same.
		unescaped := strings.NewReplacer("$$", "$", "%%", "%").Replace(line)
		got, err := SplitWords(unescaped)
		if err != nil {
			t.Fatalf("SplitWords(%q): %v", unescaped, err)
		}
		if diff := cmp.Diff(words, got); diff != "" {
			t.Errorf("SplitWords(JoinWords(%q)) mismatch (-want +got):\n%s", words, diff)
		}
	}
}

func TestPodUnitsGolden(t *testing.T) {
	infra := ContainerInfo{ID: "1111111111111111111111111111111111111111111111111111111111111111", Name: "web-infra",
		StopTimeout: 10, Root: "/var/lib/berth", RunRoot: "/run/berth"}
	a := testContainer()
	b := testContainer()
	b.ID, b.Name, b.RestartPolicy = "2222222222222222222222222222222222222222222222222222222222222222", "db", "no"
	pod := PodInfo{ID: "3333333333333333333333333333333333333333333333333333333333333333", Name: "webpod", Infra: infra,
		Containers: []ContainerInfo{a, b}}
	units, err := PodUnits(pod, GenerateOptions{UseName: true, Executable: "/usr/bin/berth"})
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, u := range units {
		all.WriteString("---" + u.Name + "---\n" + u.Text)
	}
	golden(t, "generate/pod.golden", all.String())

	if _, err := PodUnits(pod, GenerateOptions{New: true}); err == nil || !strings.Contains(err.Error(), "--new is not supported for pods") {
		t.Errorf("PodUnits(--new) error = %v", err)
	}
	pod.Infra = ContainerInfo{}
	if _, err := PodUnits(pod, GenerateOptions{}); err == nil || !strings.Contains(err.Error(), "has no infra container") {
		t.Errorf("PodUnits(no infra) error = %v", err)
	}
}
