package container

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
)

// targetFlags are Podman's --all, --latest and --filter for commands acting on several
// containers (start, stop, kill, pause, unpause, restart, wait).
type targetFlags struct {
	all, latest bool
	filters     []string
}

// add binds the flags; allShort is --all's shorthand ("" for start, where -a is --attach).
func (t *targetFlags) add(cmd *cobra.Command, allShort, allHelp string) {
	fl := cmd.Flags()
	fl.BoolVarP(&t.all, "all", allShort, false, allHelp)
	fl.BoolVarP(&t.latest, "latest", "l", false, "Act on the latest container created")
	fl.StringArrayVar(&t.filters, "filter", nil, "Act only on the containers matching the filter (as ps --filter)")
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if (t.all || t.latest) && len(args) > 0 {
			return cli.Invalid("either %s all containers or the container(s) provided in the arguments", cmd.Name())
		}
		if t.all || t.latest || len(t.filters) > 0 {
			return nil
		}
		return cli.MinimumArgs(1)(cmd, args)
	}
}

// resolve returns the containers to act on: args, or with --all those selected picks (nil:
// every one), or with --latest the newest; --filter narrows any of them. Named targets keep
// the user's spelling, the others are ids.
func (t *targetFlags) resolve(cmd *cobra.Command, args []string, selected func(*engine.Container) bool) ([]string, error) {
	pf, err := parsePsFilters(t.filters)
	if err != nil {
		return nil, err
	}
	if !t.all && !t.latest && len(args) > 0 && len(pf) == 0 {
		return args, nil
	}
	e, ctx := cli.Engine(cmd), cmd.Context()
	var cs []*engine.Container
	if len(args) > 0 {
		for _, a := range args {
			c, err := e.Container(ctx, a)
			if err != nil {
				return nil, err
			}
			cs = append(cs, c)
		}
	} else {
		if cs, err = e.Containers(ctx); err != nil {
			return nil, err
		}
		if t.latest && len(cs) > 1 {
			cs = cs[:1] // newest first
		}
	}
	var pods podNames
	if len(pf["pod"]) > 0 {
		if pods, err = readPodNames(ctx, e); err != nil {
			return nil, err
		}
	}
	var out []string
	for i, c := range cs {
		if len(args) == 0 && !t.latest && selected != nil && !selected(c) {
			continue
		}
		if !pf.match(ctx, e, c, pods) {
			continue
		}
		if len(args) > 0 {
			out = append(out, args[i])
		} else {
			out = append(out, c.ID)
		}
	}
	return out, nil
}
