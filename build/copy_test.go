package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ulikunitz/xz"

	"github.com/berth-project/berth/internal/errdefs"
)

var copyContext = map[string]string{
	"a.txt":            "A",
	"b.txt":            "B",
	"c.md":             "C",
	"dir/x":            "X",
	"dir/sub/y":        "Y",
	"dir/skip.log":     "LOG",
	"dir/keep.log":     "KEEP",
	"secret/key":       "K",
	"empty/":           "",
	".dockerignore":    "*.md\ndir/*.log\n!dir/keep.log\nsecret\n",
	"other/nested/z":   "Z",
	"other/nested/z2":  "Z2",
	"other/n2/z":       "Z3",
	"with space/w.txt": "W",
}

func TestCopy(t *testing.T) {
	tests := []struct {
		name   string
		lines  string
		want   map[string]string // path -> content in the image
		absent []string
	}{
		{"file to dir", "COPY a.txt /dst/", map[string]string{"/dst/a.txt": "A"}, nil},
		{"file to file", "COPY a.txt /dst/renamed", map[string]string{"/dst/renamed": "A"}, nil},
		{"file into existing dir without slash", "COPY a.txt /tmp", map[string]string{"/tmp/a.txt": "A"}, nil},
		{"several sources make a dir", "COPY a.txt b.txt /many", map[string]string{"/many/a.txt": "A", "/many/b.txt": "B"}, nil},
		{"glob", "COPY *.txt /g/", map[string]string{"/g/a.txt": "A", "/g/b.txt": "B"}, []string{"/g/c.md"}},
		{"glob in subdir", "COPY other/*/z /gz/", map[string]string{"/gz/z": "Z"}, nil},
		{"dir copies contents", "COPY dir /d", map[string]string{"/d/x": "X", "/d/sub/y": "Y", "/d/keep.log": "KEEP"}, []string{"/d/skip.log", "/d/dir"}},
		{"relative dest uses workdir", "WORKDIR /work\nCOPY a.txt .\nCOPY b.txt sub/", map[string]string{"/work/a.txt": "A", "/work/sub/b.txt": "B"}, nil},
		{"dot copies the context", "COPY . /all/", map[string]string{"/all/a.txt": "A", "/all/dir/x": "X", "/all/dir/keep.log": "KEEP"},
			[]string{"/all/c.md", "/all/secret/key", "/all/dir/skip.log"}},
		{"dest through a symlink", "COPY a.txt /lib/", map[string]string{"/usr/lib/a.txt": "A"}, nil},
		{"spaces", `COPY ["with space/w.txt", "/sp/"]`, map[string]string{"/sp/w.txt": "W"}, nil},
		{"env in paths", "ENV SRC=a.txt DST=/envd\nCOPY $SRC ${DST}/", map[string]string{"/envd/a.txt": "A"}, nil},
		{"heredoc", "COPY <<EOF /here/doc.txt\nline1\nline2\nEOF", map[string]string{"/here/doc.txt": "line1\nline2\n"}, nil},
		{"heredoc expands", "ENV WHO=world\nCOPY <<EOF /hx\nhello $WHO \"q\"\nEOF", map[string]string{"/hx": "hello world \"q\"\n"}, nil},
		{"quoted heredoc literal", "ENV WHO=world\nCOPY <<\"EOF\" /hq\nhello $WHO\nEOF", map[string]string{"/hq": "hello $WHO\n"}, nil},
		{"dotdot inside context", "COPY dir/../a.txt /dd/", map[string]string{"/dd/a.txt": "A"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			img, _ := mustBuild(t, f, "FROM busybox\n"+tt.lines, &Options{ContextDir: writeContext(t, copyContext)})
			for p, want := range tt.want {
				if got := f.file(t, img, p).data; got != want {
					t.Errorf("%s = %q, want %q", p, got, want)
				}
			}
			for _, p := range tt.absent {
				if f.has(img, p) {
					t.Errorf("%s copied, want it absent", p)
				}
			}
		})
	}
}

func TestCopyKeepsParentDirs(t *testing.T) {
	f := newFake(t)
	img, _ := mustBuild(t, f, "FROM busybox\nCOPY a.txt /tmp/new/\n", &Options{ContextDir: writeContext(t, copyContext)})
	if m := f.file(t, img, "/tmp").mode; m != 0o1777 {
		t.Errorf("/tmp mode = %o after COPY, want 1777 kept from the parent", m)
	}
	if m := f.file(t, img, "/tmp/new").mode; m != 0o755 {
		t.Errorf("/tmp/new mode = %o, want 755", m)
	}
	names := f.layers[img.ID]
	if diff := cmp.Diff([]string{"tmp/", "tmp/new/", "tmp/new/a.txt"}, names); diff != "" {
		t.Errorf("layer entries (-want +got):\n%s", diff)
	}
}

