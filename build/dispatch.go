package build

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// defaultPath is the PATH of a stage built FROM scratch, as buildkit sets it.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var defaultShell = []string{"/bin/sh", "-c"}

// stageState is a stage while it runs: the last committed image, the config being built
// on top of it and the config-only history entries not committed yet.
type stageState struct {
	bl      *builder
	s       *stageRun
	target  bool
	cur     Image
	cfg     v1.Config
	pending []v1.History
	dirty   bool // cfg differs from cur's config
	scope   *argScope
	cmdSet  bool // CMD given in this stage (ENTRYPOINT keeps it)
	// wdPending: WORKDIR named a directory no layer since has made sure exists; the next
	// COPY layer, or a layer of its own at the end, creates it (as buildkit's WORKDIR does)
	wdPending bool
	step      int
	total     int
}

// runStage runs one stage: FROM, the base image's ONBUILD triggers, every instruction, and
// a config-only commit when something is still pending.
func (bl *builder) runStage(ctx context.Context, s *stageRun, target bool) (Image, error) {
	st := &stageState{bl: bl, s: s, target: target, scope: newArgScope(), total: 1 + len(s.st.Commands)}
	st.step = 1
	bl.prog.linef(s.name, "STEP 1/%d: %s", st.total, strings.TrimSpace(s.st.SourceCode))
	if err := st.from(ctx); err != nil {
		return Image{}, err
	}
	triggers := st.cfg.OnBuild
	if len(triggers) > 0 {
		st.cfg.OnBuild = nil
		st.dirty = true
		for _, t := range triggers {
			c, err := parseTrigger(t)
			if err != nil {
				return Image{}, err
			}
			bl.prog.linef(s.name, "ONBUILD %s", t)
			if err := st.dispatch(ctx, c); err != nil {
				return Image{}, fmt.Errorf("ONBUILD %s: %w", t, err)
			}
		}
	}
	for _, c := range s.st.Commands {
		if err := ctx.Err(); err != nil {
			return Image{}, err
		}
		st.step++
		bl.prog.linef(s.name, "STEP %d/%d: %s", st.step, st.total, commandText(c))
		if err := st.dispatch(ctx, c); err != nil {
			return Image{}, err
		}
	}
	if target && len(bl.o.Labels) > 0 {
		if st.cfg.Labels == nil {
			st.cfg.Labels = map[string]string{}
		}
		for k, v := range bl.o.Labels {
			st.cfg.Labels[k] = v
		}
		st.dirty = true
	}
	if st.dirty || len(st.pending) > 0 {
		k := newKey("commit", st.cur, st.cfg, st.pending, bl.o.Timestamp)
		wd := st.wdPending
		k.field("workdir", strconv.FormatBool(wd))
		if err := st.layerStep(ctx, k.sum(), nil, func(co CommitOptions) (Image, error) {
			if wd {
				return st.commitWorkdir(ctx, co)
			}
			return bl.be.Commit(ctx, st.cur, nil, co)
		}); err != nil {
			return Image{}, err
		}
	}
	return st.cur, nil
}

// commandText is an instruction as written, on one line.
func commandText(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		return strings.Join(strings.Fields(s.String()), " ")
	}
	return c.Name()
}

// from loads the stage's base: scratch, an earlier stage or an image.
func (st *stageState) from(ctx context.Context) error {
	bl, s := st.bl, st.s
	if s.st.Platform != "" {
		p, err := bl.expandGlobal(s.st.Platform)
		if err != nil {
			return invalidf("FROM --platform=%s: %v", s.st.Platform, err)
		}
		if err := bl.plat.check(p); err != nil {
			return fmt.Errorf("FROM --platform=%s: %w", p, err)
		}
	}
	var base Image
	var err error
	switch {
	case s.baseStage != nil:
		base, err = s.baseStage.wait(ctx)
	case strings.EqualFold(s.base, "scratch"):
		base = Image{}
		base.Config.Config.Env = []string{"PATH=" + defaultPath}
		st.dirty = true
	default:
		base, err = bl.pull(ctx, s.base)
	}
	if err != nil {
		return err
	}
	st.cur = base
	st.cfg = copyConfig(base.Config.Config)
	if base.ID == "" && len(st.cfg.Env) == 0 {
		st.cfg.Env = []string{"PATH=" + defaultPath}
	}
	return nil
}

