package build

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/moby/patternmatcher"

	"github.com/berth-project/berth/internal/errdefs"
)

// builder is one Build call: the parsed Dockerfile, the stage graph and what the stages share.
type builder struct {
	be     Backend
	o      *Options
	df     *dockerfile
	prog   *progress
	plat   platform
	args   *argTracker
	global *argScope                      // ARGs before the first FROM, plus the predefined ones
	ignore *patternmatcher.PatternMatcher // nil: nothing ignored
	stages []*stageRun

	failOnce sync.Once
	firstErr error

	pullMu sync.Mutex
	pulls  map[string]*pullCall
}

// pullCall makes each image reference resolve once per build, however many stages use it.
type pullCall struct {
	done chan struct{}
	img  Image
	err  error
}

// Build turns o.Dockerfile and o.ContextDir into an image through b: it parses the file,
// builds only the stages the target needs, running independent stages concurrently, and
// tags the result with o.Tags once everything succeeded. Progress goes to o.Out, with the
// image ID as the last line.
func Build(ctx context.Context, b Backend, o *Options) (Image, error) {
	if o == nil {
		o = &Options{}
	}
	df, err := parseDockerfile(o.DockerfileName, o.Dockerfile)
	if err != nil {
		return Image{}, err
	}
	bl := &builder{
		be:    b,
		o:     o,
		df:    df,
		prog:  newProgress(o.Out, o.Quiet),
		plat:  hostPlatform(),
		args:  newArgTracker(o.BuildArgs),
		pulls: map[string]*pullCall{},
	}
	if err := bl.plat.check(o.Platform); err != nil {
		return Image{}, fmt.Errorf("--platform: %w", err)
	}
	if o.ContextDir != "" {
		if bl.ignore, err = loadIgnore(o.ContextDir); err != nil {
			return Image{}, err
		}
	}
	if err := bl.globalArgs(); err != nil {
		return Image{}, err
	}
	target, err := bl.graph()
	if err != nil {
		return Image{}, err
	}
	for _, w := range df.warnings {
		bl.prog.linef("", "[Warning] %s", w)
	}
	img, err := bl.runStages(ctx, target)
	if err != nil {
		return Image{}, err
	}
	if unused := bl.args.unused(); len(unused) > 0 {
		bl.prog.linef("", "[Warning] One or more build-args [%s] were not consumed", strings.Join(unused, " "))
	}
	if len(o.Tags) > 0 {
		bl.prog.linef("", "COMMIT %s", o.Tags[0])
	} else {
		bl.prog.linef("", "COMMIT")
	}
	bl.prog.linef("", "--> %s", shortID(img.ID))
	if err := ctx.Err(); err != nil {
		return Image{}, err
	}
	if len(o.Tags) > 0 {
		if err := b.Tag(ctx, img, o.Tags); err != nil {
			return Image{}, fmt.Errorf("tag %s: %w", strings.Join(o.Tags, ", "), err)
		}
		for _, t := range o.Tags {
			bl.prog.linef("", "Successfully tagged %s", t)
		}
	}
	bl.prog.result(img.ID)
	return img, nil
}

// globalArgs evaluates the ARGs before the first FROM; FROM lines and --from values expand
// with them and with the predefined platform args.
func (bl *builder) globalArgs() error {
	bl.global = newArgScope()
	predef := bl.plat.predefined()
	for _, c := range bl.df.metaArgs {
		c := c
		exp := expander(bl.df.escape, bl.fromEnv(), nil)
		if err := declare(bl.global, &c, exp, bl.args, nil, predef); err != nil {
			return &ParseError{File: bl.df.name, Line: rangeLine(c.Location()), Msg: innerMessage(err)}
		}
	}
	return nil
}

// fromEnv is what FROM, --platform and --from see: predefined args, then global ARGs.
func (bl *builder) fromEnv() []string {
	var env []string
	for _, k := range []string{"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"} {
		env = append(env, k+"="+bl.plat.predefined()[k])
	}
	return append(env, bl.global.kv()...)
}

// expandGlobal expands a FROM-scope word.
func (bl *builder) expandGlobal(word string) (string, error) {
	return expander(bl.df.escape, bl.fromEnv(), nil)(word)
}

// now is the time every new history entry and image gets.
func (bl *builder) now() time.Time {
	if bl.o.Timestamp != nil {
		return bl.o.Timestamp.UTC()
	}
	return time.Now().UTC()
}

// pull resolves an image reference once per build.
func (bl *builder) pull(ctx context.Context, ref string) (Image, error) {
	bl.pullMu.Lock()
	c, ok := bl.pulls[ref]
	if !ok {
		c = &pullCall{done: make(chan struct{})}
		bl.pulls[ref] = c
		bl.pullMu.Unlock()
		c.img, c.err = bl.be.Pull(ctx, ref, bl.o.Pull)
		if c.err != nil {
			c.err = fmt.Errorf("pull %s: %w", ref, c.err)
		}
		close(c.done)
	} else {
		bl.pullMu.Unlock()
	}
	select {
	case <-c.done:
		return c.img, c.err
	case <-ctx.Done():
		return Image{}, ctx.Err()
	}
}

// invalidf is a one-line input error.
func invalidf(format string, args ...any) error {
	return errdefs.Newf(errdefs.ErrInvalid, format, args...)
}

// isCanceled reports whether err only says the build was cancelled.
func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
