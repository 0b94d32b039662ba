package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFiles(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "pod", "cfg")
	fs := FileSet{Dir: dir, Files: []File{{Path: "a", Data: []byte("1"), Mode: 0o640}, {Path: "sub/b", Data: []byte("2"), Mode: 0o400}}}
	if err := WriteFiles(root, fs); err != nil {
		t.Fatal(err)
	}
	check := func(p, want string, mode os.FileMode) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(b) != want {
			t.Fatalf("%s = %q, %v; want %q", p, b, err, want)
		}
		if fi, _ := os.Lstat(filepath.Join(dir, p)); fi.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", p, fi.Mode().Perm(), mode)
		}
	}
	check("a", "1", 0o640)
	check("sub/b", "2", 0o400)

	// Hostile leftovers: a file replaced by a link out, a directory replaced by a link out.
	os.Remove(filepath.Join(dir, "a"))
	os.Symlink(victim, filepath.Join(dir, "a"))
	os.RemoveAll(filepath.Join(dir, "sub"))
	os.Symlink(outside, filepath.Join(dir, "sub"))
	fs.Files[0].Data, fs.Files[1].Data = []byte("one"), []byte("two")
	if err := WriteFiles(root, fs); err != nil {
		t.Fatal(err)
	}
	check("a", "one", 0o640)
	check("sub/b", "two", 0o400)
	if b, _ := os.ReadFile(victim); string(b) != "untouched" {
		t.Errorf("write followed a link: victim is %q", b)
	}
	if _, err := os.Stat(filepath.Join(outside, "b")); err == nil {
		t.Error("write followed a directory link")
	}

	// The volume directory itself a link: replaced, not followed.
	os.RemoveAll(dir)
	os.Symlink(outside, dir)
	if err := WriteFiles(root, fs); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(dir); fi.Mode()&os.ModeSymlink != 0 {
		t.Error("volume directory is still a link")
	}
	if b, _ := os.ReadFile(victim); string(b) != "untouched" {
		t.Errorf("victim is %q", b)
	}

	// A parent directory that is a link is refused.
	os.RemoveAll(filepath.Join(root, "pod"))
	os.Symlink(outside, filepath.Join(root, "pod"))
	if err := WriteFiles(root, fs); err == nil || !strings.Contains(err.Error(), "openat2") {
		t.Errorf("write through a linked pod directory: %v", err)
	}
	ents, _ := os.ReadDir(outside)
	if len(ents) != 1 {
		t.Errorf("outside holds %d entries, want only the victim", len(ents))
	}

	for _, bad := range []string{outside, root, filepath.Join(root, "..", "x")} {
		if err := WriteFiles(root, FileSet{Dir: bad}); err == nil {
			t.Errorf("WriteFiles(%s) outside the root succeeded", bad)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(root, "*", ".tmp-*")); len(leftovers) > 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}
}
