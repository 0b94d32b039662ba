package container

import (
	"context"
	"errors"
	"fmt"
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
			if all {
				return nil
			}
			return cli.MinimumArgs(1)(cmd, args)
		},
	}
	timeout := timeoutFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if all {
			cs, err := cli.Engine(cmd).Containers(cmd.Context())
			if err != nil {
				return err
			}
			for _, c := range cs {
				args = append(args, c.ID)
			}
		}
		o.Timeout = timeout()
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

// timeoutFlag adds -t/--time; nil means the container's own --stop-timeout.
func timeoutFlag(cmd *cobra.Command) func() *time.Duration {
	var secs int
	cmd.Flags().IntVarP(&secs, "time", "t", 10, "Seconds to wait before killing the container")
	return func() *time.Duration {
		if !cmd.Flags().Changed("time") {
			return nil
		}
		d := time.Duration(secs) * time.Second
		return &d
	}
}

func stopCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  cli.MinimumArgs(1),
	}
	timeout := timeoutFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
			_, err := e.StopContainer(ctx, ref, timeout())
			return "", err
		})
	}
	return cmd
}

func restartCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  cli.MinimumArgs(1),
	}
	timeout := timeoutFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
			_, err := e.RestartContainer(ctx, ref, timeout())
			return "", err
		})
	}
	return cmd
}

func killCommand() *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := engine.ParseSignal(sig)
			if err != nil {
				return err
			}
			return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				_, err := e.KillContainer(ctx, ref, s)
				return "", err
			})
		},
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
}

func pauseCommand(pause bool) *cobra.Command {
	use, short := "pause", "Pause all processes within one or more containers"
	if !pause {
		use, short = "unpause", "Unpause all processes within one or more containers"
	}
	return &cobra.Command{
		Use:   use + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				_, err := e.PauseContainer(ctx, ref, pause)
				return "", err
			})
		},
	}
}

func waitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				code, err := e.WaitContainer(ctx, ref)
				return fmt.Sprint(code), err
			})
		},
	}
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
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := cli.Engine(cmd).PruneContainers(cmd.Context())
			if len(ids) > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "Deleted Containers:")
			}
			for _, id := range ids {
				fmt.Fprintln(cmd.OutOrStdout(), id)
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
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
