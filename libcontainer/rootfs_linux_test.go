package libcontainer

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSecurePathStaysInRoot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "real/dir"), 0o755)
	os.Symlink("/etc", filepath.Join(root, "abs"))
	os.Symlink("../../../../..", filepath.Join(root, "up"))
	os.Symlink("real", filepath.Join(root, "rel"))
	cases := map[string]string{
		"/abs/passwd":  filepath.Join(root, "etc/passwd"),
		"/up/etc":      filepath.Join(root, "etc"),
		"/rel/dir/x":   filepath.Join(root, "real/dir/x"),
		"/../../tmp":   filepath.Join(root, "tmp"),
		"/real/../abs": filepath.Join(root, "etc"),
	}
	for in, want := range cases {
		got, err := securePath(root, in)
		if err != nil || got != want {
			t.Errorf("securePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	os.Symlink("loop", filepath.Join(root, "loop"))
	if _, err := securePath(root, "/loop/x"); err == nil {
		t.Error("symlink loop accepted")
	}
}

func TestParseMountOptions(t *testing.T) {
	flags, prop, data, _ := parseMountOptions([]string{"nosuid", "ro", "rw", "rbind", "rprivate", "mode=755", "size=1k"})
	if flags != unix.MS_NOSUID|unix.MS_BIND|unix.MS_REC || len(prop) != 1 || data != "mode=755,size=1k" {
		t.Errorf("flags %#x prop %v data %q", flags, prop, data)
	}
}

func TestParseCaps(t *testing.T) {
	c, err := parseCaps("bounding", DefaultCaps)
	if err != nil || c != 0xa80425fb {
		t.Errorf("Docker's default set = %#x, %v", c, err)
	}
	if _, err := parseCaps("effective", []string{"CAP_NOPE"}); err == nil {
		t.Error("unknown capability accepted")
	}
}
