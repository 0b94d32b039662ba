// Package cli holds what every berth command shares: the global options, the engine they
// build, and helpers for multi-target commands and flag errors.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/berth-project/berth/internal/config"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/paths"
)

// Globals are the root command's persistent flags.
type Globals struct {
	Root, RunRoot, StorageDriver, LogLevel, Config, Runtime string

	podman podmanGlobals

	engine *engine.Engine
}

type globalsKey struct{}

// AddFlags binds the global flags to g on the root command.
func (g *Globals) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.Root, "root", "", "Persistent storage root (images, layers, database)")
	fs.StringVar(&g.RunRoot, "runroot", "", "Runtime state root (locks, container state)")
	fs.StringVar(&g.StorageDriver, "storage-driver", "", "Storage driver: overlay or vfs")
	fs.StringVar(&g.LogLevel, "log-level", "", "Log level: debug, info, warn, error")
	fs.StringVar(&g.Config, "config", "", "Config file to read instead of the system and user files")
	fs.StringVar(&g.Runtime, "runtime", "", "OCI runtime: berth's own by default, or runc/crun by name or path")
	g.podman.add(fs)
}

// WithGlobals stores g in ctx for Engine to find.
func WithGlobals(ctx context.Context, g *Globals) context.Context {
	return context.WithValue(ctx, globalsKey{}, g)
}

// Setup loads the configuration and sets the log level; the root command runs it once.
func (g *Globals) Setup(fs *pflag.FlagSet) error {
	explicit := g.Config
	if explicit == "" {
		explicit = os.Getenv("BERTH_CONFIG")
	}
	cfg, err := config.Load(paths.FromOS(), explicit, os.Getenv)
	if err != nil {
		return err
	}
	set := func(name string, dst *string, v string) {
		if fs.Changed(name) {
			*dst = v
		}
	}
	set("root", &cfg.Root, g.Root)
	set("runroot", &cfg.RunRoot, g.RunRoot)
	set("storage-driver", &cfg.StorageDriver, g.StorageDriver)
	set("log-level", &cfg.LogLevel, g.LogLevel)
	set("runtime", &cfg.Runtime, g.Runtime)
	if err := g.podman.apply(fs); err != nil {
		return err
	}
	lvl, err := logrus.ParseLevel(cfg.LogLevel)
	if err != nil {
		return errdefs.Newf(errdefs.ErrUsage, "invalid --log-level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	logrus.SetLevel(lvl)
	g.engine = engine.New(cfg)
	return nil
}

// Close releases the engine, if one was made.
func (g *Globals) Close() error {
	if g.engine == nil {
		return nil
	}
	return g.engine.Close()
}

// Engine returns the engine of the command's root.
func Engine(cmd *cobra.Command) *engine.Engine {
	g, _ := cmd.Context().Value(globalsKey{}).(*Globals)
	if g == nil || g.engine == nil {
		panic("cli.Engine called before root setup")
	}
	return g.engine
}

// ErrSkip, returned by an EachTarget function, passes over a target silently.
var ErrSkip = errors.New("skip target")

// EachTarget runs fn for every target, printing each success (fn's returned text, or the
// target itself) and reporting each failure; it fails if any target failed, with an error
// that carries every failure's kind for the exit status.
func EachTarget(cmd *cobra.Command, targets []string, fn func(ctx context.Context, e *engine.Engine, target string) (string, error)) error {
	e := Engine(cmd)
	var failed []error
	for _, t := range targets {
		out, err := fn(cmd.Context(), e, t)
		if errors.Is(err, ErrSkip) {
			continue
		}
		if err != nil {
			if len(failed) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "Error: %v\n", failed[len(failed)-1])
			}
			failed = append(failed, err)
			continue
		}
		if out == "" {
			out = t
		}
		fmt.Fprintln(cmd.OutOrStdout(), out)
	}
	if len(failed) == 0 {
		return nil
	}
	return &errdefs.Multi{Errs: failed}
}

// IgnoreMissing makes fn succeed silently for a target that does not exist when force is
// set, as `rm -f`, `rmi -f` and `volume rm -f` of an absent object do in Docker: nothing is
// printed for it.
func IgnoreMissing(force bool, fn func(ctx context.Context, e *engine.Engine, target string) (string, error)) func(ctx context.Context, e *engine.Engine, target string) (string, error) {
	return func(ctx context.Context, e *engine.Engine, target string) (string, error) {
		out, err := fn(ctx, e, target)
		if force && errors.Is(err, errdefs.ErrNotFound) {
			return "", ErrSkip
		}
		return out, err
	}
}

