package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemDf(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	r := b.Run("system", "df").WantSuccess(t)
	want := []string{"TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE", "Images          1         0 ", "Containers      0         0         0B        0B",
		"Local Volumes   0         0         0B        0B", "Build Cache     0         0         0B        0B"}
	for _, w := range want {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("system df lacks %q:\n%s", w, r.Stdout)
		}
	}
	b.Run("run", "-d", "--name", "dfc", "--network", "none", "-v", "dfv:/v", "localhost/bb:1", "sh", "-c",
		"head -c 4096 /dev/zero > /v/data; head -c 100000 /dev/zero > /big; sleep 100").WantSuccess(t)
	b.Run("volume", "create", "idle").WantSuccess(t)
	eventually(t, "the container wrote its files", func() bool {
		return strings.Contains(b.Run("system", "df", "--format", "{{.Type}}={{.Size}}").Stdout, "Local Volumes=4.1kB")
	})
	r = b.Run("system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}").WantSuccess(t)
	for _, w := range []string{"Images|1|1|", "Containers|1|1|100kB|0B (0%)", "Local Volumes|2|1|4.1kB|0B (0%)", "Build Cache|0|0|0B|0B"} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("system df --format lacks %q:\n%s", w, r.Stdout)
		}
	}
	r = b.Run("system", "df", "--format", "json").WantSuccess(t)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("system df --format json: %q", r.Stdout)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(lines[2]), &row); err != nil || row["Type"] != "Local Volumes" || row["TotalCount"] != "2" || row["Active"] != "1" {
		t.Errorf("json row %q: %v %v", lines[2], row, err)
	}
	r = b.Run("system", "df", "-v").WantSuccess(t)
	for _, w := range []string{"Images space usage:", "REPOSITORY     TAG       IMAGE ID", "SHARED SIZE   UNIQUE SIZE   CONTAINERS",
		"Containers space usage:", "LOCAL VOLUMES", "dfc", "Local Volumes space usage:", "VOLUME NAME   LINKS     SIZE",
		"dfv           1         4.1kB", "idle          0         0B", "Build cache usage: 0B"} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("system df -v lacks %q:\n%s", w, r.Stdout)
		}
	}
	r = b.Run("system", "df", "-v", "--format", `{{range .Volumes}}{{.Name}}:{{.Links}}{{"\n"}}{{end}}{{range .Containers}}{{.Names}} {{.LocalVolumes}}{{end}}`).WantSuccess(t)
	if r.Stdout != "dfv:1\nidle:0\ndfc 1\n" {
		t.Errorf("system df -v --format: %q", r.Stdout)
	}
	b.Run("system", "df", "--format", "{{.Nope}}").WantError(t, 1, "Nope")
	b.Run("system", "df", "extra").WantError(t, 1, "requires exactly 0 arguments")
}

