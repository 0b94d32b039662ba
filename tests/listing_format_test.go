package tests

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// Every listing offers the docker CLI's fields, methods and functions in --format.
func TestListingTemplates(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	b.Run("volume", "create", "--label", "tier=data", "--label", "x=1", "lv").WantSuccess(t)
	b.Run("network", "create", "--label", "tier=net", "lt-net").WantSuccess(t)
	b.Run("create", "--name", "lc", "--label", "tier=front", "--network", "lt-net", "-v", "lv:/v", "-v", "/anon",
		"localhost/bb:1", "true").WantSuccess(t)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"ps Label", []string{"ps", "-a", "--format", `{{.Label "tier"}} {{.Label "org.test.name"}} [{{.Label "nope"}}]`}, "front busybox []\n"},
		{"ps Labels", []string{"ps", "-a", "--format", "{{.Labels}}"}, "org.test.name=busybox,tier=front\n"},
		{"ps Networks Names", []string{"ps", "-a", "--format", "{{.Networks}} {{.Names}} {{.State}}"}, "lt-net lc created\n"},
		{"ps LocalVolumes", []string{"ps", "-a", "--format", "{{.LocalVolumes}}"}, "2\n"},
		{"ps Mounts", []string{"ps", "-a", "--format", `{{range split .Mounts ","}}{{if eq . "lv"}}{{.}}{{"\n"}}{{end}}{{end}}`}, "lv\n\n"},
		{"ps RunningFor", []string{"ps", "-a", "--format", `{{if .RunningFor}}ok{{end}}`}, "ok\n"},
		{"ps Size", []string{"ps", "-a", "--format", "{{.Size}}"}, "0B (virtual "},
		{"ps functions", []string{"ps", "-a", "--format", `{{upper .Names}}|{{lower "AB"}}|{{title .State}}|{{pad .Names 1 1}}|{{truncate .Names 1}}|{{join (split .Labels ",") ";"}}`},
			"LC|ab|Created| lc |l|org.test.name=busybox;tier=front\n"},
		{"ps json function", []string{"ps", "-a", "--format", `{{json .Names}}`}, "\"lc\"\n"},
		{"ps escapes", []string{"ps", "-a", "--format", `{{.Names}}\t{{.State}}{{"\n"}}---`}, "lc\tcreated\n---\n"},
		{"ps println", []string{"ps", "-a", "--format", `{{println .Names}}`}, "lc\n\n"},
		{"ps table", []string{"ps", "-a", "--format", `table {{.Names}}\t{{.Label "tier"}}`}, "NAMES     LABEL\nlc        front\n"},
		{"images Label", []string{"images", "--format", `{{.Repository}}:{{.Tag}} {{.Label "tier"}} {{.Containers}}`}, "localhost/bb:1 test N/A\n"},
		{"images fields", []string{"images", "--format", `{{if and .ID .Size .CreatedSince .CreatedAt .VirtualSize .Digest}}ok{{end}}`}, "ok\n"},
		{"volume Label", []string{"volume", "ls", "--format", `{{.Name}} {{.Label "tier"}} {{.Labels}} {{.Driver}} {{.Scope}}`, "--filter", "name=lv"}, "lv data tier=data,x=1 local local\n"},
		{"volume Mountpoint", []string{"volume", "ls", "--format", `{{if .Mountpoint}}ok{{end}}`, "--filter", "name=lv"}, "ok\n"},
		{"network Label", []string{"network", "ls", "--format", `{{.Name}} {{.Label "tier"}} {{.Labels}} {{.Driver}} {{.IPv6}} {{.Internal}}`, "--filter", "name=lt-net"}, "lt-net net tier=net bridge false false\n"},
		{"system df", []string{"system", "df", "--format", `{{.Type}}:{{.TotalCount}}`}, "Images:1\nContainers:1\nLocal Volumes:2\nBuild Cache:0\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := b.Run(c.args...).WantSuccess(t).Stdout
			if strings.HasSuffix(c.want, "\n") && got != c.want || !strings.HasSuffix(c.want, "\n") && !strings.HasPrefix(got, c.want) {
				t.Errorf("berth %s = %q, want %q", strings.Join(c.args, " "), got, c.want)
			}
		})
	}
	// --format json gives one object per row with Docker's keys.
	for _, c := range []struct {
		args []string
		keys []string
	}{
		{[]string{"ps", "-a"}, []string{"ID", "Image", "Command", "CreatedAt", "RunningFor", "Ports", "State", "Status", "Size", "Names", "Labels", "Mounts", "Networks", "LocalVolumes"}},
		{[]string{"images"}, []string{"ID", "Repository", "Tag", "Digest", "CreatedSince", "CreatedAt", "Size", "VirtualSize", "SharedSize", "UniqueSize", "Containers"}},
		{[]string{"volume", "ls"}, []string{"Driver", "Name", "Mountpoint", "Scope", "Labels", "Links", "Size"}},
		{[]string{"network", "ls"}, []string{"ID", "Name", "Driver", "Scope", "IPv6", "IPv4", "Internal", "Labels", "CreatedAt"}},
		{[]string{"system", "df"}, []string{"Type", "TotalCount", "Active", "Size", "Reclaimable"}},
	} {
		out := b.Run(append(c.args, "--format", "json")...).WantSuccess(t).Stdout
		first, _, _ := strings.Cut(out, "\n")
		var row map[string]any
		if err := json.Unmarshal([]byte(first), &row); err != nil {
			t.Errorf("%v --format json: %v: %q", c.args, err, out)
			continue
		}
		for _, k := range c.keys {
			if _, ok := row[k]; !ok {
				t.Errorf("%v --format json lacks %s: %s", c.args, k, first)
			}
		}
	}
	// inspect: a quoted newline inside an action, and Docker's functions.
	got := b.Run("inspect", "--format", `{{range .Mounts}}{{.Name}}{{"\n"}}{{end}}`, "lc").WantSuccess(t).Stdout
	if !strings.HasPrefix(got, "lv\n") || strings.Count(got, "\n") != 3 {
		t.Errorf("inspect range Mounts: %q", got)
	}
	if got := b.Run("inspect", "--format", `{{json .Config.Labels}}`, "lc").WantSuccess(t).Stdout; got != `{"org.test.name":"busybox","tier":"front"}`+"\n" {
		t.Errorf("inspect json labels: %q", got)
	}
	// A template that does not parse is the user's error.
	b.Run("ps", "--format", "{{.Names").WantError(t, 1, "parse format")
	b.Run("ps", "-a", "--format", "{{.Nope}}").WantError(t, 1, "Nope")
}

