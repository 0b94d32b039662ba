package build

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestConfigInstructions(t *testing.T) {
	tests := []struct {
		name string
		df   string
		want func(c v1.Config) any // extracts the field under test
		val  any
		hist string // created_by of the last history entry
	}{
		{"env", "FROM busybox\nENV A=1 B=\"two words\"\nENV C=${A}x", func(c v1.Config) any { return c.Env },
			[]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "A=1", "B=two words", "C=1x"}, "ENV C=1x"},
		{"env replaces", "FROM busybox\nENV PATH=/x:$PATH", func(c v1.Config) any { return c.Env },
			[]string{"PATH=/x:/usr/sbin:/usr/bin:/sbin:/bin"}, "ENV PATH=/x:/usr/sbin:/usr/bin:/sbin:/bin"},
		{"workdir relative", "FROM busybox\nWORKDIR /a\nWORKDIR b\nENV D=c\nWORKDIR $D", func(c v1.Config) any { return c.WorkingDir },
			"/a/b/c", "WORKDIR /a/b/c"},
		{"user", "FROM busybox\nARG U=app\nUSER ${U}:staff", func(c v1.Config) any { return c.User }, "app:staff", "USER app:staff"},
		{"expose", "FROM busybox\nEXPOSE 80 53/udp 8000-8001", func(c v1.Config) any { return c.ExposedPorts },
			map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}, "EXPOSE 53/udp 80/tcp 8000/tcp 8001/tcp"},
		{"label", "FROM busybox\nLABEL a=b \"c d\"=e", func(c v1.Config) any { return c.Labels },
			map[string]string{"a": "b", "c d": "e"}, "LABEL a=b c d=e"},
		{"maintainer", "FROM busybox\nMAINTAINER someone <a@b>", func(c v1.Config) any { return c.Labels["maintainer"] },
			"someone <a@b>", "MAINTAINER someone <a@b>"},
		{"cmd shell form", "FROM busybox\nCMD echo hi", func(c v1.Config) any { return c.Cmd },
			[]string{"/bin/sh", "-c", "echo hi"}, `CMD ["/bin/sh","-c","echo hi"]`},
		{"entrypoint resets inherited cmd", "FROM busybox\nENTRYPOINT [\"top\"]", func(c v1.Config) any { return [][]string{c.Entrypoint, c.Cmd} },
			[][]string{{"top"}, nil}, `ENTRYPOINT ["top"]`},
		{"entrypoint keeps own cmd", "FROM busybox\nCMD [\"-b\"]\nENTRYPOINT [\"top\"]", func(c v1.Config) any { return [][]string{c.Entrypoint, c.Cmd} },
			[][]string{{"top"}, {"-b"}}, `ENTRYPOINT ["top"]`},
		{"volume", "FROM busybox\nVOLUME /data /logs\nVOLUME [\"/x\", \"/y\"]", func(c v1.Config) any { return c.Volumes },
			map[string]struct{}{"/data": {}, "/logs": {}, "/x": {}, "/y": {}}, `VOLUME ["/x","/y"]`},
		{"healthcheck", "FROM busybox\nHEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD wget -q localhost",
			func(c v1.Config) any { return *c.Healthcheck },
			v1.HealthConfig{Test: []string{"CMD-SHELL", "wget -q localhost"}, Interval: 5 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 4},
			`HEALTHCHECK ["CMD-SHELL","wget -q localhost"]`},
		{"healthcheck none", "FROM busybox\nHEALTHCHECK NONE", func(c v1.Config) any { return c.Healthcheck.Test }, []string{"NONE"}, "HEALTHCHECK NONE"},
		{"stopsignal", "FROM busybox\nSTOPSIGNAL SIGQUIT", func(c v1.Config) any { return c.StopSignal }, "SIGQUIT", "STOPSIGNAL SIGQUIT"},
		{"shell", "FROM busybox\nSHELL [\"/bin/bash\", \"-ec\"]\nCMD run", func(c v1.Config) any { return [][]string{c.Shell, c.Cmd} },
			[][]string{{"/bin/bash", "-ec"}, {"/bin/bash", "-ec", "run"}}, `CMD ["/bin/bash","-ec","run"]`},
		{"onbuild recorded", "FROM busybox\nONBUILD RUN echo child", func(c v1.Config) any { return c.OnBuild },
			[]string{"RUN echo child"}, "ONBUILD RUN echo child"},
		{"escape directive", "# escape=`\nFROM busybox\nENV A=b `\n  C=d", func(c v1.Config) any { return c.Env },
			[]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "A=b", "C=d"}, "ENV A=b C=d"},
		{"syntax directive ignored", "# syntax=docker/dockerfile:1\nFROM busybox\nUSER 7", func(c v1.Config) any { return c.User }, "7", "USER 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			img, _ := mustBuild(t, f, tt.df, nil)
			if diff := cmp.Diff(tt.val, tt.want(img.Config.Config)); diff != "" {
				t.Errorf("Build(%q) config (-want +got):\n%s", tt.df, diff)
			}
			h := img.Config.History
			last := h[len(h)-1]
			// a WORKDIR nothing created gets its own layer holding the directory
			layer := strings.HasPrefix(tt.hist, "WORKDIR")
			if last.CreatedBy != tt.hist || last.EmptyLayer == layer {
				t.Errorf("last history = %+v, want %q with empty_layer %t", last, tt.hist, !layer)
			}
			if n := len(img.Config.RootFS.DiffIDs); n != map[bool]int{false: 1, true: 2}[layer] {
				t.Errorf("build has %d layers: %v", n, img.Config.RootFS.DiffIDs)
			}
			if layer && !f.has(img, img.Config.Config.WorkingDir) {
				t.Errorf("WORKDIR %s not created", img.Config.Config.WorkingDir)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, df, want string }{
		{"bad stopsignal", "FROM busybox\nSTOPSIGNAL SIG KILL", `STOPSIGNAL: invalid signal`},
		{"bad expose", "FROM busybox\nEXPOSE 80/foo", `invalid protocol "foo"`},
		{"bad port", "FROM busybox\nEXPOSE 99999", `invalid port`},
		{"foreign platform", "FROM --platform=linux/s390x busybox", `platform "linux/s390x" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := build(t, newFake(t), tt.df, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build(%q) = %v, want error containing %q", tt.df, err, tt.want)
			}
		})
	}
}

func TestHostPlatformAccepted(t *testing.T) {
	f := newFake(t)
	df := "FROM --platform=$BUILDPLATFORM busybox\nFROM --platform=" + hostPlatform().String() + " busybox\nRUN true"
	mustBuild(t, f, df, &Options{Platform: hostPlatform().String()})
	if _, _, err := build(t, f, "FROM busybox", &Options{Platform: "linux/ppc64le"}); err == nil || !strings.Contains(err.Error(), "linux/ppc64le") {
		t.Errorf("Build with --platform linux/ppc64le = %v, want an error naming it", err)
	}
}

func TestOnbuildTriggers(t *testing.T) {
	f := newFake(t)
	parent, _ := mustBuild(t, f, "FROM busybox\nONBUILD RUN echo triggered > /t\nONBUILD ENV CHILD=1", nil)
	f.addBase("parent", parent.Config.Config, f.filesOf(parent.ID))
	child, out := mustBuild(t, f, "FROM parent\nRUN echo mine > /m", nil)
	if !f.has(child, "/t") || !f.has(child, "/m") {
		t.Errorf("child lacks trigger output /t or /m:\n%s", out)
	}
	if len(child.Config.Config.OnBuild) != 0 {
		t.Errorf("child OnBuild = %v, want triggers consumed", child.Config.Config.OnBuild)
	}
	if !cmp.Equal(child.Config.Config.Env[len(child.Config.Config.Env)-1], "CHILD=1") {
		t.Errorf("child Env = %v, want CHILD=1 from trigger", child.Config.Config.Env)
	}
	if !strings.Contains(out, "ONBUILD RUN echo triggered > /t\n") {
		t.Errorf("output does not show the trigger:\n%s", out)
	}
}

func TestLabelsOption(t *testing.T) {
	f := newFake(t)
	img, _ := mustBuild(t, f, "FROM busybox\nLABEL a=1\nFROM busybox AS other\nLABEL b=2", &Options{Labels: map[string]string{"x": "y"}})
	if diff := cmp.Diff(map[string]string{"b": "2", "x": "y"}, img.Config.Config.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

func TestScratch(t *testing.T) {
	f := newFake(t)
	ctxDir := writeContext(t, map[string]string{"bin/app": "binary"})
	img, _ := mustBuild(t, f, "FROM scratch\nCOPY bin/app /app\nENTRYPOINT [\"/app\"]", &Options{ContextDir: ctxDir})
	if f.file(t, img, "/app").data != "binary" {
		t.Errorf("/app missing")
	}
	if diff := cmp.Diff([]string{"PATH=" + defaultPath}, img.Config.Config.Env); diff != "" {
		t.Errorf("scratch Env (-want +got):\n%s", diff)
	}
	if n := len(img.Config.RootFS.DiffIDs); n != 1 {
		t.Errorf("diff_ids = %d, want 1", n)
	}
}

func TestWorkdirCreated(t *testing.T) {
	f := newFake(t)
	ctxDir := writeContext(t, copyContext)
	// the COPY layer creates the WORKDIR even though it copies elsewhere
	img, _ := mustBuild(t, f, "FROM busybox\nWORKDIR /srv/app\nCOPY a.txt /opt/\nCMD [\"x\"]", &Options{ContextDir: ctxDir})
	if !f.has(img, "/srv/app") || len(img.Config.RootFS.DiffIDs) != 2 {
		t.Errorf("WORKDIR not created by the COPY layer: layers %d", len(img.Config.RootFS.DiffIDs))
	}
	// an existing directory needs no layer
	img, _ = mustBuild(t, f, "FROM busybox\nWORKDIR /tmp", nil)
	if len(img.Config.RootFS.DiffIDs) != 1 || !img.Config.History[len(img.Config.History)-1].EmptyLayer {
		t.Errorf("WORKDIR of an existing directory added a layer")
	}
	// non-empty history entries match the layers
	img, _ = mustBuild(t, f, "FROM busybox\nWORKDIR /new\nENV A=1", nil)
	n := 0
	for _, h := range img.Config.History {
		if !h.EmptyLayer {
			n++
		}
	}
	if n != len(img.Config.RootFS.DiffIDs) {
		t.Errorf("history has %d layer entries for %d layers", n, len(img.Config.RootFS.DiffIDs))
	}
}
