package build

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sync/errgroup"

	"github.com/berth-project/berth/internal/errdefs"
)

// stageRun is one stage of the graph and, once run, its result. done closes when img or
// err is set; every stage runs at most once per build however many others use it.
type stageRun struct {
	idx       int
	st        *instructions.Stage
	name      string // the stage's name, or its index when it has none
	base      string // the FROM reference after expansion
	baseStage *stageRun
	deps      []*stageRun
	needed    bool

	done chan struct{}
	img  Image
	err  error
}

// graph builds the stages, their dependencies (FROM <stage>, COPY --from, RUN --mount
// from=) and marks the ones the target needs. It returns the target.
func (bl *builder) graph() (*stageRun, error) {
	for i := range bl.df.stages {
		st := &bl.df.stages[i]
		s := &stageRun{idx: i, st: st, name: st.Name, done: make(chan struct{})}
		if s.name == "" {
			s.name = strconv.Itoa(i)
		}
		base, err := bl.expandGlobal(st.BaseName)
		if err != nil {
			return nil, &ParseError{File: bl.df.name, Line: rangeLine(st.Location), Msg: innerMessage(err)}
		}
		if base == "" {
			return nil, &ParseError{File: bl.df.name, Line: rangeLine(st.Location), Msg: fmt.Sprintf("base name (%s) should not be blank", st.BaseName)}
		}
		s.base = base
		if dep := bl.stageNamed(base, i); dep != nil {
			s.baseStage = dep
			s.deps = append(s.deps, dep)
		}
		bl.stages = append(bl.stages, s)
		for _, c := range st.Commands {
			refs, line := fromRefs(c)
			for _, ref := range refs {
				ref, err := bl.expandGlobal(ref)
				if err != nil {
					return nil, &ParseError{File: bl.df.name, Line: line, Msg: innerMessage(err)}
				}
				dep, err := bl.fromStage(ref, i)
				if err != nil {
					return nil, &ParseError{File: bl.df.name, Line: line, Msg: err.Error()}
				}
				if dep != nil {
					s.deps = append(s.deps, dep)
				}
			}
		}
	}
	target := bl.stages[len(bl.stages)-1]
	if t := bl.o.Target; t != "" {
		target = nil
		for _, s := range bl.stages {
			if strings.EqualFold(s.st.Name, t) {
				target = s
			}
		}
		if target == nil {
			return nil, errdefs.Newf(errdefs.ErrNotFound, "target stage %q could not be found", t)
		}
	}
	var mark func(s *stageRun)
	mark = func(s *stageRun) {
		if s.needed {
			return
		}
		s.needed = true
		for _, d := range s.deps {
			mark(d)
		}
	}
	mark(target)
	n := 0
	for _, s := range bl.stages {
		if s.needed {
			n++
		}
	}
	bl.prog.prefix = n > 1
	return target, nil
}

// fromRefs lists the stage-or-image references a command reads from, and its line.
func fromRefs(c instructions.Command) ([]string, int) {
	line := rangeLine(c.Location())
	switch c := c.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			return []string{c.From}, line
		}
	case *instructions.RunCommand:
		var refs []string
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				refs = append(refs, m.From)
			}
		}
		return refs, line
	}
	return nil, line
}

// stageNamed returns the stage before index before named name (case-insensitively), or nil.
func (bl *builder) stageNamed(name string, before int) *stageRun {
	for _, s := range bl.stages[:before] {
		if s.st.Name != "" && strings.EqualFold(s.st.Name, name) {
			return s
		}
	}
	return nil
}

// fromStage resolves a --from value: an earlier stage's name or index, else nil for an image.
func (bl *builder) fromStage(ref string, cur int) (*stageRun, error) {
	if s := bl.stageNamed(ref, cur); s != nil {
		return s, nil
	}
	if n, err := strconv.Atoi(ref); err == nil {
		if n < 0 || n >= cur {
			return nil, fmt.Errorf("invalid from flag value %s: refers to current or future build stage", ref)
		}
		return bl.stages[n], nil
	}
	return nil, nil
}

// runStages runs every needed stage, each in its own goroutine; a stage waits for the stages
// it reads from. The first failure cancels the rest.
func (bl *builder) runStages(ctx context.Context, target *stageRun) (Image, error) {
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range bl.stages {
		if !s.needed {
			continue
		}
		s := s
		g.Go(func() error {
			img, err := bl.runStage(gctx, s, s == target)
			if err != nil && !isCanceled(err) {
				// recorded before done closes, so a stage waiting on this one never
				// reports its own "stage failed" in place of the cause
				bl.failOnce.Do(func() { bl.firstErr = err })
			}
			s.img, s.err = img, err
			close(s.done)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return Image{}, ctx.Err()
		}
		if bl.firstErr != nil {
			return Image{}, bl.firstErr
		}
		return Image{}, err
	}
	return target.img, nil
}

// wait returns a finished stage's image.
func (s *stageRun) wait(ctx context.Context) (Image, error) {
	select {
	case <-s.done:
		if s.err != nil {
			return Image{}, fmt.Errorf("stage %s failed: %w", s.name, s.err)
		}
		return s.img, nil
	case <-ctx.Done():
		return Image{}, ctx.Err()
	}
}

// resolveFrom returns the image a --from or mount from= names: an earlier stage's result
// (waiting for it) or an image pulled through the backend.
func (bl *builder) resolveFrom(ctx context.Context, ref string, cur int) (Image, error) {
	ref, err := bl.expandGlobal(ref)
	if err != nil {
		return Image{}, invalidf("--from %s: %v", ref, err)
	}
	s, err := bl.fromStage(ref, cur)
	if err != nil {
		return Image{}, invalidf("%v", err)
	}
	if s != nil {
		if !s.needed {
			// only an ONBUILD trigger names it, and the graph could not see that
			return Image{}, invalidf("--from=%s: stage %s is not built for this target", ref, s.name)
		}
		return s.wait(ctx)
	}
	if ref == "scratch" {
		return Image{}, nil
	}
	return bl.pull(ctx, ref)
}
