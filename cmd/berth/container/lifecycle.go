package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
)

func rmCommand() *cobra.Command {
	var o engine.RemoveOptions
	var all, ignore bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args: func(cmd *cobra.Command, args []string) error {
			if all || cmd.Flags().Changed("cidfile") {
				return nil
			}
			return cli.MinimumArgs(1)(cmd, args)
		},
	}
	timeout := timeoutFlag(cmd)
	cidfiles := cidfileFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		args, err := cidTargets(args, *cidfiles, ignore)
		if err != nil {
			return err
		}
		if all {
			cs, err := cli.Engine(cmd).Containers(cmd.Context())
			if err != nil {
				return err
			}
			for _, c := range cs {
				if !c.Infra { // it goes with its pod (pod rm)
					args = append(args, c.ID)
				}
			}
		}
		o.Timeout = timeout()
		if o.Force && (o.Timeout == nil || *o.Timeout <= 0) && len(args) > 1 {
			// Kill them all first: their monitors then exit while the first are removed.
			for _, ref := range args {
				cli.Engine(cmd).KillForRemoval(cmd.Context(), ref)
			}
		}
		return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
			var removed []string
			ro := o
			ro.Removed = func(id string) { removed = append(removed, id) }
			err := e.RemoveContainer(ctx, ref, ro)
			// A container already gone is no failure with --ignore, nor with --force (as rm -f).
			if errors.Is(err, errdefs.ErrNotFound) && (ignore || o.Force || all) {
				return "", cli.ErrSkip
			}
			if err != nil || !o.Depend {
				return "", err
			}
			return strings.Join(removed, "\n"), nil
		})
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.Force, "force", "f", false, "Force the removal of a running container (uses SIGKILL, or the stop signal first with --time)")
	fl.BoolVarP(&o.Volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	fl.BoolVarP(&all, "all", "a", false, "Remove all containers")
	fl.BoolVarP(&ignore, "ignore", "i", false, "Ignore errors when a specified container is missing")
	fl.BoolVar(&o.Depend, "depend", false, "Remove the containers that depend on the container first")
	return cmd
}

// timeoutFlag adds -t/--time (and Podman's --timeout); nil means the container's own --stop-timeout.
func timeoutFlag(cmd *cobra.Command) func() *time.Duration {
	var secs int
	cmd.Flags().IntVarP(&secs, "time", "t", 10, "Seconds to wait before killing the container")
	cmd.Flags().IntVar(&secs, "timeout", 10, "Seconds to wait before killing the container")
	_ = cmd.Flags().MarkHidden("timeout")
	return func() *time.Duration {
		if !cmd.Flags().Changed("time") && !cmd.Flags().Changed("timeout") {
			return nil
		}
		d := time.Duration(secs) * time.Second
		return &d
	}
}

func stopCommand() *cobra.Command {
	var t targetFlags
	var ignore bool
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
	}
	t.add(cmd, "a", "Stop all running containers")
	timeout := timeoutFlag(cmd)
	cmd.Flags().BoolVarP(&ignore, "ignore", "i", false, "Ignore errors when a specified container is missing")
	cidfiles := cidfileFlag(cmd)
	targetArgs := cmd.Args
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if cmd.Flags().Changed("cidfile") {
			return nil
		}
		return targetArgs(cmd, args)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		args, err := cidTargets(args, *cidfiles, ignore)
		if err != nil {
			return err
		}
		if len(args) == 0 && cmd.Flags().Changed("cidfile") {
			return nil // --ignore and no cidfile left
		}
		targets, err := t.resolve(cmd, args, (*engine.Container).Active)
		if err != nil {
			return err
		}
		return cli.EachTarget(cmd, targets, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
			_, err := e.StopContainer(ctx, ref, timeout())
			if ignore && errors.Is(err, errdefs.ErrNotFound) {
				return "", cli.ErrSkip
			}
			return "", err
		})
	}
	return cmd
}

// cidfileFlag adds podman's --cidfile: the container's ID read from a file, as the units of
// `generate systemd --new` stop and remove theirs.
func cidfileFlag(cmd *cobra.Command) *[]string {
	var files []string
	cmd.Flags().StringArrayVar(&files, "cidfile", nil, "Read the container ID from the file")
	return &files
}

