package engine

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSecureJoin(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "a/b"), 0o755)
	os.Symlink("/../../etc", filepath.Join(root, "abs"))
	os.Symlink("../../../..", filepath.Join(root, "a/up"))
	os.Symlink("b", filepath.Join(root, "a/rel"))
	os.Symlink("loop", filepath.Join(root, "loop"))
	for in, want := range map[string]string{
		"/a/b":          "a/b",
		"../../a":       "a",
		"/abs/passwd":   "etc/passwd",
		"/a/up/x":       "x",
		"/a/rel/new":    "a/b/new",
		"/a/b/../../..": "",
	} {
		got, err := secureJoin(root, in)
		if err != nil || got != filepath.Join(root, want) {
			t.Errorf("secureJoin(%q) = %q, %v; want %q", in, got, err, filepath.Join(root, want))
		}
	}
	if _, err := secureJoin(root, "/loop"); err == nil {
		t.Errorf("a symlink loop resolved")
	}
}