// copyConfig deep-copies a config so stages sharing a base never share its maps and slices.
func copyConfig(c v1.Config) v1.Config {
	b, err := json.Marshal(c)
	if err != nil {
		return c
	}
	var out v1.Config
	if err := json.Unmarshal(b, &out); err != nil {
		return c
	}
	return out
}

// expand is the stage's word expander: args in scope shadowed by ENV.
func (st *stageState) expand() instructions.SingleWordExpander {
	return expander(st.bl.df.escape, st.scope.kv(), st.cfg.Env)
}

// shell is SHELL, or /bin/sh -c.
func (st *stageState) shell() []string {
	if len(st.cfg.Shell) > 0 {
		return st.cfg.Shell
	}
	return defaultShell
}

// configStep records a config-only instruction: its history entry waits for the next commit.
func (st *stageState) configStep(createdBy string) {
	st.pending = append(st.pending, v1.History{
		Created:    v1.Time{Time: st.bl.now()},
		CreatedBy:  createdBy,
		EmptyLayer: true,
	})
	st.dirty = true
}

// layerStep looks key up in the cache and, on a miss, produces the image with do and records
// it. entry is the history entry of the new layer (nil for a config-only commit).
func (st *stageState) layerStep(ctx context.Context, key string, entry *v1.History, do func(CommitOptions) (Image, error)) error {
	bl := st.bl
	if !bl.o.NoCache {
		img, ok, err := bl.be.CacheGet(ctx, key)
		if err != nil {
			return fmt.Errorf("look up build cache: %w", err)
		}
		if ok {
			bl.prog.linef(st.s.name, "--> Using cache %s", strings.TrimPrefix(img.ID, "sha256:"))
			st.advance(img)
			return nil
		}
	}
	now := bl.now()
	co := CommitOptions{
		Config:  copyConfig(st.cfg),
		History: append([]v1.History(nil), st.pending...),
		Created: now,
		Epoch:   bl.o.Timestamp,
	}
	if entry != nil {
		e := *entry
		e.Created = v1.Time{Time: now}
		co.History = append(co.History, e)
	}
	img, err := do(co)
	if err != nil {
		return err
	}
	if err := bl.be.CachePut(ctx, key, img); err != nil {
		return fmt.Errorf("record build cache: %w", err)
	}
	bl.prog.linef(st.s.name, "--> %s", shortID(img.ID))
	st.advance(img)
	return nil
}

func (st *stageState) advance(img Image) {
	st.cur = img
	st.pending = nil
	st.dirty = false
}

