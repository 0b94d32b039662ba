//go:build linux

package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid              int
	pax              map[string]string
}

func mktar(t testing.TB, es ...ent) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Uid: e.uid,
			ModTime: time.Unix(1600000000, 0), PAXRecords: e.pax, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return b.Bytes()
}

func unpack(t *testing.T, dir string, mode WhiteoutMode, es ...ent) error {
	t.Helper()
	_, err := Unpack(context.Background(), bytes.NewReader(mktar(t, es...)), dir, &UnpackOptions{Whiteouts: mode})
	return err
}

func TestUnpackRefusesEscapes(t *testing.T) {
	cases := []struct {
		name    string
		entries []ent
		wantErr string
	}{
		{"dotdot", []ent{{name: "../evil", body: "x"}}, "escapes the root"},
		{"nested dotdot", []ent{{name: "a/../../evil", body: "x"}}, "escapes the root"},
		{"absolute", []ent{{name: "/etc/evil", body: "x"}}, "absolute path"},
		{"hardlink out", []ent{{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}}, "escapes the root"},
		{"hardlink missing", []ent{{name: "h", typ: tar.TypeLink, link: "nope"}}, "hard link target"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			outer := t.TempDir()
			dir := filepath.Join(outer, "root")
			os.Mkdir(dir, 0o755)
			err := unpack(t, dir, WhiteoutApply, c.entries...)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Unpack = %v, want error containing %q", err, c.wantErr)
			}
			if _, err := os.Stat(filepath.Join(outer, "evil")); err == nil {
				t.Fatal("file written outside the root")
			}
		})
	}
}

func TestUnpackSymlinkParentStaysInside(t *testing.T) {
	outer := t.TempDir()
	dir := filepath.Join(outer, "root")
	os.Mkdir(dir, 0o755)
	err := unpack(t, dir, WhiteoutApply,
		ent{name: "up", typ: tar.TypeSymlink, link: "../../.."},
		ent{name: "up/evil1", body: "x"},
	)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, outer), 0o755)
	err = unpack(t, dir, WhiteoutApply,
		ent{name: "abs", typ: tar.TypeSymlink, link: outer},
		ent{name: "abs/evil2", body: "x"},
	)
	if err != nil {
		t.Fatal(err)
	}
	// A dangling symlinked parent is refused, not followed.
	if err := unpack(t, dir, WhiteoutApply, ent{name: "dl", typ: tar.TypeSymlink, link: "/nowhere"}, ent{name: "dl/x", body: "x"}); err == nil {
		t.Error("write through a dangling symlinked parent succeeded")
	}
	for _, p := range []string{filepath.Join(outer, "evil1"), filepath.Join(outer, "evil2")} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s written outside the root through a symlinked parent", p)
		}
	}
	// Resolved inside the root, as if it were "/".
	if _, err := os.Stat(filepath.Join(dir, "evil1")); err != nil {
		t.Errorf("evil1 not contained in root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, outer, "evil2")); err != nil {
		t.Errorf("evil2 not contained in root: %v", err)
	}
}

