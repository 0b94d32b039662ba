// Package autoupdate is `berth auto-update`: containers labelled io.containers.autoupdate
// (registry or local) that run under a systemd unit are moved to the newest image of their
// reference by restarting that unit, and moved back when the new one fails to come up.
//
// It needs units that create their container at start from the image reference (made by
// `generate systemd --new` or a Quadlet file), which name themselves to the container in its
// BERTH_SYSTEMD_UNIT label. It never edits a container in place.
package autoupdate

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/systemd"
)

// Label is the policy label, as podman's.
const Label = "io.containers.autoupdate"

// Options tune Run.
type Options struct {
	DryRun   bool // report what would be updated ("pending"), change nothing
	Rollback bool // restore the previous image when the unit does not come up with the new one
	// Systemctl runs systemctl with args (--user added for rootless); nil runs the binary.
	Systemctl func(ctx context.Context, args ...string) error
	User      bool
}

// Report is one container's outcome, a row of the command's table.
type Report struct {
	Unit, Container, ContainerName, ContainerID, Image, Policy, Updated string
}

// Outcomes in Report.Updated.
const (
	Updated    = "true"
	NotUpdated = "false"
	Pending    = "pending"
	RolledBack = "rolled back"
	Failed     = "failed"
)

func (o *Options) systemctl(ctx context.Context, args ...string) error {
	if o.User {
		args = append([]string{"--user"}, args...)
	}
	if o.Systemctl != nil {
		return o.Systemctl(ctx, args...)
	}
	out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("systemctl %s: %s", strings.Join(args, " "), msg)
	}
	return nil
}

// Run checks every running container with an auto-update policy and updates those whose
// image has a newer version. Each container gets a report; the error joins every failure.
func Run(ctx context.Context, e *engine.Engine, o Options) ([]Report, error) {
	cs, err := e.Containers(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	var reports []Report
	var errs []error
	for _, c := range cs {
		policy, ok := c.Options.Labels[Label]
		if !ok || !c.Active() {
			continue
		}
		r := Report{Unit: c.Options.Labels[systemd.UnitEnv], ContainerID: c.ID, ContainerName: c.Name,
			Container: fmt.Sprintf("%s (%s)", c.ID[:12], c.Name), Image: c.Options.Image, Policy: policy, Updated: Failed}
		err := update(ctx, e, c, &o, &r)
		if err != nil {
			errs = append(errs, fmt.Errorf("auto-update container %s: %w", c.Name, err))
		}
		reports = append(reports, r)
	}
	return reports, errors.Join(errs...)
}

// update handles one container, setting r.Updated.
func update(ctx context.Context, e *engine.Engine, c *engine.Container, o *Options, r *Report) error {
	if r.Policy != "registry" && r.Policy != "local" {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid auto-update policy %q: want registry or local", r.Policy)
	}
	if r.Unit == "" {
		return errdefs.Newf(errdefs.ErrInvalid, "no systemd unit runs it (no %s label): run it from a unit of `generate systemd --new` or a Quadlet file", systemd.UnitEnv)
	}
	store, err := e.Images(ctx)
	if err != nil {
		return err
	}
	newID := ""
	switch {
	case r.Policy == "registry" && o.DryRun:
		newID, err = store.RemoteID(ctx, r.Image, nil)
	case r.Policy == "registry":
		img, perr := store.Pull(ctx, r.Image, nil)
		if perr == nil {
			newID = img.ID
		}
		err = perr
	default:
		img, lerr := store.Lookup(ctx, r.Image)
		if lerr == nil {
			newID = img.ID
		}
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("check image %s: %w", r.Image, err)
	}
	if newID == c.ImageID {
		r.Updated = NotUpdated
		return nil
	}
	if o.DryRun {
		r.Updated = Pending
		return nil
	}
	restartErr := o.systemctl(ctx, "restart", r.Unit)
	if restartErr == nil {
		restartErr = runsImage(ctx, e, r.Unit, newID)
	}
	if restartErr == nil {
		r.Updated = Updated
		e.Emit(events.Container, "auto-update", c.ID, map[string]string{"name": c.Name, "image": r.Image, "unit": r.Unit, "updated": Updated})
		return nil
	}
	if !o.Rollback {
		return fmt.Errorf("restart unit %s with the new image: %w", r.Unit, restartErr)
	}
	// Back to the image the container ran: its reference names it again, the unit restarts.
	if err := store.Tag(ctx, c.ImageID, r.Image); err != nil {
		return fmt.Errorf("restart unit %s with the new image: %w; roll back: %v", r.Unit, restartErr, err)
	}
	if err := o.systemctl(ctx, "restart", r.Unit); err != nil {
		return fmt.Errorf("restart unit %s with the new image: %w; roll back: %v", r.Unit, restartErr, err)
	}
	r.Updated = RolledBack
	e.Emit(events.Container, "auto-update", c.ID, map[string]string{"name": c.Name, "image": r.Image, "unit": r.Unit, "updated": RolledBack})
	return fmt.Errorf("restart unit %s with the new image, rolled back: %w", r.Unit, restartErr)
}

// runsImage checks that the unit's container now runs image id.
func runsImage(ctx context.Context, e *engine.Engine, unit, id string) error {
	cs, err := e.Containers(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Options.Labels[systemd.UnitEnv] == unit && c.Active() && c.ImageID == id {
			return nil
		}
	}
	return fmt.Errorf("no container of unit %s runs the new image", unit)
}