func TestCopyOwnership(t *testing.T) {
	tests := []struct {
		chown    string
		uid, gid int
	}{
		{"", 0, 0},
		{"1000", 1000, 1000},
		{"55:66", 55, 66},
		{"app", 1000, 1000},
		{"app:staff", 1000, 50},
		{"0:staff", 0, 50},
	}
	for _, tt := range tests {
		t.Run(tt.chown, func(t *testing.T) {
			f := newFake(t)
			flag := ""
			if tt.chown != "" {
				flag = "--chown=" + tt.chown + " "
			}
			img, _ := mustBuild(t, f, "FROM busybox\nCOPY "+flag+"dir /o/", &Options{ContextDir: writeContext(t, copyContext)})
			for _, p := range []string{"/o/x", "/o/sub", "/o/sub/y"} {
				ff := f.file(t, img, p)
				if ff.uid != tt.uid || ff.gid != tt.gid {
					t.Errorf("%s owner = %d:%d, want %d:%d", p, ff.uid, ff.gid, tt.uid, tt.gid)
				}
			}
		})
	}
	_, _, err := build(t, newFake(t), "FROM busybox\nCOPY --chown=nobody a.txt /", &Options{ContextDir: writeContext(t, copyContext)})
	if err == nil || !strings.Contains(err.Error(), "unable to find user nobody") {
		t.Errorf("COPY --chown=nobody = %v, want unable to find user", err)
	}
}

func TestCopyChmod(t *testing.T) {
	f := newFake(t)
	img, _ := mustBuild(t, f, "FROM busybox\nCOPY --chmod=750 dir/x a.txt /m/", &Options{ContextDir: writeContext(t, copyContext)})
	for _, p := range []string{"/m/x", "/m/a.txt"} {
		if m := f.file(t, img, p).mode; m != 0o750 {
			t.Errorf("%s mode = %o, want 750", p, m)
		}
	}
	if _, _, err := build(t, newFake(t), "FROM busybox\nCOPY --chmod=99 a.txt /", &Options{ContextDir: writeContext(t, copyContext)}); err == nil {
		t.Errorf("COPY --chmod=99 succeeded, want an error")
	}
}

func TestCopyErrors(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"missing", "COPY missing.txt /", "COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist"},
		{"ignored", "COPY c.md /", "COPY failed: file not found in build context or excluded by .dockerignore: stat c.md: file does not exist"},
		{"ignored dir", "COPY secret/key /", "COPY failed: file not found in build context or excluded by .dockerignore: stat secret/key: file does not exist"},
		{"escape", "COPY ../outside /", "COPY failed: forbidden path outside the build context: ../outside"},
		{"glob matches nothing", "COPY *.none /", "COPY failed: no source files were specified: *.none matched nothing"},
		{"url in copy", "COPY http://127.0.0.1/x /", "COPY failed: source can't be a URL for COPY: http://127.0.0.1/x"},
		{"unknown from", "COPY --from=nosuch a /", "pull nosuch: image nosuch: not found"},
		{"bad flag", "COPY --frm=x a /", "Dockerfile:2: unknown flag: frm (did you mean from?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			_, _, err := build(t, f, "FROM busybox\n"+tt.line, &Options{ContextDir: writeContext(t, copyContext), Tags: []string{"x"}})
			if err == nil || err.Error() != tt.want {
				t.Errorf("Build(%q) = %v, want %q", tt.line, err, tt.want)
			}
			if len(f.tags) != 0 {
				t.Errorf("failed build tagged %v", f.tags)
			}
		})
	}
	_, _, err := build(t, newFake(t), "FROM busybox\nCOPY missing.txt /", &Options{ContextDir: writeContext(t, copyContext)})
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("missing file error %v is not ErrInvalid", err)
	}
}

func TestCopyFrom(t *testing.T) {
	f := newFake(t)
	img, out := mustBuild(t, f, `FROM busybox AS builder
RUN echo built > /out/bin
FROM busybox
COPY --from=builder /out/bin /usr/local/bin/tool
COPY --from=0 /etc/group /g
COPY --from=busybox /bin/sh /sh-copy
`, &Options{ContextDir: writeContext(t, copyContext)})
	if got := f.file(t, img, "/usr/local/bin/tool").data; got != "built\n" {
		t.Errorf("tool = %q, want built", got)
	}
	if !f.has(img, "/g") || !f.has(img, "/sh-copy") {
		t.Errorf("COPY --from=0 / --from=busybox missing:\n%s", out)
	}
}

func makeTarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o640, Size: int64(len(data)), Typeflag: tar.TypeReg, Uid: 7, Gid: 8}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestAddArchive(t *testing.T) {
	f := newFake(t)
	dir := writeContext(t, map[string]string{"plain.txt": "p"})
	os.WriteFile(filepath.Join(dir, "bundle.bin"), makeTarGz(t, map[string]string{"top.txt": "T", "deep/inner.txt": "I"}), 0o644)
	img, _ := mustBuild(t, f, "FROM busybox\nADD bundle.bin /opt/\nADD plain.txt /opt/plain.txt\nCOPY bundle.bin /raw/", &Options{ContextDir: dir})
	if got := f.file(t, img, "/opt/top.txt"); got.data != "T" || got.uid != 7 || got.mode != 0o640 {
		t.Errorf("/opt/top.txt = %+v, want content T, uid 7, mode 640 from the archive", got)
	}
	if got := f.file(t, img, "/opt/deep/inner.txt").data; got != "I" {
		t.Errorf("/opt/deep/inner.txt = %q", got)
	}
	if f.file(t, img, "/opt/plain.txt").data != "p" {
		t.Errorf("plain file not copied as is")
	}
	if !f.has(img, "/raw/bundle.bin") {
		t.Errorf("COPY extracted the archive; it must copy it as is")
	}
}