// exitClassKey is the annotation ExitClass reads.
const exitClassKey = "berth.exit-class"

// SetExitClass marks cmd as run/create (errdefs.ClassRun) or start (errdefs.ClassStart) for
// the exit-code table.
func SetExitClass(cmd *cobra.Command, c errdefs.Class) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[exitClassKey] = strconv.Itoa(int(c))
	return cmd
}

// ExitClass says how cmd's failures map to exit statuses (nil: any other command).
func ExitClass(cmd *cobra.Command) errdefs.Class {
	if cmd == nil {
		return errdefs.ClassOther
	}
	n, err := strconv.Atoi(cmd.Annotations[exitClassKey])
	if err != nil {
		return errdefs.ClassOther
	}
	return errdefs.Class(n)
}

// FlagError wraps a flag parsing error the Docker way, pointing at the command's help.
func FlagError(cmd *cobra.Command, err error) error {
	return errdefs.Newf(errdefs.ErrUsage, "%v\nSee '%s --help'", err, cmd.CommandPath())
}

// Invalid returns an ErrInvalid error for a bad flag value.
func Invalid(format string, args ...any) error {
	return errdefs.Newf(errdefs.ErrInvalid, format, args...)
}

// ExactArgs is cobra.ExactArgs with Docker's wording.
func ExactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return argsError(cmd, fmt.Sprintf("exactly %d argument%s", n, plural(n)))
		}
		return nil
	}
}

// MinimumArgs is cobra.MinimumNArgs with Docker's wording.
func MinimumArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return argsError(cmd, fmt.Sprintf("at least %d argument%s", n, plural(n)))
		}
		return nil
	}
}

// RangeArgs is cobra.RangeArgs with Docker's wording.
func RangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return argsError(cmd, fmt.Sprintf("between %d and %d arguments", lo, hi))
		}
		return nil
	}
}

