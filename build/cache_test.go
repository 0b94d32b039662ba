package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const cacheDockerfile = `FROM busybox
ARG V=1
RUN echo first > /first
COPY a.txt /a.txt
RUN echo second > /second
COPY b.txt /b.txt
RUN echo third > /third
`

func TestCacheSecondBuildRunsNothing(t *testing.T) {
	f := newFake(t)
	ctxDir := writeContext(t, copyContext)
	img1, _ := mustBuild(t, f, cacheDockerfile, &Options{ContextDir: ctxDir})
	runs := len(f.runs)
	img2, out := mustBuild(t, f, cacheDockerfile, &Options{ContextDir: ctxDir})
	if len(f.runs) != runs {
		t.Errorf("second build ran %d RUN steps, want 0", len(f.runs)-runs)
	}
	if img1.ID != img2.ID {
		t.Errorf("cached rebuild gave %s, first build %s", img2.ID, img1.ID)
	}
	if n := strings.Count(out, "--> Using cache "); n != 5 {
		t.Errorf("output shows %d cache hits, want 5:\n%s", n, out)
	}
}

func TestCacheContextChangeRerunsFromCopy(t *testing.T) {
	f := newFake(t)
	ctxDir := writeContext(t, copyContext)
	mustBuild(t, f, cacheDockerfile, &Options{ContextDir: ctxDir})
	// only times change: still cached
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(ctxDir, "a.txt"), later, later)
	runs := len(f.runs)
	mustBuild(t, f, cacheDockerfile, &Options{ContextDir: ctxDir})
	if len(f.runs) != runs {
		t.Errorf("an mtime change re-ran %d steps, want 0", len(f.runs)-runs)
	}
	// content of b.txt changes: only the last RUN runs again
	os.WriteFile(filepath.Join(ctxDir, "b.txt"), []byte("B2"), 0o644)
	runs = len(f.runs)
	_, out := mustBuild(t, f, cacheDockerfile, &Options{ContextDir: ctxDir})
	var rerun []string
	for _, r := range f.runs[runs:] {
		rerun = append(rerun, r.Args[2])
	}
	if diff := cmp.Diff([]string{"echo third > /third"}, rerun); diff != "" {
		t.Errorf("re-run steps (-want +got):\n%s\n%s", diff, out)
	}
	// a.txt changes: both RUNs after it run again
	os.WriteFile(filepath.Join(ctxDir, "a.txt"), []byte("A2"), 0o644)
	runs = len(f.runs)
	mustBuild(t, f, cacheDockerfile, &Options{ContextDir: ctxDir})
	if n := len(f.runs) - runs; n != 2 {
		t.Errorf("changing a.txt re-ran %d steps, want 2", n)
	}
	// a mode change counts too
	os.Chmod(filepath.Join(ctxDir, "a.txt"), 0o600)
	runs = len(f.runs)
	mustBuild(t, f, cacheDockerfile, &Options{ContextDir: ctxDir})
	if n := len(f.runs) - runs; n != 2 {
		t.Errorf("changing a.txt's mode re-ran %d steps, want 2", n)
	}
}