// cidTargets adds the IDs read from the cidfiles to the targets; with ignore a missing file
// is skipped.
func cidTargets(targets, cidfiles []string, ignore bool) ([]string, error) {
	for _, f := range cidfiles {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) && ignore {
			continue
		}
		if err != nil {
			return nil, errdefs.Newf(errdefs.ErrNotFound, "read cidfile: %v", err)
		}
		id := strings.TrimSpace(string(b))
		if id == "" {
			return nil, cli.Invalid("cidfile %s is empty", f)
		}
		targets = append(targets, id)
	}
	return targets, nil
}

func restartCommand() *cobra.Command {
	var t targetFlags
	var running bool
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
	}
	t.add(cmd, "a", "Restart all containers")
	timeout := timeoutFlag(cmd)
	cmd.Flags().BoolVar(&running, "running", false, "With --all, restart only the running containers")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var sel func(*engine.Container) bool
		if running {
			sel = (*engine.Container).Active
		}
		targets, err := t.resolve(cmd, args, sel)
		if err != nil {
			return err
		}
		return cli.EachTarget(cmd, targets, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
			_, err := e.RestartContainer(ctx, ref, timeout())
			return "", err
		})
	}
	return cmd
}

func killCommand() *cobra.Command {
	var t targetFlags
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := engine.ParseSignal(sig)
			if err != nil {
				return err
			}
			targets, err := t.resolve(cmd, args, (*engine.Container).Active)
			if err != nil {
				return err
			}
			return cli.EachTarget(cmd, targets, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				_, err := e.KillContainer(ctx, ref, s)
				return "", err
			})
		},
	}
	t.add(cmd, "a", "Signal all running containers")
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
}

func pauseCommand(pause bool) *cobra.Command {
	use, short, state := "pause", "Pause all processes within one or more containers", engine.StateRunning
	if !pause {
		use, short, state = "unpause", "Unpause all processes within one or more containers", engine.StatePaused
	}
	var t targetFlags
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := t.resolve(cmd, args, func(c *engine.Container) bool { return c.State == state })
			if err != nil {
				return err
			}
			return cli.EachTarget(cmd, targets, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				_, err := e.PauseContainer(ctx, ref, pause)
				return "", err
			})
		},
	}
	t.add(cmd, "a", "Act on all "+state+" containers")
	return cmd
}

func waitCommand() *cobra.Command {
	var conditions []string
	var ignore bool
	cmd := &cobra.Command{
		Use:   "wait [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop (or meet --condition), then print their exit codes",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				var code int
				var err error
				if len(conditions) == 0 {
					code, err = e.WaitContainer(ctx, ref)
				} else {
					var c *engine.Container
					if c, err = e.WaitForCondition(ctx, ref, conditions); err == nil {
						code = c.ExitCode
					}
				}
				if ignore && errors.Is(err, errdefs.ErrNotFound) {
					return "-1", nil // Podman's answer for a container that is not there
				}
				return fmt.Sprint(code), err
			})
		},
	}
	cmd.Flags().StringSliceVar(&conditions, "condition", nil, "Wait until the container is in one of these states: "+strings.Join(engine.WaitConditions, ", ")+" (default: stopped)")
	cmd.Flags().BoolVar(&ignore, "ignore", false, "Print -1 for a container that does not exist instead of failing")
	return cmd
}

func renameCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.Engine(cmd).RenameContainer(cmd.Context(), args[0], args[1])
		},
	}
}

func pruneCommand() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := engine.ParsePruneFilters(filters, "until", "label", "label!")
			if err != nil {
				return err
			}
			ids, n, err := cli.Engine(cmd).PruneContainers(cmd.Context(), pf)
			return cli.PrintPruned(cmd.OutOrStdout(), "Deleted Containers:", ids, err, func() int64 { return n })
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (until=, label=, label!=)")
	return cmd
}

func notifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "notify CONTAINER EVENT [ARG]",
		Short:  "Record an event a container's monitor saw (run by its monitor)",
		Hidden: true,
		Args:   cli.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.Engine(cmd).NotifyContainer(cmd.Context(), args[0], args[1], append(args, "")[2])
		},
	}
}

func cleanupCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "cleanup CONTAINER",
		Short:  "Release a stopped container's runtime state and mounts (run by its monitor)",
		Hidden: true,
		Args:   cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.Engine(cmd).CleanupContainer(cmd.Context(), args[0])
		},
	}
}