// Run details scripts depend on: -w creates the directory, -u sets HOME from passwd, one
// PATH, the image's labels on the container (its own win), GraphDriver in inspect.
func TestRunDetails(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	r := b.Run("run", "--rm", "-w", "/missing/dir", "localhost/bb:1", "sh", "-c", "pwd; stat -c %U:%a /missing/dir").WantSuccess(t)
	if r.Stdout != "/missing/dir\nroot:755\n" {
		t.Errorf("run -w /missing/dir: %q", r.Stdout)
	}
	b.Run("run", "--rm", "-w", "relative", "localhost/bb:1", "true").WantError(t, 125, "absolute path")
	b.Run("run", "--rm", "-w", "/bin/sh", "localhost/bb:1", "true").WantError(t, 125, "not a directory")
	r = b.Run("run", "--rm", "-u", "nobody", "localhost/bb:1", "sh", "-c", "echo $HOME; id -u").WantSuccess(t)
	if r.Stdout != "/nonexistent\n65534\n" {
		t.Errorf("run -u nobody: %q", r.Stdout)
	}
	if got := b.Run("run", "--rm", "localhost/bb:1", "sh", "-c", "echo $HOME").WantSuccess(t).Stdout; got != "/root\n" {
		t.Errorf("root's HOME: %q", got)
	}
	if got := b.Run("run", "--rm", "-u", "4242", "localhost/bb:1", "sh", "-c", "echo $HOME").WantSuccess(t).Stdout; got != "/\n" {
		t.Errorf("HOME of a uid without passwd entry: %q", got)
	}
	if got := b.Run("run", "--rm", "-e", "HOME=/mine", "localhost/bb:1", "sh", "-c", "echo $HOME").WantSuccess(t).Stdout; got != "/mine\n" {
		t.Errorf("-e HOME: %q", got)
	}
	env := b.Run("run", "--rm", "localhost/bb:1", "env").WantSuccess(t).Stdout
	if n := strings.Count(env, "PATH="); n != 1 {
		t.Errorf("run env lists PATH %d times:\n%s", n, env)
	}
	b.Run("create", "--name", "lab", "--label", "tier=mine", "--label", "own=1", "localhost/bb:1", "true").WantSuccess(t)
	got := b.Run("inspect", "--format", `{{json .Config.Labels}}`, "lab").WantSuccess(t).Stdout
	if got != `{"org.test.name":"busybox","own":"1","tier":"mine"}`+"\n" {
		t.Errorf("container labels: %q (the image's, with the container's winning)", got)
	}
	if got := b.Run("ps", "-a", "-q", "--filter", "label=org.test.name=busybox").WantSuccess(t).Stdout; strings.Count(got, "\n") != 1 {
		t.Errorf("ps --filter on an image label: %q", got)
	}
	// Numbers in inspect templates compare and print as over Docker's typed structs.
	if got := b.Run("inspect", "--format", `{{if eq .State.ExitCode 0}}zero{{end}} {{.State.Pid}}`, "lab").WantSuccess(t).Stdout; got != "zero 0\n" {
		t.Errorf("inspect numbers: %q", got)
	}
	if got := b.Run("info", "--format", "{{.Host.MemTotal}}").WantSuccess(t).Stdout; strings.ContainsAny(got, "e.") {
		t.Errorf("info MemTotal printed %q, want digits", got)
	}
	driver := strings.TrimSpace(b.Run("info", "--format", "{{.Store.GraphDriverName}}").WantSuccess(t).Stdout)
	var gd struct {
		Name string
		Data map[string]string
	}
	out := b.Run("inspect", "--format", "{{json .GraphDriver}}", "lab").WantSuccess(t).Stdout
	if err := json.Unmarshal([]byte(out), &gd); err != nil || gd.Name != driver {
		t.Fatalf("GraphDriver %q: %v (driver %s)", out, err, driver)
	}
	if driver == "overlay" {
		for _, k := range []string{"UpperDir", "MergedDir", "LowerDir", "WorkDir"} {
			if gd.Data[k] == "" {
				t.Errorf("GraphDriver.Data lacks %s: %v", k, gd.Data)
			}
		}
		for _, d := range append(strings.Split(gd.Data["LowerDir"], ":"), gd.Data["UpperDir"], gd.Data["WorkDir"]) {
			if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
				t.Errorf("GraphDriver dir %s: %v", d, err)
			}
		}
		img := b.Run("image", "inspect", "--format", "{{.GraphDriver.Name}} {{if .GraphDriver.Data.UpperDir}}upper{{end}}", "localhost/bb:1").WantSuccess(t).Stdout
		if img != "overlay upper\n" {
			t.Errorf("image GraphDriver: %q", img)
		}
	}
}