func TestCacheKeyInputs(t *testing.T) {
	tests := []struct {
		name     string
		df1, df2 string
		o1, o2   Options
		rerun    int // RUN steps the second build runs
	}{
		{"build arg in scope", "FROM busybox\nARG V\nRUN true", "FROM busybox\nARG V\nRUN true",
			Options{BuildArgs: map[string]string{"V": "1"}}, Options{BuildArgs: map[string]string{"V": "2"}}, 1},
		{"build arg not declared", "FROM busybox\nRUN true", "FROM busybox\nRUN true",
			Options{BuildArgs: map[string]string{"V": "1"}}, Options{BuildArgs: map[string]string{"V": "2"}}, 0},
		{"arg declared after the step", "FROM busybox\nRUN true\nARG V", "FROM busybox\nRUN true\nARG V",
			Options{BuildArgs: map[string]string{"V": "1"}}, Options{BuildArgs: map[string]string{"V": "2"}}, 0},
		{"pending env", "FROM busybox\nENV A=1\nRUN true", "FROM busybox\nENV A=2\nRUN true", Options{}, Options{}, 1},
		{"pending workdir", "FROM busybox\nWORKDIR /a\nRUN true", "FROM busybox\nWORKDIR /b\nRUN true", Options{}, Options{}, 1},
		{"instruction text", "FROM busybox\nRUN true", "FROM busybox\nRUN  true && true", Options{}, Options{}, 1},
		{"network", "FROM busybox\nRUN true", "FROM busybox\nRUN --network=none true", Options{}, Options{}, 1},
		{"mount", "FROM busybox\nRUN true", "FROM busybox\nRUN --mount=type=tmpfs,target=/t true", Options{}, Options{}, 1},
		{"label after the step", "FROM busybox\nRUN true\nLABEL a=1", "FROM busybox\nRUN true\nLABEL a=2", Options{}, Options{}, 0},
		{"no-cache", "FROM busybox\nRUN true", "FROM busybox\nRUN true", Options{}, Options{NoCache: true}, 1},
		{"proxy args ignored", "FROM busybox\nRUN true", "FROM busybox\nRUN true",
			Options{BuildArgs: map[string]string{"HTTP_PROXY": "a"}}, Options{BuildArgs: map[string]string{"HTTP_PROXY": "b"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			mustBuild(t, f, tt.df1, &tt.o1)
			n := len(f.runs)
			mustBuild(t, f, tt.df2, &tt.o2)
			if got := len(f.runs) - n; got != tt.rerun {
				t.Errorf("second build ran %d RUN steps, want %d", got, tt.rerun)
			}
		})
	}
}

func TestNoCacheStillRecords(t *testing.T) {
	f := newFake(t)
	mustBuild(t, f, "FROM busybox\nRUN true", &Options{NoCache: true})
	if f.gets != 0 {
		t.Errorf("--no-cache looked the cache up %d times", f.gets)
	}
	if len(f.cache) == 0 {
		t.Errorf("--no-cache recorded nothing in the cache")
	}
	n := len(f.runs)
	mustBuild(t, f, "FROM busybox\nRUN true", nil)
	if len(f.runs) != n {
		t.Errorf("the build after --no-cache missed the cache")
	}
}

func TestTimestampReproducible(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	ctxDir := writeContext(t, copyContext)
	df := "FROM busybox\nENV A=b\nCOPY dir /d\nRUN echo x > /x\nCMD [\"sh\"]"
	var ids []string
	for i := 0; i < 2; i++ {
		f := newFake(t) // separate stores: nothing cached
		img, _ := mustBuild(t, f, df, &Options{ContextDir: ctxDir, Timestamp: &ts})
		ids = append(ids, img.ID)
		for _, c := range f.commits {
			if !c.Created.Equal(ts) || c.Epoch == nil || !c.Epoch.Equal(ts) {
				t.Errorf("commit Created %v Epoch %v, want %v", c.Created, c.Epoch, ts)
			}
			for _, h := range c.History {
				if !h.Created.Time.Equal(ts) {
					t.Errorf("history %q created %v, want %v", h.CreatedBy, h.Created, ts)
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ids[0] != ids[1] {
		t.Errorf("two builds with --timestamp gave %s and %s", ids[0], ids[1])
	}
}

func TestKeyHasherNoCollisions(t *testing.T) {
	a := newKey("run", Image{ID: "x"}, busyboxConfig(), nil, nil)
	a.field("ab", "c")
	b := newKey("run", Image{ID: "x"}, busyboxConfig(), nil, nil)
	b.field("a", "bc")
	if a.sum() == b.sum() {
		t.Errorf("fields (ab,c) and (a,bc) collide")
	}
	c := newKey("run", Image{ID: "x"}, busyboxConfig(), nil, nil)
	c.field("a", "bc")
	if b.sum() != c.sum() {
		t.Errorf("equal inputs gave different keys")
	}
}

func busyboxConfig() v1.Config {
	return v1.Config{Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}}
}

func TestCacheIgnoresSecretFile(t *testing.T) {
	f := newFake(t)
	df := "FROM busybox\nRUN --mount=type=secret,id=tok cat /run/secrets/tok"
	for i, content := range []string{"one", "two"} {
		p := filepath.Join(t.TempDir(), "tok")
		os.WriteFile(p, []byte(content), 0o600)
		mustBuild(t, f, df, &Options{Secrets: map[string]string{"tok": p}})
		if len(f.runs) != 1 {
			t.Errorf("build %d: %d RUN steps ran in all, want 1 (a secret's file and content are not cache inputs)", i+1, len(f.runs))
		}
	}
}
