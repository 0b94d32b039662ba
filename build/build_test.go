package build

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// build runs Build with a fake backend and returns the image and output.
func build(t *testing.T, f *fakeBackend, df string, o *Options) (Image, string, error) {
	t.Helper()
	var out bytes.Buffer
	if o == nil {
		o = &Options{}
	}
	o.Dockerfile = []byte(df)
	if o.DockerfileName == "" {
		o.DockerfileName = "Dockerfile"
	}
	o.Out = &out
	img, err := Build(context.Background(), f, o)
	return img, out.String(), err
}

func mustBuild(t *testing.T, f *fakeBackend, df string, o *Options) (Image, string) {
	t.Helper()
	img, out, err := build(t, f, df, o)
	if err != nil {
		t.Fatalf("Build: %v\noutput:\n%s", err, out)
	}
	return img, out
}

func TestBuildBasic(t *testing.T) {
	f := newFake(t)
	ctxDir := writeContext(t, map[string]string{"hello.txt": "hi\n"})
	img, out := mustBuild(t, f, `FROM busybox
ENV GREETING=hello
RUN echo $GREETING > /greeting
COPY hello.txt /app/
CMD ["cat", "/app/hello.txt"]
`, &Options{ContextDir: ctxDir, Tags: []string{"localhost/basic:latest"}})

	if got := f.file(t, img, "/app/hello.txt").data; got != "hi\n" {
		t.Errorf("/app/hello.txt = %q, want %q", got, "hi\n")
	}
	if !f.has(img, "/greeting") {
		t.Errorf("RUN did not produce /greeting")
	}
	cfg := img.Config.Config
	if diff := cmp.Diff([]string{"cat", "/app/hello.txt"}, cfg.Cmd); diff != "" {
		t.Errorf("Cmd (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"}, cfg.Env); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
	var hist []string
	for _, h := range img.Config.History {
		hist = append(hist, h.CreatedBy+map[bool]string{true: " (empty)", false: ""}[h.EmptyLayer])
	}
	wantHist := []string{
		"base busybox",
		"ENV GREETING=hello (empty)",
		"RUN /bin/sh -c echo $GREETING > /greeting # buildkit",
		"COPY hello.txt /app/ # buildkit",
		`CMD ["cat","/app/hello.txt"] (empty)`,
	}
	if diff := cmp.Diff(wantHist, hist); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
	if got := len(img.Config.RootFS.DiffIDs); got != 3 {
		t.Errorf("diff_ids = %d, want 3", got)
	}
	if len(f.runs) != 1 || !cmp.Equal(f.runs[0].Args, []string{"/bin/sh", "-c", "echo $GREETING > /greeting"}) {
		t.Errorf("runs = %+v", f.runs)
	}
	if diff := cmp.Diff([]string{"localhost/basic:latest"}, f.tags[img.ID]); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "STEP 1/5: FROM busybox" {
		t.Errorf("first line = %q", lines[0])
	}
	if last := lines[len(lines)-1]; last != img.ID {
		t.Errorf("last line = %q, want the image ID %q", last, img.ID)
	}
	for _, want := range []string{"STEP 3/5: RUN echo $GREETING > /greeting", "COMMIT localhost/basic:latest", "Successfully tagged localhost/basic:latest"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