// dispatch runs one instruction.
func (st *stageState) dispatch(ctx context.Context, c instructions.Command) error {
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := c.(*instructions.RunCommand); !isRun {
			if err := e.Expand(st.expand()); err != nil {
				return invalidf("%s: %v", commandText(c), innerMessage(err))
			}
		}
	}
	if e, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		if err := e.ExpandRaw(rawExpander(st.bl.df.escape, st.scope.kv(), st.cfg.Env)); err != nil {
			return invalidf("%s: %v", commandText(c), innerMessage(err))
		}
	}
	switch c := c.(type) {
	case *instructions.EnvCommand:
		var parts []string
		for _, kv := range c.Env {
			st.cfg.Env = setEnv(st.cfg.Env, kv.Key, kv.Value)
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		st.configStep("ENV " + strings.Join(parts, " "))
	case *instructions.ArgCommand:
		// dispatch expanded c already, all pairs against the scope before it, as buildkit does
		if err := declare(st.scope, c, nil, st.bl.args, st.bl.global, st.bl.plat.predefined()); err != nil {
			return err
		}
	case *instructions.WorkdirCommand:
		st.cfg.WorkingDir = path.Clean(st.inWorkdir(c.Path))
		st.configStep("WORKDIR " + st.cfg.WorkingDir)
		st.wdPending = st.cfg.WorkingDir != "/"
	case *instructions.UserCommand:
		st.cfg.User = c.User
		st.configStep("USER " + c.User)
	case *instructions.ExposeCommand:
		ports, err := st.exposePorts(c.Ports)
		if err != nil {
			return err
		}
		if st.cfg.ExposedPorts == nil {
			st.cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			st.cfg.ExposedPorts[p] = struct{}{}
		}
		st.configStep("EXPOSE " + strings.Join(ports, " "))
	case *instructions.LabelCommand:
		if st.cfg.Labels == nil {
			st.cfg.Labels = map[string]string{}
		}
		var parts []string
		for _, kv := range c.Labels {
			st.cfg.Labels[kv.Key] = kv.Value
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		st.configStep("LABEL " + strings.Join(parts, " "))
	case *instructions.MaintainerCommand:
		if st.cfg.Labels == nil {
			st.cfg.Labels = map[string]string{}
		}
		st.cfg.Labels["maintainer"] = c.Maintainer
		st.configStep("MAINTAINER " + c.Maintainer)
	case *instructions.CmdCommand:
		st.cfg.Cmd = st.commandLine(c.ShellDependantCmdLine)
		st.cmdSet = true
		st.configStep("CMD " + jsonList(st.cfg.Cmd))
	case *instructions.EntrypointCommand:
		st.cfg.Entrypoint = st.commandLine(c.ShellDependantCmdLine)
		if !st.cmdSet {
			st.cfg.Cmd = nil
		}
		st.configStep("ENTRYPOINT " + jsonList(st.cfg.Entrypoint))
	case *instructions.VolumeCommand:
		if st.cfg.Volumes == nil {
			st.cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if strings.TrimSpace(v) == "" {
				return invalidf("VOLUME specified can not be an empty string")
			}
			st.cfg.Volumes[v] = struct{}{}
		}
		st.configStep("VOLUME " + jsonList(c.Volumes))
	case *instructions.HealthCheckCommand:
		h := c.Health
		st.cfg.Healthcheck = &v1.HealthConfig{
			Test:        append([]string(nil), h.Test...),
			Interval:    h.Interval,
			Timeout:     h.Timeout,
			StartPeriod: h.StartPeriod,
			Retries:     h.Retries,
		}
		st.configStep("HEALTHCHECK " + healthText(h.Test))
	case *instructions.StopSignalCommand:
		if err := validSignal(c.Signal); err != nil {
			return err
		}
		st.cfg.StopSignal = c.Signal
		st.configStep("STOPSIGNAL " + c.Signal)
	case *instructions.ShellCommand:
		st.cfg.Shell = append([]string(nil), c.Shell...)
		st.configStep("SHELL " + jsonList(c.Shell))
	case *instructions.OnbuildCommand:
		st.cfg.OnBuild = append(st.cfg.OnBuild, c.Expression)
		st.configStep("ONBUILD " + c.Expression)
	case *instructions.RunCommand:
		return st.run(ctx, c)
	case *instructions.CopyCommand:
		return st.copy(ctx, copyRequest{
			name: "COPY", text: commandText(c), srcs: c.SourcePaths, contents: c.SourceContents,
			dest: c.DestPath, from: c.From, chown: c.Chown, chmod: c.Chmod,
		})
	case *instructions.AddCommand:
		if c.KeepGitDir {
			return invalidf("ADD --keep-git-dir is not supported")
		}
		return st.copy(ctx, copyRequest{
			name: "ADD", text: commandText(c), srcs: c.SourcePaths, contents: c.SourceContents,
			dest: c.DestPath, chown: c.Chown, chmod: c.Chmod, add: true, checksum: c.Checksum,
		})
	default:
		return invalidf("%s: instruction not supported", c.Name())
	}
	return nil
}

// commandLine is a CMD or ENTRYPOINT's argv: the exec form as written, the shell form
// wrapped in SHELL.
func (st *stageState) commandLine(c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell {
		if len(c.CmdLine) == 0 {
			return nil
		}
		return append(append([]string(nil), st.shell()...), strings.Join(c.CmdLine, " "))
	}
	return append([]string{}, c.CmdLine...)
}

// exposePorts expands and normalizes EXPOSE values: "80" is "80/tcp", ranges are spelled out.
func (st *stageState) exposePorts(in []string) ([]string, error) {
	exp := st.expand()
	var out []string
	for _, raw := range in {
		v, err := exp(raw)
		if err != nil {
			return nil, invalidf("EXPOSE %s: %v", raw, err)
		}
		for _, p := range strings.Fields(v) {
			port, proto, _ := strings.Cut(p, "/")
			if proto == "" {
				proto = "tcp"
			}
			proto = strings.ToLower(proto)
			if proto != "tcp" && proto != "udp" && proto != "sctp" {
				return nil, invalidf("EXPOSE %s: invalid protocol %q", p, proto)
			}
			lo, hi, isRange := strings.Cut(port, "-")
			a, err := strconv.ParseUint(lo, 10, 16)
			if err != nil || a == 0 {
				return nil, invalidf("EXPOSE %s: invalid port %q", p, lo)
			}
			b := a
			if isRange {
				if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
					return nil, invalidf("EXPOSE %s: invalid port range %q", p, port)
				}
			}
			for n := a; n <= b; n++ {
				out = append(out, fmt.Sprintf("%d/%s", n, proto))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// validSignal accepts a signal number or a name (with or without SIG).
func validSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return invalidf("STOPSIGNAL: invalid signal %q", s)
		}
		return nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if name == "" || strings.ContainsAny(name, " \t") {
		return invalidf("STOPSIGNAL: invalid signal %q", s)
	}
	for _, r := range name {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-') {
			return invalidf("STOPSIGNAL: invalid signal %q", s)
		}
	}
	return nil
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func healthText(test []string) string {
	if len(test) == 1 && test[0] == "NONE" {
		return "NONE"
	}
	return jsonList(test)
}

// inWorkdir resolves p, a path in the image, against the current WORKDIR, as Docker does
// for COPY destinations, RUN mount targets and relative WORKDIRs; an unset WORKDIR is "/".
func (st *stageState) inWorkdir(p string) string {
	if path.IsAbs(p) {
		return p
	}
	wd := st.cfg.WorkingDir
	if wd == "" {
		wd = "/"
	}
	return path.Join(wd, p)
}

// commitWorkdir ends a stage whose last WORKDIR no layer created: the config commit carries
// a layer holding that directory, and the WORKDIR history entry becomes its layer's entry.
func (st *stageState) commitWorkdir(ctx context.Context, co CommitOptions) (Image, error) {
	bl := st.bl
	wd := st.cfg.WorkingDir
	w := &layerWriter{made: map[string]bool{}, now: bl.now(), workdir: wd}
	if st.cur.ID != "" {
		dir, release, err := bl.be.Mount(ctx, st.cur)
		if err != nil {
			return Image{}, fmt.Errorf("WORKDIR %s: mount parent image: %w", wd, err)
		}
		defer release()
		w.parentRoot = dir
		if w.workdir, err = resolveInRoot(dir, wd, true); err != nil {
			return Image{}, fmt.Errorf("WORKDIR %s: %w", wd, err)
		}
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(w.workdir))); err == nil && fi.IsDir() {
			// it exists already: nothing to add
			return bl.be.Commit(ctx, st.cur, nil, co)
		}
	}
	for i := len(co.History) - 1; i >= 0; i-- {
		if strings.HasPrefix(co.History[i].CreatedBy, "WORKDIR ") {
			co.History[i].EmptyLayer = false
			break
		}
	}
	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		w.tw = tar.NewWriter(pw)
		err := w.workdirEntry()
		if err == nil {
			err = w.tw.Close()
		}
		pw.CloseWithError(err)
		werr <- err
	}()
	img, err := bl.be.Commit(ctx, st.cur, pr, co)
	pr.CloseWithError(errors.New("commit finished"))
	if e := <-werr; e != nil {
		return Image{}, fmt.Errorf("WORKDIR %s: %w", wd, e)
	}
	if err != nil {
		return Image{}, fmt.Errorf("WORKDIR %s: commit: %w", wd, err)
	}
	return img, nil
}