func TestSystemPrune(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	b.Run("create", "--name", "stopped", "-v", "/anon", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("create", "--name", "kept", "--label", "keep=1", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("run", "-d", "--name", "up", "--network", "none", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	b.Run("network", "create", "sp-unused").WantSuccess(t)
	b.Run("volume", "create", "named").WantSuccess(t)
	anon := strings.TrimSpace(b.Run("inspect", "-f", `{{range .Mounts}}{{.Name}}{{end}}`, "stopped").WantSuccess(t).Stdout)
	// Without -f it asks; anything but y keeps everything (and is no failure, as in Docker).
	r := b.RunStdin([]byte("n\n"), "system", "prune").WantSuccess(t)
	if !strings.Contains(r.Stdout, "WARNING! This will remove:") || !strings.Contains(r.Stdout, "[y/N]") {
		t.Errorf("prune prompt: %q", r.Stdout)
	}
	if got := b.Run("ps", "-aq").Stdout; strings.Count(got, "\n") != 3 {
		t.Errorf("a refused prune removed containers: %q", got)
	}
	b.Run("system", "prune", "-f", "--filter", "colour=red").WantError(t, 1, "invalid filter")
	r = b.Run("system", "prune", "-f", "--volumes", "--filter", "label!=keep").WantSuccess(t)
	for _, w := range []string{"Deleted Containers:\n", "Deleted Networks:\nsp-unused\n", "Deleted Volumes:\n" + anon + "\n", "Total reclaimed space: "} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("system prune output lacks %q:\n%s", w, r.Stdout)
		}
	}
	if got := b.Run("ps", "-a", "--format", "{{.Names}}").WantSuccess(t).Stdout; got != "up\nkept\n" {
		t.Errorf("after prune: containers %q, want up and kept", got)
	}
	if got := b.Run("volume", "ls", "-q").WantSuccess(t).Stdout; got != "named\n" {
		t.Errorf("after prune: volumes %q (a named volume stays)", got)
	}
	b.Run("image", "inspect", "localhost/bb:1").WantSuccess(t)
	// -a also removes images no container uses; ours is used, so it stays.
	b.Run("system", "prune", "-af").WantSuccess(t)
	b.Run("image", "inspect", "localhost/bb:1").WantSuccess(t)
}

func TestSystemReset(t *testing.T) {
	b := withImage(t)
	b.Run("run", "-d", "--name", "up", "--network", "none", "-v", "rv:/v", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	b.Run("network", "create", "rs-net").WantSuccess(t)
	r := b.RunStdin(nil, "system", "reset").WantSuccess(t)
	if !strings.Contains(r.Stdout, "WARNING!") {
		t.Errorf("reset prompt: %q", r.Stdout)
	}
	b.Run("inspect", "up").WantSuccess(t) // refused: nothing removed
	b.Run("system", "reset", "-f").WantSuccess(t)
	for _, args := range [][]string{{"ps", "-aq"}, {"images", "-q"}, {"volume", "ls", "-q"}} {
		if got := b.Run(args...).WantSuccess(t).Stdout; got != "" {
			t.Errorf("after reset, %v: %q", args, got)
		}
	}
	if got := b.Run("network", "ls", "--format", "{{.Name}}").WantSuccess(t).Stdout; strings.Contains(got, "rs-net") {
		t.Errorf("after reset, networks: %q", got)
	}
	ents, _ := os.ReadDir(filepath.Join(b.Root, "volumes"))
	if len(ents) != 0 {
		t.Errorf("after reset the volumes dir holds %d entries", len(ents))
	}
}

func TestSystemInfo(t *testing.T) {
	b := withImage(t)
	b.Run("create", "--name", "c1", "localhost/bb:1", "true").WantSuccess(t)
	for _, cmd := range [][]string{{"info"}, {"system", "info"}} {
		args := append(cmd, "--format", "{{.Host.Security.Rootless}} {{.Store.GraphRoot}} {{.Store.ContainerStore.Number}} {{.Store.ImageStore.Number}} {{.Version.APIVersion}} {{.Containers}} {{.Images}} {{.DockerRootDir}}")
		got := strings.TrimSpace(b.Run(args...).WantSuccess(t).Stdout)
		want := "false " + b.Root + " 1 1 1.47 1 1 " + b.Root
		if got != want {
			t.Errorf("%v --format = %q, want %q", cmd, got, want)
		}
	}
	r := b.Run("system", "info", "--format", "json").WantSuccess(t)
	var info map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &info); err != nil {
		t.Fatalf("info json: %v\n%s", err, r.Stdout)
	}
	for _, k := range []string{"ServerVersion", "Driver", "KernelVersion", "OperatingSystem", "OSType", "Architecture", "NCPU", "MemTotal", "DockerRootDir", "CgroupVersion", "SecurityOptions"} {
		if _, ok := info[k]; !ok {
			t.Errorf("info --format json lacks Docker's %s", k)
		}
	}
	if info["Containers"] != float64(1) || info["ContainersStopped"] != float64(1) || info["OSType"] != "linux" {
		t.Errorf("info json counts: %v %v %v", info["Containers"], info["ContainersStopped"], info["OSType"])
	}
	b.Run("system", "info", "--format", "{{.Host.Kernel").WantError(t, 1, "parse format")
}

// Prunes print Docker's "Total reclaimed space" measured from what they freed.
func TestPruneReclaimedSpace(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	b.Run("run", "--network", "none", "-v", "/anon", "localhost/bb:1", "sh", "-c",
		"head -c 200000 /dev/zero > /f; head -c 5000 /dev/zero > /anon/g").WantSuccess(t)
	r := b.Run("container", "prune", "-f").WantSuccess(t)
	if !strings.HasSuffix(r.Stdout, "\n\nTotal reclaimed space: 200kB\n") {
		t.Errorf("container prune: %q", r.Stdout)
	}
	r = b.Run("volume", "prune", "-f").WantSuccess(t)
	if !strings.HasSuffix(r.Stdout, "\n\nTotal reclaimed space: 5kB\n") {
		t.Errorf("volume prune: %q", r.Stdout)
	}
	b.Run("tag", "localhost/bb:1", "localhost/other:1").WantSuccess(t)
	b.Run("rmi", "localhost/bb:1").WantSuccess(t)
	r = b.Run("image", "prune", "-a", "-f").WantSuccess(t)
	if !strings.Contains(r.Stdout, "Deleted Images:\n") || strings.HasSuffix(r.Stdout, "Total reclaimed space: 0B\n") || !strings.Contains(r.Stdout, "Total reclaimed space: ") {
		t.Errorf("image prune: %q", r.Stdout)
	}
	if got := b.Run("network", "prune", "-f").WantSuccess(t).Stdout; got != "" {
		t.Errorf("network prune with nothing to remove: %q (Docker prints no total)", got)
	}
}

// Prunes record Docker's prune events (no actor, the freed bytes in "reclaimed") in the event
// log, beside the destroy events of what they removed.
func TestPruneEvents(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	b.Run("run", "--network", "none", "-v", "/anon", "localhost/bb:1", "sh", "-c", "head -c 5000 /dev/zero > /anon/g").WantSuccess(t)
	b.Run("network", "create", "pe-net").WantSuccess(t)
	b.Run("system", "prune", "-f", "--volumes").WantSuccess(t)
	b.Run("volume", "prune", "-f").WantSuccess(t)
	r := b.Run("events", "--since", "10m", "--until", "0s", "--filter", "event=prune",
		"--format", `{{.Type}} [{{.Actor.ID}}] {{index .Actor.Attributes "reclaimed"}}`).WantSuccess(t)
	if want := "container [] 0\nnetwork [] 0\nvolume [] 5000\nimage [] 0\nvolume [] 0\n"; r.Stdout != want {
		t.Errorf("prune events:\n%s\nwant\n%s", r.Stdout, want)
	}
	r = b.Run("events", "--since", "10m", "--until", "0s", "--filter", "event=destroy", "--format", "{{.Type}}").WantSuccess(t)
	if r.Stdout != "container\nnetwork\nvolume\n" {
		t.Errorf("destroy events of the prune: %q", r.Stdout)
	}
}
