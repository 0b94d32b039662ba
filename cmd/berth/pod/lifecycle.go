package pod

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
)

// eachPod runs fn on every named pod (all pods with --all), printing each pod's id.
func eachPod(cmd *cobra.Command, args []string, all bool, fn func(ctx context.Context, e *engine.Engine, ref string) (*engine.Pod, error)) error {
	args, err := withAllPods(cmd, args, all)
	if err != nil {
		return err
	}
	return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
		p, err := fn(ctx, e, ref)
		if err != nil {
			return "", err
		}
		return p.ID, nil
	})
}

// withAllPods is args, or with --all the ids of every pod.
func withAllPods(cmd *cobra.Command, args []string, all bool) ([]string, error) {
	if !all {
		return args, nil
	}
	ps, err := cli.Engine(cmd).Pods(cmd.Context())
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		args = append(args, p.ID)
	}
	return args, nil
}

// podArgs accepts pods, or none with --all.
func podArgs(all *bool) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if *all {
			if len(args) > 0 {
				return cli.Invalid("--all and pods cannot be given together")
			}
			return nil
		}
		return cli.MinimumArgs(1)(cmd, args)
	}
}

func startCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] POD [POD...]",
		Short: "Start one or more pods",
		Args:  podArgs(&all),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachPod(cmd, args, all, func(ctx context.Context, e *engine.Engine, ref string) (*engine.Pod, error) {
				return e.StartPod(ctx, ref)
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Start all pods")
	return cmd
}

// timeoutFlag adds -t/--time; nil means each container's own --stop-timeout.
func timeoutFlag(cmd *cobra.Command) func() *time.Duration {
	var secs int
	cmd.Flags().IntVarP(&secs, "time", "t", 10, "Seconds to wait for each container to stop before killing it")
	return func() *time.Duration {
		if !cmd.Flags().Changed("time") {
			return nil
		}
		d := time.Duration(secs) * time.Second
		return &d
	}
}

func stopCommand() *cobra.Command {
	var all, ignore bool
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] POD [POD...]",
		Short: "Stop one or more pods",
		Args:  podArgs(&all),
	}
	timeout := timeoutFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return eachPod(cmd, args, all, func(ctx context.Context, e *engine.Engine, ref string) (*engine.Pod, error) {
			p, err := e.StopPod(ctx, ref, timeout())
			if ignore && errors.Is(err, errdefs.ErrNotFound) {
				return &engine.Pod{ID: ref}, nil
			}
			return p, err
		})
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Stop all pods")
	cmd.Flags().BoolVarP(&ignore, "ignore", "i", false, "Ignore errors when a pod does not exist")
	return cmd
}

func restartCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] POD [POD...]",
		Short: "Restart one or more pods",
		Args:  podArgs(&all),
	}
	timeout := timeoutFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return eachPod(cmd, args, all, func(ctx context.Context, e *engine.Engine, ref string) (*engine.Pod, error) {
			return e.RestartPod(ctx, ref, timeout())
		})
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Restart all pods")
	return cmd
}

func killCommand() *cobra.Command {
	var all bool
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] POD [POD...]",
		Short: "Send a signal to the containers of one or more pods",
		Args:  podArgs(&all),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := engine.ParseSignal(signal)
			if err != nil {
				return err
			}
			return eachPod(cmd, args, all, func(ctx context.Context, e *engine.Engine, ref string) (*engine.Pod, error) {
				return e.KillPod(ctx, ref, sig)
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Kill all pods")
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "Signal to send to the containers")
	return cmd
}

func pauseCommand(pause bool) *cobra.Command {
	use, short := "pause", "Pause the containers of one or more pods"
	if !pause {
		use, short = "unpause", "Unpause the containers of one or more pods"
	}
	var all bool
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] POD [POD...]",
		Short: short,
		Args:  podArgs(&all),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachPod(cmd, args, all, func(ctx context.Context, e *engine.Engine, ref string) (*engine.Pod, error) {
				return e.PausePod(ctx, ref, pause)
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, fmt.Sprintf("%s all pods", map[bool]string{true: "Pause", false: "Unpause"}[pause]))
	return cmd
}

func pruneCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped pods and their containers",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := cli.Engine(cmd).PrunePods(cmd.Context())
			for _, id := range ids {
				fmt.Fprintln(cmd.OutOrStdout(), id)
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Accepted for podman compatibility: berth does not prompt")
	return cmd
}
