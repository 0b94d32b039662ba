package build

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lastRunEnv builds df and returns the environment of its last RUN.
func lastRunEnv(t *testing.T, df string, o *Options) ([]string, string) {
	t.Helper()
	f := newFake(t)
	_, out := mustBuild(t, f, df, o)
	if len(f.runs) == 0 {
		t.Fatalf("no RUN ran")
	}
	return f.runs[len(f.runs)-1].Env, out
}

func TestArgScoping(t *testing.T) {
	base := "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
	plat := hostPlatform()
	tests := []struct {
		name string
		df   string
		args map[string]string
		want []string
	}{
		{"default", "FROM busybox\nARG A=1\nRUN true", nil, []string{base, "A=1"}},
		{"build arg overrides default", "FROM busybox\nARG A=1\nRUN true", map[string]string{"A": "2"}, []string{base, "A=2"}},
		{"arg without default takes build arg", "FROM busybox\nARG A\nRUN true", map[string]string{"A": "x"}, []string{base, "A=x"}},
		{"arg without default nor value is unset", "FROM busybox\nARG A\nRUN true", nil, []string{base}},
		{"global not visible without redeclaring", "ARG G=g\nFROM busybox\nRUN true", nil, []string{base}},
		{"global redeclared takes its value", "ARG G=g\nFROM busybox\nARG G\nRUN true", nil, []string{base, "G=g"}},
		{"global redeclared with build arg", "ARG G=g\nFROM busybox\nARG G\nRUN true", map[string]string{"G": "b"}, []string{base, "G=b"}},
		{"env shadows arg", "FROM busybox\nARG A=1\nENV A=env\nRUN true", nil, []string{base, "A=env"}},
		{"default expands env", "FROM busybox\nENV E=e\nARG A=${E}x\nRUN true", nil, []string{base, "E=e", "A=ex"}},
		{"expanded once", "FROM busybox\nENV E=e\nARG A='$E'\nRUN true", nil, []string{base, "E=e", "A=$E"}},
		{"global args expand in order", "ARG X=1\nARG Y=${X}2\nFROM busybox\nARG Y\nRUN true", nil, []string{base, "Y=12"}},
		{"scope ends with stage", "FROM busybox AS one\nARG A=1\nFROM busybox\nRUN true", nil, []string{base}},
		{"predefined", "FROM busybox\nARG TARGETARCH\nARG BUILDPLATFORM\nRUN true", nil,
			[]string{base, "TARGETARCH=" + plat.arch, "BUILDPLATFORM=" + plat.String()}},
		{"proxy args without ARG", "FROM busybox\nRUN true", map[string]string{"HTTP_PROXY": "http://127.0.0.1:3128"},
			[]string{base, "HTTP_PROXY=http://127.0.0.1:3128"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := lastRunEnv(t, tt.df, &Options{BuildArgs: tt.args})
			if diff := cmp.Diff(tt.want, env); diff != "" {
				t.Errorf("RUN env of %q (-want +got):\n%s", tt.df, diff)
			}
		})
	}
}

func TestArgsNotPersisted(t *testing.T) {
	f := newFake(t)
	img, _ := mustBuild(t, f, "FROM busybox\nARG SECRETISH=v\nRUN true", &Options{BuildArgs: map[string]string{"HTTP_PROXY": "p"}})
	for _, e := range img.Config.Config.Env {
		if strings.HasPrefix(e, "SECRETISH") || strings.HasPrefix(e, "HTTP_PROXY") {
			t.Errorf("build arg persisted in Env: %v", img.Config.Config.Env)
		}
	}
	h := img.Config.History[len(img.Config.History)-1].CreatedBy
	if h != "RUN |1 SECRETISH=v /bin/sh -c true # buildkit" {
		t.Errorf("RUN history = %q, want the args in scope and no proxy", h)
	}
}

func TestGlobalArgInFrom(t *testing.T) {
	f := newFake(t)
	f.addBase("busybox:1.36", f.images[f.bases["busybox"]].Config.Config, f.filesOf(f.bases["busybox"]))
	mustBuild(t, f, "ARG TAG=latest\nFROM busybox:${TAG}\nRUN true", &Options{BuildArgs: map[string]string{"TAG": "1.36"}})
	if diff := cmp.Diff([]string{"busybox:1.36"}, f.pulls); diff != "" {
		t.Errorf("pulls (-want +got):\n%s", diff)
	}
}

func TestUnusedBuildArgWarning(t *testing.T) {
	f := newFake(t)
	_, out := mustBuild(t, f, "FROM busybox\nARG USED\nRUN true", &Options{BuildArgs: map[string]string{"USED": "1", "ZED": "2", "ALPHA": "3", "NO_PROXY": "x"}})
	if !strings.Contains(out, "[Warning] One or more build-args [ALPHA ZED] were not consumed\n") {
		t.Errorf("output lacks the unused build-arg warning:\n%s", out)
	}
}
