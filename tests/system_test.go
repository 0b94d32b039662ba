package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionAndInfo(t *testing.T) {
	b := NewBerth(t)
	r := b.Run("version").WantSuccess(t)
	if !strings.Contains(r.Stdout, "Version:") {
		t.Errorf("version output: %q", r.Stdout)
	}
	r = b.Run("info", "--format", "{{.Store.Root}} {{.Host.Rootless}}").WantSuccess(t)
	if got := strings.TrimSpace(r.Stdout); got != b.Root+" "+map[bool]string{true: "false", false: "true"}[os.Geteuid() == 0] {
		t.Errorf("info --format = %q", got)
	}
	if _, err := os.Stat(filepath.Join(b.Root, "berth.db")); err != nil {
		t.Errorf("info did not create the state database: %v", err)
	}
}

func TestBadFlagsAndConfig(t *testing.T) {
	b := NewBerth(t)
	b.Run("info", "--bogus").WantError(t, 125, "unknown flag: --bogus")
	b.Run("version", "extra").WantError(t, 1, `"berth version" requires exactly 0 arguments`)
	b.Run("--log-level", "loud", "version").WantError(t, 125, `invalid --log-level "loud"`)
	bad := filepath.Join(t.TempDir(), "berth.conf")
	os.WriteFile(bad, []byte("root = \"/x\"\nstorage_driver = \n"), 0o644)
	b.Run("--config", bad, "info").WantError(t, 125, bad+":2:")
}

func TestConfigPrecedence(t *testing.T) {
	b := NewBerth(t)
	conf := filepath.Join(t.TempDir(), "berth.conf")
	os.WriteFile(conf, []byte("storage_driver = \"vfs\"\n"), 0o644)
	get := func(extra ...string) string {
		args := append([]string{"--config", conf}, extra...)
		args = append(args, "info", "--format", "{{.Store.Driver}}")
		return strings.TrimSpace(b.Run(args...).WantSuccess(t).Stdout)
	}
	if got := get(); got != "vfs" {
		t.Errorf("file: driver = %q, want vfs", got)
	}
	b.Env = []string{"BERTH_STORAGE_DRIVER=overlay"}
	if got := get(); got != "overlay" {
		t.Errorf("env over file: driver = %q, want overlay", got)
	}
	if got := get("--storage-driver", "vfs"); got != "vfs" {
		t.Errorf("flag over env: driver = %q, want vfs", got)
	}
}
