package build

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-project/berth/internal/errdefs"
)

const multiStage = `FROM busybox AS a
RUN echo a > /a
FROM busybox AS b
RUN echo b > /b
FROM busybox AS unused
RUN echo unused > /u
FROM a AS c
COPY --from=b /b /b
RUN --mount=type=bind,from=b,target=/mnt echo c > /c
`

func TestMultiStage(t *testing.T) {
	f := newFake(t)
	img, out := mustBuild(t, f, multiStage, nil)
	for _, p := range []string{"/a", "/b", "/c"} {
		if !f.has(img, p) {
			t.Errorf("final image lacks %s", p)
		}
	}
	var ran []string
	for _, r := range f.runs {
		ran = append(ran, r.Args[2])
	}
	for _, r := range ran {
		if strings.Contains(r, "unused") {
			t.Errorf("the unused stage ran: %v", ran)
		}
	}
	if len(ran) != 3 {
		t.Errorf("runs = %v, want each needed stage's RUN once", ran)
	}
	for _, want := range []string{"[a] STEP 1/2: FROM busybox AS a", "[b] STEP 2/2: RUN echo b > /b", "[c] STEP 3/3: RUN --mount=type=bind,from=b,target=/mnt echo c > /c"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTarget(t *testing.T) {
	f := newFake(t)
	img, out := mustBuild(t, f, multiStage, &Options{Target: "B"})
	if !f.has(img, "/b") || f.has(img, "/a") {
		t.Errorf("--target b built the wrong stage")
	}
	if len(f.runs) != 1 || strings.Contains(out, "[") {
		t.Errorf("--target b ran %d steps; output:\n%s", len(f.runs), out)
	}
	_, _, err := build(t, newFake(t), multiStage, &Options{Target: "x"})
	if err == nil || err.Error() != `target stage "x" could not be found` || !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unknown target = %v", err)
	}
}

func TestStagesRunConcurrently(t *testing.T) {
	f := newFake(t)
	// each stage waits until the other has started: only a parallel run can finish
	f.started["one"], f.started["two"] = make(chan struct{}), make(chan struct{})
	f.block["one"], f.block["two"] = f.started["two"], f.started["one"]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out strings.Builder
	_, err := Build(ctx, f, &Options{Dockerfile: []byte(`FROM busybox AS one
RUN block one
FROM busybox AS two
RUN block two
FROM busybox
COPY --from=one /etc/passwd /1
COPY --from=two /etc/passwd /2
`), Out: &out})
	if err != nil {
		t.Fatalf("Build: %v (stages did not overlap)\n%s", err, out.String())
	}
}

func TestStageUsedTwiceRunsOnce(t *testing.T) {
	f := newFake(t)
	mustBuild(t, f, `FROM busybox AS base
RUN echo base > /base
FROM base AS x
RUN echo x > /x
FROM base AS y
RUN echo y > /y
FROM busybox
COPY --from=x /x /x
COPY --from=y /y /y
COPY --from=base /base /base
`, nil)
	n := 0
	for _, r := range f.runs {
		if r.Args[2] == "echo base > /base" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("stage base ran %d times, want 1", n)
	}
	if diff := cmp.Diff([]string{"busybox"}, f.pulls); diff != "" {
		t.Errorf("pulls (-want +got):\n%s", diff)
	}
}

func TestFailureCancelsOtherStages(t *testing.T) {
	f := newFake(t)
	f.block["forever"] = make(chan struct{}) // never closed
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out strings.Builder
	_, err := Build(ctx, f, &Options{Dockerfile: []byte(`FROM busybox AS slow
RUN block forever
FROM busybox AS bad
RUN false
FROM busybox
COPY --from=slow /etc/passwd /1
COPY --from=bad /etc/passwd /2
`), Out: &out, Tags: []string{"t"}})
	if err == nil || !strings.Contains(err.Error(), `process "/bin/sh -c false" did not complete successfully`) {
		t.Fatalf("Build = %v, want the failing RUN's error", err)
	}
	if ctx.Err() != nil {
		t.Errorf("the blocked stage was not cancelled")
	}
	if len(f.tags) != 0 {
		t.Errorf("failed build tagged")
	}
}

func TestCancel(t *testing.T) {
	f := newFake(t)
	f.block["forever"] = make(chan struct{})
	f.started["forever"] = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.started["forever"]
		cancel()
	}()
	var out strings.Builder
	_, err := Build(ctx, f, &Options{Dockerfile: []byte("FROM busybox\nRUN block forever\n"), Out: &out, Tags: []string{"t"}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Build after cancel = %v, want context.Canceled", err)
	}
	if len(f.tags) != 0 {
		t.Errorf("cancelled build tagged")
	}
}

func TestFromErrors(t *testing.T) {
	tests := []struct{ name, df, want string }{
		{"future index", "FROM busybox\nCOPY --from=1 /a /b\nFROM busybox", "Dockerfile:2: invalid from flag value 1: refers to current or future build stage"},
		{"missing image", "FROM nosuchimage\nRUN true", "pull nosuchimage: image nosuchimage: not found"},
		{"blank base", "ARG B\nFROM $B", "Dockerfile:2: base name ($B) should not be blank"},
		{"duplicate stage", "FROM busybox AS x\nFROM busybox AS x", `Dockerfile:2: duplicate stage name "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := build(t, newFake(t), tt.df, nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Build(%q) = %v, want %q", tt.df, err, tt.want)
			}
		})
	}
}
