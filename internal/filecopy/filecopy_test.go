package filecopy

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRegular(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	if err := os.WriteFile(src, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	// an existing, longer destination is truncated, not overwritten in place
	if err := os.WriteFile(dst, []byte("old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Regular(src, dst, 0o640); err != nil {
		t.Fatalf("Regular: %v", err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "new" {
		t.Errorf("Regular wrote %q, want %q", got, "new")
	}
	fresh := filepath.Join(dir, "fresh")
	if err := Regular(src, fresh, 0o640); err != nil {
		t.Fatalf("Regular: %v", err)
	}
	fi, err := os.Stat(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&^0o640 != 0 {
		t.Errorf("Regular(%q) mode = %v, want at most 0640", fresh, fi.Mode().Perm())
	}
	if err := Regular(filepath.Join(dir, "missing"), dst, 0o644); !os.IsNotExist(err) {
		t.Errorf("Regular(missing) = %v, want a not-exist error", err)
	}
}
