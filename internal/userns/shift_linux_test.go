package userns

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestHostOf(t *testing.T) {
	maps := []IDMap{{0, 1, 1000}, {1000, 0, 1}, {1001, 1001, 10}}
	for _, c := range []struct {
		id, want int
		ok       bool
	}{
		{0, 1, true}, {999, 1000, true}, {1000, 0, true}, {1005, 1005, true}, {1011, 0, false},
	} {
		if got, ok := HostOf(maps, c.id); got != c.want || ok != c.ok {
			t.Errorf("HostOf(%d) = %d, %v; want %d, %v", c.id, got, ok, c.want, c.ok)
		}
	}
}

func TestShiftTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	dir := t.TempDir()
	files := map[string]struct{ uid, gid, mode int }{
		"root":     {0, 0, 0o644},
		"setuid":   {0, 0, 0o4755},
		"app":      {1000, 1000, 0o640},
		"unmapped": {70000, 70000, 0o600},
	}
	for name, f := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, nil, 0o600)
		os.Chown(p, f.uid, f.gid)
		os.Chmod(p, os.FileMode(f.mode&0o777)|map[bool]os.FileMode{true: os.ModeSetuid}[f.mode&0o4000 != 0])
	}
	os.Symlink("root", filepath.Join(dir, "link"))
	maps := []IDMap{{0, 100000, 65536}}
	if err := ShiftTree(dir, maps, maps); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ uid, gid, mode int }{
		"root": {100000, 100000, 0o644}, "setuid": {100000, 100000, 0o4755}, "app": {101000, 101000, 0o640},
		"unmapped": {70000, 70000, 0o600}, "link": {100000, 100000, -1},
	}
	for name, w := range want {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, name), &st); err != nil {
			t.Fatal(err)
		}
		if int(st.Uid) != w.uid || int(st.Gid) != w.gid || (w.mode >= 0 && int(st.Mode&0o7777) != w.mode) {
			t.Errorf("%s: %d:%d %o, want %d:%d %o", name, st.Uid, st.Gid, st.Mode&0o7777, w.uid, w.gid, w.mode)
		}
	}
}
