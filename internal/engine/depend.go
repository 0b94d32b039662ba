package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Dependents returns the containers that depend on c (share its namespaces), directly. Only
// records that mention c's id are decoded: removing a container must not read every other.
func (e *Engine) Dependents(ctx context.Context, c *Container) ([]*Container, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Container
	err = db.Containers().Mentioning(ctx, c.ID, func(data []byte) error {
		var other Container
		if err := json.Unmarshal(data, &other); err != nil {
			return fmt.Errorf("decode container record: %w", err)
		}
		for _, id := range other.dependsOn() {
			if id == c.ID {
				out = append(out, &other)
				break
			}
		}
		return nil
	})
	return out, err
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
