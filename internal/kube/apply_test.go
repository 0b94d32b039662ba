package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPrepareHostPaths(t *testing.T) {
	d := t.TempDir()
	file := filepath.Join(d, "file")
	os.WriteFile(file, nil, 0o644)
	cases := []struct {
		name    string
		hp      HostPath
		wantErr string
		made    os.FileMode // the type created, when the path did not exist
	}{
		{"dir exists", HostPath{d, corev1.HostPathDirectory}, "", 0},
		{"dir missing", HostPath{filepath.Join(d, "nodir"), corev1.HostPathDirectory}, "no such file", 0},
		{"dir is a file", HostPath{file, corev1.HostPathDirectory}, "is not a Directory", 0},
		{"dir or create", HostPath{filepath.Join(d, "a", "b"), corev1.HostPathDirectoryOrCreate}, "", os.ModeDir},
		{"file exists", HostPath{file, corev1.HostPathFile}, "", 0},
		{"file is a dir", HostPath{d, corev1.HostPathFile}, "is not a File", 0},
		{"file or create", HostPath{filepath.Join(d, "c", "f"), corev1.HostPathFileOrCreate}, "", 0o644},
		{"file or create over a dir", HostPath{d, corev1.HostPathFileOrCreate}, "is not a FileOrCreate", 0},
		{"socket", HostPath{file, corev1.HostPathSocket}, "is not a Socket", 0},
		{"char device", HostPath{"/dev/null", corev1.HostPathCharDev}, "", 0},
		{"block device", HostPath{"/dev/null", corev1.HostPathBlockDev}, "is not a BlockDevice", 0},
		{"unknown", HostPath{d, "Pipe"}, `unknown type "Pipe"`, 0},
	}
	for _, c := range cases {
		err := prepareHostPaths([]HostPath{c.hp})
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.wantErr)
		case c.made != 0:
			fi, err := os.Stat(c.hp.Path)
			if err != nil || fi.Mode().IsDir() != (c.made == os.ModeDir) {
				t.Errorf("%s: made %v, %v", c.name, fi, err)
			}
		}
	}
}
