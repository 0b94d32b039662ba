package engine

import (
	"context"
	"errors"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// dependsOn lists the ids of the containers c needs: those whose network or pid namespace
// it joins and those it --requires.
func (c *Container) dependsOn() []string {
	var out []string
	for _, mode := range []string{c.Options.Network, c.Options.PidMode} {
		if id, ok := strings.CutPrefix(mode, "container:"); ok {
			out = append(out, id)
		}
	}
	return append(out, c.Options.Requires...)
}

// Dependents returns the containers that depend on c (share its namespaces), directly.
func (e *Engine) Dependents(ctx context.Context, c *Container) ([]*Container, error) {
	all, err := e.containerRecords(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, other := range all {
		for _, id := range other.dependsOn() {
			if id == c.ID {
				out = append(out, other)
				break
			}
		}
	}
	return out, nil
}

// removeDependents removes c's dependents first with o.Depend, else refuses while it has any.
func (e *Engine) removeDependents(ctx context.Context, c *Container, o RemoveOptions) error {
	deps, err := e.Dependents(ctx, c)
	if err != nil || len(deps) == 0 {
		return err
	}
	if !o.Depend {
		ids := make([]string, len(deps))
		for i, d := range deps {
			ids[i] = d.ID
		}
		return errdefs.Newf(errdefs.ErrInUse, "container %s has dependent containers which must be removed before it: %s", c.ID, strings.Join(ids, ", "))
	}
	for _, d := range deps {
		if err := e.RemoveContainer(ctx, d.ID, o); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return err
		}
	}
	return nil
}
