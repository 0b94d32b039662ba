package tests

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirections keeps imports pointing down (STYLE.md): libraries never import the
// engine, the CLI or cobra; libimage and libnet stay independent; the monitor stays lean.
func TestImportDirections(t *testing.T) {
	const mod = "github.com/berth-project/berth/"
	rules := []struct {
		pkgs      string
		forbidden []string
	}{
		{"../libcontainer/...", []string{mod + "internal/engine", mod + "cmd/", "github.com/spf13/cobra", "github.com/mattn/go-sqlite3", "github.com/google/go-containerregistry"}},
		{"../libimage/...", []string{mod + "internal/engine", mod + "cmd/", mod + "libnet", mod + "internal/state", "github.com/spf13/cobra", "github.com/mattn/go-sqlite3"}},
		{"../libnet/...", []string{mod + "internal/engine", mod + "cmd/", mod + "libimage", mod + "internal/state", "github.com/spf13/cobra", "github.com/mattn/go-sqlite3"}},
		{"../build/...", []string{mod + "internal/engine", mod + "cmd/", "github.com/spf13/cobra", "github.com/mattn/go-sqlite3"}},
		{"../cmd/berth-monitor/...", []string{"github.com/spf13/cobra", "github.com/mattn/go-sqlite3", "github.com/google/go-containerregistry", mod + "internal/state", mod + "internal/engine", "github.com/sirupsen/logrus"}},
		{"../internal/dockerapi/...", []string{mod + "cmd/", "github.com/spf13/cobra"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", r.pkgs).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "matched no packages") || strings.Contains(string(out), "no such file") {
				continue
			}
			t.Fatalf("go list %s: %v\n%s", r.pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range r.forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", r.pkgs, dep)
				}
			}
		}
	}
}
