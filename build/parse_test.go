package build

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-project/berth/internal/errdefs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, df, want string }{
		{"unknown instruction", "FROM busybox\nRUN true\n\n# comment\nENV A=b\nLABEL x=y\nCOPPY a b\n", "Dockerfile:7: unknown instruction: COPPY"},
		{"empty", "", "Dockerfile: the Dockerfile cannot be empty"},
		{"only comments", "# nothing\n\n", "Dockerfile:2: file with no instructions"},
		{"no from", "ARG A=1\n", "Dockerfile:1: no build stage in current context: the Dockerfile needs a FROM"},
		{"instruction before from", "RUN true\nFROM busybox", "Dockerfile:1: no build stage in current context"},
		{"bad flag", "FROM busybox\nRUN --frobnicate true", "Dockerfile:2: unknown flag: frobnicate"},
		{"bad stage name", "FROM busybox AS 1abc", `Dockerfile:1: invalid name for build stage: "1abc", name can't start with a number or contain symbols`},
		{"from args", "FROM busybox AS", "Dockerfile:1: FROM requires either one or three arguments"},
		{"env without value", "FROM busybox\nENV", "Dockerfile:2: ENV requires at least one argument"},
		{"copy without dest", "FROM busybox\nCOPY a", "Dockerfile:2: COPY requires at least two arguments"},
		{"onbuild from", "FROM busybox\nONBUILD FROM x", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"},
		{"bad healthcheck", "FROM busybox\nHEALTHCHECK --interval=x CMD true", "Dockerfile:2:"},
		{"named file", "FROM busybox\nFOO", "my.Dockerfile:2: unknown instruction: FOO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "Dockerfile"
			if tt.name == "named file" {
				name = "my.Dockerfile"
			}
			_, err := parseDockerfile(name, []byte(tt.df))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("parse(%q) = %v, want %q", tt.df, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

// TestGolden builds every testdata/golden/<case>/Dockerfile (context: the case's context/
// directory) with the fake backend and compares a dump of the result with <case>/result.
// Cases whose result starts with "error: " must fail with that message.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			o := &Options{Timestamp: &ts, BuildArgs: map[string]string{}}
			if _, err := os.Stat(filepath.Join(dir, "context")); err == nil {
				o.ContextDir = filepath.Join(dir, "context")
			}
			if b, err := os.ReadFile(filepath.Join(dir, "buildargs")); err == nil {
				for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					k, v, _ := strings.Cut(l, "=")
					o.BuildArgs[k] = v
				}
			}
			f := newFake(t)
			img, _, err := build(t, f, string(df), o)
			got := ""
			if err != nil {
				got = "error: " + err.Error() + "\n"
			} else {
				got = dumpImage(f, img)
				n := 0
				for _, h := range img.Config.History {
					if !h.EmptyLayer {
						n++
					}
				}
				if n != len(img.Config.RootFS.DiffIDs) {
					t.Errorf("history has %d layer entries for %d diff_ids", n, len(img.Config.RootFS.DiffIDs))
				}
			}
			golden := filepath.Join(dir, "result")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// dumpImage prints what a golden case checks: config, history, the final files and every
// RUN's argv and env.
func dumpImage(f *fakeBackend, img Image) string {
	var b strings.Builder
	cfg, _ := json.MarshalIndent(img.Config.Config, "", "  ")
	fmt.Fprintf(&b, "config: %s\n", cfg)
	fmt.Fprintf(&b, "layers: %d\n", len(img.Config.RootFS.DiffIDs))
	b.WriteString("history:\n")
	for _, h := range img.Config.History {
		fmt.Fprintf(&b, "  %s empty=%t\n", h.CreatedBy, h.EmptyLayer)
	}
	b.WriteString("files:\n")
	files := f.files[img.ID]
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ff := files[n]
		fmt.Fprintf(&b, "  %s type=%c mode=%o owner=%d:%d", n, ff.typ, ff.mode, ff.uid, ff.gid)
		if ff.link != "" {
			fmt.Fprintf(&b, " link=%s", ff.link)
		}
		if ff.typ == '0' {
			fmt.Fprintf(&b, " data=%q", ff.data)
		}
		b.WriteString("\n")
	}
	b.WriteString("runs:\n")
	for _, r := range f.runs {
		a, _ := json.Marshal(r.Args)
		e, _ := json.Marshal(r.Env)
		fmt.Fprintf(&b, "  %s env=%s workdir=%q user=%q\n", a, e, r.Workdir, r.User)
	}
	return b.String()
}

// FuzzParse feeds arbitrary Dockerfiles to the parser wrapper: it must never panic, and its
// errors are one line naming the file.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"FROM busybox\nRUN echo hi\n",
		"ARG A=1\nFROM busybox:$A AS x\nCOPY --from=x a b\n",
		"# escape=`\nFROM x\nRUN a `\n b\n",
		"FROM x\nRUN <<EOF\nhello\nEOF\n",
		"FROM x\nCOPY <<A <<B /d/\na\nA\nb\nB\n",
		"FROM x\nHEALTHCHECK --interval=1s CMD true\nONBUILD RUN x\n",
		"FROM x\nRUN --mount=type=cache,target=/c,id=a true\n",
		"FROM\n",
		"\x00\xff",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		df, err := parseDockerfile("Dockerfile", data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error for %q: %q", data, err)
			}
			if !strings.HasPrefix(err.Error(), "Dockerfile") {
				t.Errorf("error without the file name for %q: %q", data, err)
			}
			return
		}
		if len(df.stages) == 0 {
			t.Errorf("parse(%q) succeeded without stages", data)
		}
	})
}
