package engine

import (
	"fmt"
	"time"

	units "github.com/docker/go-units"
)

// Status is the container's state as ps and Docker's API show it: "Up 2 minutes",
// "Exited (0) 3 seconds ago".
func (c *Container) Status() string {
	switch c.State {
	case StateRunning, StatePaused:
		s := "Up " + units.HumanDuration(time.Since(c.StartedAt))
		if c.State == StatePaused {
			s += " (Paused)"
		}
		if c.Health != nil {
			s += " (" + c.Health.Status + ")"
		}
		return s
	case StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", c.ExitCode, units.HumanDuration(time.Since(c.StartedAt)))
	case StateExited:
		return fmt.Sprintf("Exited (%d) %s ago", c.ExitCode, units.HumanDuration(time.Since(c.FinishedAt)))
	}
	return "Created"
}
