package build

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth-project/berth/internal/errdefs"
)

// proxyArgs may be passed with --build-arg without an ARG: they reach RUN's environment but
// neither the history nor the cache key, as in Docker.
var proxyArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// platform is the host platform, the only one a build may target.
type platform struct {
	os, arch, variant string
}

func hostPlatform() platform {
	p := platform{os: "linux", arch: runtime.GOARCH}
	if p.arch == "arm" {
		p.variant = "v7"
	}
	return p
}

func (p platform) String() string {
	s := p.os + "/" + p.arch
	if p.variant != "" {
		s += "/" + p.variant
	}
	return s
}

// check accepts "os/arch[/variant]" naming the host (arch alone too) and refuses the rest.
func (p platform) check(spec string) error {
	if spec == "" {
		return nil
	}
	parts := strings.Split(strings.ToLower(spec), "/")
	ok := false
	switch len(parts) {
	case 1:
		ok = parts[0] == p.arch
	case 2:
		ok = parts[0] == p.os && parts[1] == p.arch
	case 3:
		ok = parts[0] == p.os && parts[1] == p.arch && (p.variant == "" || parts[2] == p.variant)
		if p.arch == "amd64" || p.arch == "arm64" {
			ok = ok && (parts[2] == "" || strings.HasPrefix(parts[2], "v"))
		}
	}
	if !ok {
		return errdefs.Newf(errdefs.ErrNotSupported, "platform %q is not supported: this host builds only %s", spec, p)
	}
	return nil
}

// predefined are the args every stage may declare without a value and the global scope
// sees without declaring them.
func (p platform) predefined() map[string]string {
	return map[string]string{
		"TARGETPLATFORM": p.String(), "TARGETOS": p.os, "TARGETARCH": p.arch, "TARGETVARIANT": p.variant,
		"BUILDPLATFORM": p.String(), "BUILDOS": p.os, "BUILDARCH": p.arch, "BUILDVARIANT": p.variant,
	}
}

// argTracker remembers which --build-arg values some ARG consumed, for the warning at the end.
type argTracker struct {
	mu   sync.Mutex
	args map[string]string
	used map[string]bool
}

func newArgTracker(args map[string]string) *argTracker {
	return &argTracker{args: args, used: map[string]bool{}}
}

// lookup returns the --build-arg value for name and marks it consumed.
func (t *argTracker) lookup(name string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.args[name]
	if ok {
		t.used[name] = true
	}
	return v, ok
}

// unused lists, sorted, the build args no ARG consumed (proxy args excepted).
func (t *argTracker) unused() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for k := range t.args {
		if !t.used[k] && !proxyArgs[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// argScope is an ordered set of declared ARGs with their values; nil value means declared
// without one (the variable stays unset).
type argScope struct {
	names  []string
	values map[string]*string
}

func newArgScope() *argScope { return &argScope{values: map[string]*string{}} }

func (s *argScope) set(name string, v *string) {
	if _, ok := s.values[name]; !ok {
		s.names = append(s.names, name)
	}
	s.values[name] = v
}

func (s *argScope) get(name string) (string, bool) {
	v, ok := s.values[name]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

// kv lists the args with a value as KEY=value, in declaration order.
func (s *argScope) kv() []string {
	var out []string
	for _, n := range s.names {
		if v := s.values[n]; v != nil {
			out = append(out, n+"="+*v)
		}
	}
	return out
}

func (s *argScope) clone() *argScope {
	c := newArgScope()
	for _, n := range s.names {
		c.set(n, s.values[n])
	}
	return c
}

// declare applies one ARG instruction to scope. expand expands a default with what is in
// scope so far (nil: the instruction is expanded already); global is the scope before the first FROM (nil while building it), whose
// values an undefaulted ARG in a stage inherits; predef are the platform args.
func declare(scope *argScope, c *instructions.ArgCommand, expand func(string) (string, error),
	t *argTracker, global *argScope, predef map[string]string) error {
	for _, a := range c.Args {
		var val *string
		if a.Value != nil {
			v := *a.Value
			if expand != nil {
				var err error
				if v, err = expand(v); err != nil {
					return errdefs.Newf(errdefs.ErrInvalid, "ARG %s: %v", a.Key, err)
				}
			}
			val = &v
		} else if global != nil {
			if v, ok := global.get(a.Key); ok {
				val = &v
			}
		}
		if v, ok := t.lookup(a.Key); ok {
			val = &v
		}
		if val == nil {
			if v, ok := predef[a.Key]; ok {
				val = &v
			}
		}
		scope.set(a.Key, val)
	}
	return nil
}

// envGetter is what buildkit's shell.Lex reads variables from: the image ENV, shadowing
// the args in scope, as Docker resolves them.
type envGetter struct {
	keys []string
	m    map[string]string
}

func (e *envGetter) Get(k string) (string, bool) { v, ok := e.m[k]; return v, ok }
func (e *envGetter) Keys() []string              { return e.keys }

func newEnvGetter(args []string, env []string) *envGetter {
	g := &envGetter{m: map[string]string{}}
	add := func(kv string) {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := g.m[k]; !ok {
			g.keys = append(g.keys, k)
		}
		g.m[k] = v
	}
	for _, kv := range args {
		add(kv)
	}
	for _, kv := range env {
		add(kv)
	}
	return g
}

// expander returns buildkit's single-word expander over env and args. A Lex is not safe
// for concurrent use, and stages expand concurrently, so each call makes its own.
func expander(escape rune, args, env []string) instructions.SingleWordExpander {
	g := newEnvGetter(args, env)
	return func(word string) (string, error) {
		out, _, err := shell.NewLex(escape).ProcessWord(word, g)
		if err != nil {
			return "", fmt.Errorf("expand %q: %w", word, err)
		}
		return out, nil
	}
}

// setEnv sets KEY=value in env, replacing an earlier value for KEY.
func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			out := append([]string(nil), env...)
			out[i] = k + "=" + v
			return out
		}
	}
	return append(append([]string(nil), env...), k+"="+v)
}

// runEnv is the environment of a RUN step: the image's ENV plus the args in scope that
// ENV does not shadow, plus proxy build args.
func runEnv(env []string, scope *argScope, t *argTracker) []string {
	out := append([]string(nil), env...)
	have := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		have[k] = true
	}
	for _, kv := range scope.kv() {
		k, _, _ := strings.Cut(kv, "=")
		if !have[k] {
			out = append(out, kv)
			have[k] = true
		}
	}
	for k := range proxyArgs {
		if have[k] {
			continue
		}
		if v, ok := t.lookup(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// visibleArgs are the args in scope that ENV does not shadow, as KEY=value: what a RUN step
// can see, and so what its cache key and history include.
func visibleArgs(env []string, scope *argScope) []string {
	have := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		have[k] = true
	}
	var out []string
	for _, kv := range scope.kv() {
		k, _, _ := strings.Cut(kv, "=")
		if !have[k] {
			out = append(out, kv)
		}
	}
	return out
}

// rawExpander expands heredoc contents whose delimiter is unquoted, as buildkit does: quotes
// are kept as written.
func rawExpander(escape rune, args, env []string) instructions.SingleWordExpander {
	g := newEnvGetter(args, env)
	return func(word string) (string, error) {
		lex := shell.NewLex(escape)
		lex.SkipProcessQuotes = true
		out, _, err := lex.ProcessWord(word, g)
		if err != nil {
			return "", fmt.Errorf("expand heredoc: %w", err)
		}
		return out, nil
	}
}