func TestUnpackKeepsMetadata(t *testing.T) {
	dir := t.TempDir()
	err := unpack(t, dir, WhiteoutOverlay,
		ent{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "bin/su", body: "su", mode: 0o4755, uid: 1000},
		ent{name: "bin/su2", typ: tar.TypeLink, link: "bin/su"},
		ent{name: "bin/sh", typ: tar.TypeSymlink, link: "su"},
		ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		ent{name: "x", body: "x", pax: map[string]string{"SCHILY.xattr.user.test": "v"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "bin/su"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/su mode = %v, want setuid 0755", fi.Mode())
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 1000 || st.Nlink != 2 {
		t.Errorf("bin/su uid=%d nlink=%d, want 1000 and 2", st.Uid, st.Nlink)
	}
	if !fi.ModTime().Equal(time.Unix(1600000000, 0)) {
		t.Errorf("mtime = %v", fi.ModTime())
	}
	if fi, _ := os.Stat(filepath.Join(dir, "tmp")); fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmp lost its sticky bit: %v", fi.Mode())
	}
	if fi, _ := os.Stat(filepath.Join(dir, "bin")); !fi.ModTime().Equal(time.Unix(1600000000, 0)) {
		t.Errorf("dir mtime = %v", fi.ModTime())
	}
	if l, _ := os.Readlink(filepath.Join(dir, "bin/sh")); l != "su" {
		t.Errorf("symlink = %q", l)
	}
}

func TestWhiteouts(t *testing.T) {
	lower := []ent{{name: "a/", typ: tar.TypeDir}, {name: "a/old", body: "o"}, {name: "gone", body: "g"}, {name: "keep", body: "k"}}
	upper := []ent{{name: "a/", typ: tar.TypeDir}, {name: "a/.wh..wh..opq"}, {name: "a/new", body: "n"}, {name: ".wh.gone"}}

	t.Run("apply", func(t *testing.T) {
		dir := t.TempDir()
		if err := unpack(t, dir, WhiteoutApply, lower...); err != nil {
			t.Fatal(err)
		}
		if err := unpack(t, dir, WhiteoutApply, upper...); err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]bool{"a/old": false, "a/new": true, "gone": false, "keep": true} {
			if _, err := os.Lstat(filepath.Join(dir, p)); (err == nil) != want {
				t.Errorf("%s exists = %v, want %v", p, err == nil, want)
			}
		}
	})
	t.Run("overlay", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("overlay whiteouts need mknod and trusted xattrs (root)")
		}
		dir := t.TempDir()
		if err := unpack(t, dir, WhiteoutOverlay, upper...); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(filepath.Join(dir, "gone"))
		if err != nil || !isOverlayWhiteout(fi) {
			t.Fatalf("gone is not a 0/0 char device: %v %v", fi, err)
		}
		if !isOpaque(filepath.Join(dir, "a")) {
			t.Error("a is not opaque")
		}
		// And back: the upper dir diffs to the same whiteouts.
		var b bytes.Buffer
		if err := DiffOverlayUpper(context.Background(), dir, &b, nil); err != nil {
			t.Fatal(err)
		}
		names := tarNames(t, b.Bytes())
		if strings.Join(names, ",") != "a/,a/.wh..wh..opq,a/new,.wh.gone" {
			t.Errorf("DiffOverlayUpper names = %v", names)
		}
	})
}

func tarNames(t *testing.T, b []byte) []string {
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	return names
}

func TestDiffDirsAndTarRoundTrip(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	base := []ent{{name: "d/", typ: tar.TypeDir}, {name: "d/x", body: "1"}, {name: "same", body: "s"}, {name: "rm/", typ: tar.TypeDir}, {name: "rm/y", body: "y"}}
	for _, d := range []string{lower, upper} {
		if err := unpack(t, d, WhiteoutApply, base...); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(upper, "d/x"), []byte("22"), 0o644)
	os.RemoveAll(filepath.Join(upper, "rm"))
	os.WriteFile(filepath.Join(upper, "new"), []byte("n"), 0o644)
	var b bytes.Buffer
	if err := DiffDirs(context.Background(), lower, upper, &b, nil); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(tarNames(t, b.Bytes()), ",")
	if got != "d/x,new,.wh.rm" {
		t.Errorf("DiffDirs = %s, want d/x,new,.wh.rm", got)
	}
	// Applying the diff to lower gives upper.
	if _, err := Unpack(context.Background(), &b, lower, &UnpackOptions{Whiteouts: WhiteoutApply}); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	DiffDirs(context.Background(), lower, upper, &again, nil)
	if n := tarNames(t, again.Bytes()); len(n) != 0 {
		t.Errorf("after applying the diff, still differs: %v", n)
	}
	// Tar is deterministic.
	var t1, t2 bytes.Buffer
	Tar(context.Background(), upper, &t1, nil)
	Tar(context.Background(), upper, &t2, nil)
	if !bytes.Equal(t1.Bytes(), t2.Bytes()) || t1.Len() == 0 {
		t.Error("Tar is not deterministic")
	}
}

func FuzzUnpack(f *testing.F) {
	f.Add(mktar(f, ent{name: "a/b", body: "x"}, ent{name: "l", typ: tar.TypeSymlink, link: "../.."}, ent{name: "l/x", body: "y"}))
	f.Add(mktar(f, ent{name: "h", typ: tar.TypeLink, link: "a"}, ent{name: ".wh.a"}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		outer := t.TempDir()
		dir := filepath.Join(outer, "root")
		os.Mkdir(dir, 0o755)
		Unpack(context.Background(), bytes.NewReader(data), dir, &UnpackOptions{Whiteouts: WhiteoutApply, SkipDevices: true})
		entries, _ := os.ReadDir(outer)
		if len(entries) != 1 {
			t.Fatalf("unpack wrote outside the root: %v", entries)
		}
	})
}