func TestVolumeCreateExistingAndPruneFilter(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	b.Run("volume", "create", "--label", "a=1", "vc").WantSuccess(t)
	if got := b.Run("volume", "create", "--label", "b=2", "vc").WantSuccess(t).Stdout; got != "vc\n" {
		t.Errorf("volume create of an existing name printed %q", got)
	}
	if got := b.Run("volume", "inspect", "--format", "{{json .Labels}}", "vc").WantSuccess(t).Stdout; got != `{"a":"1"}`+"\n" {
		t.Errorf("the existing volume's labels changed: %q", got)
	}
	b.Run("volume", "create", "bad/name").WantError(t, 1, "invalid volume name")
	b.Run("volume", "create", "--label", "keep=yes", "kept").WantSuccess(t)
	b.Run("volume", "create", "--label", "keep=no", "dropped").WantSuccess(t)
	b.Run("create", "--name", "user", "-v", "inuse:/v", "localhost/bb:1", "true").WantSuccess(t)
	// Named volumes only with all=true (or --all); label filters narrow the choice.
	if got := b.Run("volume", "prune", "-f", "--filter", "label=keep").WantSuccess(t).Stdout; got != "Total reclaimed space: 0B\n" {
		t.Errorf("prune without all removed named volumes: %q", got)
	}
	got := b.Run("volume", "prune", "-f", "--filter", "all=true", "--filter", "label=keep=no").WantSuccess(t).Stdout
	if got != "Deleted Volumes:\ndropped\n\nTotal reclaimed space: 0B\n" {
		t.Errorf("prune label=keep=no: %q", got)
	}
	got = b.Run("volume", "prune", "-f", "--all", "--filter", "label!=keep").WantSuccess(t).Stdout
	if got != "Deleted Volumes:\nvc\n\nTotal reclaimed space: 0B\n" {
		t.Errorf("prune label!=keep: %q", got)
	}
	if got := b.Run("volume", "ls", "-q").WantSuccess(t).Stdout; got != "inuse\nkept\n" {
		t.Errorf("after prunes: %q", got)
	}
	b.Run("volume", "prune", "-f", "--all", "--filter", "all=1").WantError(t, 1, "conflicting options")
	b.Run("volume", "prune", "-f", "--filter", "until=yesterday-ish").WantError(t, 1, "until")
	b.Run("volume", "prune", "-f", "--filter", "nosuch=1").WantError(t, 1, "invalid filter")
	// until= keeps what was made since.
	if got := b.Run("volume", "prune", "-f", "--all", "--filter", "until=1h").WantSuccess(t).Stdout; got != "Total reclaimed space: 0B\n" {
		t.Errorf("prune until=1h removed new volumes: %q", got)
	}
}
