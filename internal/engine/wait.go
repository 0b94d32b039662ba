package engine

import (
	"context"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// WaitConditions are the states `wait --condition` takes (Podman's names).
var WaitConditions = []string{"configured", "created", "exited", "healthy", "initialized", "paused", "running", "stopped", "unhealthy"}

// WaitForCondition blocks until the container meets one of conditions and returns it then.
// exited and stopped both mean it has no processes after having been started or created.
func (e *Engine) WaitForCondition(ctx context.Context, ref string, conditions []string) (*Container, error) {
	for _, cond := range conditions {
		if !validCondition(cond) {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid condition %q: want one of configured, created, exited, healthy, initialized, paused, running, stopped or unhealthy", cond)
		}
	}
	c, err := e.Container(ctx, ref)
	for ; err == nil; c, err = e.Container(ctx, c.ID) {
		for _, cond := range conditions {
			if meets(c, cond) {
				return c, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil, err
}

func validCondition(cond string) bool {
	for _, c := range WaitConditions {
		if c == cond {
			return true
		}
	}
	return false
}

func meets(c *Container, cond string) bool {
	switch cond {
	case "configured", "created", "initialized":
		return c.State == StateCreated
	case "exited", "stopped":
		return c.State == StateExited
	case "running":
		return c.State == StateRunning
	case "paused":
		return c.State == StatePaused
	case "healthy", "unhealthy":
		return c.Health != nil && c.Health.Status == cond
	}
	return false
}