func TestAddArchiveEscape(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "../../evil", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	dir := writeContext(t, nil)
	os.WriteFile(filepath.Join(dir, "evil.tar"), buf.Bytes(), 0o644)
	_, _, err := build(t, newFake(t), "FROM busybox\nADD evil.tar /x/", &Options{ContextDir: dir})
	if err == nil || !strings.Contains(err.Error(), "leaves the archive") {
		t.Errorf("ADD of an escaping archive = %v, want refused", err)
	}
}

func TestAddURL(t *testing.T) {
	lm := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/tool.sh" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Last-Modified", lm.Format(http.TimeFormat))
		w.Write([]byte("#!/bin/sh\necho tool\n"))
	}))
	defer srv.Close()
	f := newFake(t)
	img, _ := mustBuild(t, f, "FROM busybox\nADD "+srv.URL+"/files/tool.sh /usr/bin/\nADD "+srv.URL+"/files/tool.sh /named", nil)
	got := f.file(t, img, "/usr/bin/tool.sh")
	if got.data != "#!/bin/sh\necho tool\n" || got.mode != 0o600 || !got.mtime.Equal(lm) {
		t.Errorf("downloaded file = %+v, want content, mode 600, mtime %v", got, lm)
	}
	if !f.has(img, "/named") {
		t.Errorf("ADD URL to a file path missing")
	}
	_, _, err := build(t, newFake(t), "FROM busybox\nADD "+srv.URL+"/nope /x", nil)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("ADD of a 404 = %v, want an error naming the status", err)
	}
}

func TestCopyChownKeepsWorkdirRoot(t *testing.T) {
	f := newFake(t)
	img, _ := mustBuild(t, f, "FROM busybox\nWORKDIR /srv/app\nCOPY --chown=app a.txt ./\nCOPY --chown=app b.txt /newdir/", &Options{ContextDir: writeContext(t, copyContext)})
	if ff := f.file(t, img, "/srv/app"); ff.uid != 0 {
		t.Errorf("WORKDIR /srv/app owned by %d, want root", ff.uid)
	}
	if ff := f.file(t, img, "/srv/app/a.txt"); ff.uid != 1000 {
		t.Errorf("a.txt owned by %d, want 1000", ff.uid)
	}
	if ff := f.file(t, img, "/newdir"); ff.uid != 1000 {
		t.Errorf("new destination /newdir owned by %d, want --chown's 1000", ff.uid)
	}
}

func TestAddArchiveFollowsParentSymlinks(t *testing.T) {
	f := newFake(t)
	dir := writeContext(t, nil)
	os.WriteFile(filepath.Join(dir, "root.tar.gz"), makeTarGz(t, map[string]string{"lib/libx.so": "X"}), 0o644)
	img, _ := mustBuild(t, f, "FROM busybox\nADD root.tar.gz /", &Options{ContextDir: dir})
	if ff := f.file(t, img, "/lib"); ff.typ != tar.TypeSymlink {
		t.Errorf("/lib became type %c, want the parent's symlink kept", ff.typ)
	}
	if f.file(t, img, "/usr/lib/libx.so").data != "X" {
		t.Errorf("libx.so not written through the /lib symlink")
	}
}

func TestAddArchiveFormats(t *testing.T) {
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	tw.WriteHeader(&tar.Header{Name: "f.txt", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("ok"))
	tw.Close()
	var xzBuf bytes.Buffer
	xw, err := xz.NewWriter(&xzBuf)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(plain.Bytes())
	xw.Close()
	formats := map[string][]byte{"plain.tar": plain.Bytes(), "x.tar.xz": xzBuf.Bytes(), "noext": makeTarGz(t, map[string]string{"f.txt": "ok"})}
	if bz, err := exec.LookPath("bzip2"); err == nil {
		cmd := exec.Command(bz, "-c")
		cmd.Stdin = bytes.NewReader(plain.Bytes())
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		formats["b.tar.bz2"] = out
	}
	for name, data := range formats {
		t.Run(name, func(t *testing.T) {
			dir := writeContext(t, nil)
			os.WriteFile(filepath.Join(dir, name), data, 0o644)
			f := newFake(t)
			img, _ := mustBuild(t, f, "FROM busybox\nADD "+name+" /x/", &Options{ContextDir: dir})
			if got := f.file(t, img, "/x/f.txt").data; got != "ok" {
				t.Errorf("ADD %s: /x/f.txt = %q, want extracted", name, got)
			}
		})
	}
}
