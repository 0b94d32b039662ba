package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/paths"
)

func noenv(string) string { return "" }

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	user := filepath.Join(home, ".config", "berth", "berth.conf")
	os.MkdirAll(filepath.Dir(user), 0o755)
	os.WriteFile(user, []byte("storage_driver = \"vfs\"\nruntime = \"runc\"\n[registries]\ninsecure = [\"localhost:5000\"]\n"), 0o644)
	env := paths.Env{UID: 1000, Home: home}

	c, err := Load(env, "", noenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.StorageDriver != "vfs" || c.Runtime != "runc" || c.Registries.Insecure[0] != "localhost:5000" {
		t.Errorf("user file not applied: %+v", c)
	}
	if c.Root != filepath.Join(home, ".local/share/berth") {
		t.Errorf("Root = %q", c.Root)
	}
	c, err = Load(env, "", func(k string) string {
		if k == "BERTH_RUNTIME" {
			return "crun"
		}
		return ""
	})
	if err != nil || c.Runtime != "crun" {
		t.Errorf("env did not win over file: %q %v", c.Runtime, err)
	}
}

func TestMalformedNamesFileAndLine(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(f, []byte("root = \"/x\"\n\nruntime = = 3\n"), 0o644)
	_, err := Load(paths.Env{UID: 0}, f, noenv)
	if err == nil || !strings.Contains(err.Error(), f+":3:") {
		t.Fatalf("Load(bad) = %v, want error naming %s:3", err, f)
	}
	os.WriteFile(f, []byte("rooot = \"/x\"\n"), 0o644)
	if _, err := Load(paths.Env{UID: 0}, f, noenv); err == nil || !strings.Contains(err.Error(), "unknown key \"rooot\"") {
		t.Fatalf("Load(unknown key) = %v", err)
	}
	if _, err := Load(paths.Env{UID: 0}, filepath.Join(t.TempDir(), "missing"), noenv); err == nil {
		t.Fatal("explicit missing config must be an error")
	}
}
