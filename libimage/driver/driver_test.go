//go:build linux

package driver

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func layerTar(t *testing.T, entries ...[2]string) *bytes.Reader {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e[0], Mode: 0o644, ModTime: time.Unix(1600000000, 0), Typeflag: tar.TypeReg, Size: int64(len(e[1]))}
		if strings.HasSuffix(e[0], "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		tw.WriteHeader(h)
		tw.Write([]byte(e[1]))
	}
	tw.Close()
	return bytes.NewReader(b.Bytes())
}

func listTree(t *testing.T, root string) string {
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			rel += "=" + string(b)
		}
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}

// TestConformance runs one table against every driver, like containers/storage's graphtest.
func TestConformance(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: overlay mounts and whiteout devices")
	}
	for _, name := range []string{"vfs", "overlay"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d, err := New(name, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if d.Name() != name {
				t.Fatalf("Name() = %q", d.Name())
			}
			steps := []struct {
				id, parent string
				tar        *bytes.Reader
			}{
				{"l1", "", layerTar(t, [2]string{"a/", ""}, [2]string{"a/one", "1"}, [2]string{"a/two", "2"}, [2]string{"b", "b"})},
				{"l2", "l1", layerTar(t, [2]string{".wh.b", ""}, [2]string{"c", "c"})},
				{"l3", "l2", layerTar(t, [2]string{"a/", ""}, [2]string{"a/.wh..wh..opq", ""}, [2]string{"a/three", "3"})},
			}
			for _, s := range steps {
				if _, err := d.ApplyLayer(ctx, s.id, s.parent, s.tar); err != nil {
					t.Fatalf("ApplyLayer(%s): %v", s.id, err)
				}
				if !d.Exists(s.id) {
					t.Fatalf("Exists(%s) = false after apply", s.id)
				}
			}
			if _, err := d.ApplyLayer(ctx, "bad", "l3", bytes.NewReader([]byte("garbage that is not a tar at all........................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................"))); err == nil {
				t.Fatal("ApplyLayer of garbage succeeded")
			}
			if d.Exists("bad") {
				t.Fatal("a failed layer is visible")
			}
			if err := d.CreateRW("c1", "l3"); err != nil {
				t.Fatal(err)
			}
			root, err := d.Mount("c1")
			if err != nil {
				t.Fatal(err)
			}
			if again, err := d.Mount("c1"); err != nil || again != root {
				t.Fatalf("second Mount = %q, %v", again, err)
			}
			if got, want := listTree(t, root), "a a/three=3 c=c"; got != want {
				t.Errorf("merged tree = %q, want %q", got, want)
			}
			os.WriteFile(filepath.Join(root, "new"), []byte("n"), 0o644)
			os.Remove(filepath.Join(root, "c"))
			var diff bytes.Buffer
			if err := d.Diff(ctx, "c1", &diff); err != nil {
				t.Fatal(err)
			}
			var names []string
			tr := tar.NewReader(&diff)
			for h, err := tr.Next(); err == nil; h, err = tr.Next() {
				names = append(names, h.Name)
			}
			if got := strings.Join(names, ","); got != ".wh.c,new" && got != "new,.wh.c" {
				t.Errorf("Diff(c1) = %s, want .wh.c and new", got)
			}
			for _, id := range []string{"c1", "c1"} {
				if err := d.Unmount(id); err != nil {
					t.Fatalf("Unmount: %v", err)
				}
			}
			for _, id := range []string{"c1", "l3", "l2", "l1", "l1"} {
				if err := d.Remove(id); err != nil {
					t.Fatalf("Remove(%s): %v", id, err)
				}
				if d.Exists(id) {
					t.Fatalf("Exists(%s) after Remove", id)
				}
			}
			if _, err := d.ApplyLayer(ctx, "../x", "", layerTar(t)); err == nil {
				t.Error("layer id ../x accepted")
			}
		})
	}
}

func TestNewUnknown(t *testing.T) {
	if _, err := New("zfs", t.TempDir()); err == nil || !strings.Contains(err.Error(), `unknown storage driver "zfs"`) {
		t.Errorf("New(zfs) = %v", err)
	}
}