func argsError(cmd *cobra.Command, want string) error {
	return errdefs.Newf(errdefs.ErrArgs, "%q requires %s\nSee '%s --help'", cmd.CommandPath(), want, cmd.CommandPath())
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// WriteArchive sends what write produces to output, or to stdout when output is empty (never
// to a terminal). A file is written beside its target and renamed, so a failure never leaves
// a partial archive.
func WriteArchive(cmd *cobra.Command, output string, write func(io.Writer) error) error {
	if output == "" {
		if f, ok := cmd.OutOrStdout().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return Invalid("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
		return write(cmd.OutOrStdout())
	}
	tmp, err := os.CreateTemp(filepath.Dir(output), ".berth-out-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", output, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", output, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), output)
}

// KeyValues parses repeated KEY=VALUE flag values (--label, --opt) into a map. A bare KEY
// means an empty value unless needValue is set; an empty KEY is always an error.
func KeyValues(flag string, kvs []string, needValue bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" || (!ok && needValue) {
			return nil, Invalid("invalid --%s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

// PullMissing runs `berth pull` for ref, its progress on stderr, unless the image is stored.
func PullMissing(cmd *cobra.Command, ref string) error {
	store, err := Engine(cmd).Images(cmd.Context())
	if err != nil {
		return err
	}
	if _, err := store.Lookup(cmd.Context(), ref); !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	return Pull(cmd, ref)
}

// Pull runs `berth pull` for ref, its progress on stderr.
func Pull(cmd *cobra.Command, ref string) error {
	pull, _, err := cmd.Root().Find([]string{"pull"})
	if err != nil || pull.RunE == nil {
		return errdefs.Newf(errdefs.ErrNotFound, "image %s not found", ref)
	}
	pull.SetContext(cmd.Context())
	pull.SetOut(cmd.ErrOrStderr())
	pull.SetErr(cmd.ErrOrStderr())
	return pull.RunE(pull, []string{ref})
}

// ParseTime parses a --since/--until value: an RFC 3339 time, a Unix timestamp or a duration before now.
func ParseTime(s, flag string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(secs*1e9)), nil
	}
	return time.Time{}, Invalid("invalid --%s %q: want a timestamp or a duration like 10m", flag, s)
}

// MeasureReclaimed notes what the root holds now; the function it returns tells how many bytes
// went since, for a prune's "Total reclaimed space" (0 when usage cannot be measured).
func MeasureReclaimed(cmd *cobra.Command) func() int64 {
	e, ctx := Engine(cmd), cmd.Context()
	before, err := e.DiskUsage(ctx)
	return func() int64 {
		if err != nil {
			return 0
		}
		after, err := e.DiskUsage(ctx)
		if err != nil || after.Total() > before.Total() {
			return 0
		}
		return before.Total() - after.Total()
	}
}

// PrintPruned prints what a prune removed under header (a blank line after), even when it then
// failed part way, so the user learns what is gone; Docker's total follows a prune that
// finished, when reclaimed is given.
func PrintPruned(w io.Writer, header string, lines []string, err error, reclaimed func() int64) error {
	if len(lines) > 0 {
		fmt.Fprintf(w, "%s\n%s\n\n", header, strings.Join(lines, "\n"))
	}
	if err != nil {
		return err
	}
	if reclaimed != nil {
		fmt.Fprintf(w, "Total reclaimed space: %s\n", units.HumanSizeWithPrecision(float64(reclaimed()), 3))
	}
	return nil
}

// InspectEach looks up every name with fn and prints what it found through the inspect
// format; each name not found is reported and the command fails, as Docker's inspect does.
func InspectEach(cmd *cobra.Command, names []string, tmpl string, fn func(ctx context.Context, e *engine.Engine, name string) (any, error)) error {
	e := Engine(cmd)
	var objs []any
	var failed []error
	for _, n := range names {
		o, err := fn(cmd.Context(), e, n)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		objs = append(objs, o)
	}
	if err := format.Inspect(cmd.OutOrStdout(), tmpl, objs); err != nil {
		return err
	}
	if len(failed) == 0 {
		return nil
	}
	for _, err := range failed[:len(failed)-1] {
		fmt.Fprintf(cmd.ErrOrStderr(), "Error: %v\n", err)
	}
	return &errdefs.Multi{Errs: failed}
}

// UnitGlobalArgs are the --root and --runroot a systemd unit must pass to reach this engine's
// storage: those that are not the defaults.
func UnitGlobalArgs(e *engine.Engine) []string {
	d := paths.For(paths.FromOS())
	var args []string
	if e.Config.Root != d.Root {
		args = append(args, "--root", e.Config.Root)
	}
	if e.Config.RunRoot != d.RunRoot {
		args = append(args, "--runroot", e.Config.RunRoot)
	}
	return args
}

// Group is a command that only groups others (`berth pod`, `berth network`): without a
// subcommand it prints its help.
func Group(use, short string, cmds ...*cobra.Command) *cobra.Command {
	group := &cobra.Command{Use: use, Short: short, Args: ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	group.AddCommand(cmds...)
	return group
}

// FilterAny reports whether fn holds for one of the values of key in filters (--filter
// KEY=VALUE, values of one key OR); a key not given passes.
func FilterAny(filters map[string][]string, key string, fn func(v string) bool) bool {
	vs, ok := filters[key]
	if !ok {
		return true
	}
	for _, v := range vs {
		if fn(v) {
			return true
		}
	}
	return false
}

// ExistsResult is what an `exists` command returns after looking its object up with err:
// exit 1, printing nothing, when it is not there, else err.
func ExistsResult(err error) error {
	if errors.Is(err, errdefs.ErrNotFound) {
		return &errdefs.ExitError{Code: 1}
	}
	return err
}

// LogWindow is the --tail, --since and --until of the logs commands.
type LogWindow struct{ tail, since, until string }

// AddFlags binds the window's flags; tailShort is --tail's shorthand ("" for none).
func (w *LogWindow) AddFlags(fl *pflag.FlagSet, tailShort, tailUsage string) {
	fl.StringVarP(&w.tail, "tail", tailShort, "all", tailUsage)
	fl.StringVar(&w.since, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	fl.StringVar(&w.until, "until", "", "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
}

// Apply sets o's Tail (a negative number, like all, keeps every line), Since and Until.
func (w LogWindow) Apply(o *engine.LogOptions) error {
	o.Tail = -1
	if w.tail != "all" && w.tail != "" {
		n, err := strconv.Atoi(w.tail)
		if err != nil {
			return Invalid("invalid --tail %q: want a number or all", w.tail)
		}
		o.Tail = n
	}
	var err error
	if o.Since, err = ParseTime(w.since, "since"); err != nil {
		return err
	}
	o.Until, err = ParseTime(w.until, "until")
	return err
}
