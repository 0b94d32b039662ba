// Package container holds the container commands: `berth container ...` and their Docker
// top-level forms (`berth run`, `berth ps`, `berth rm`, ...).
package container

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cmd/berth/cli"
	rtcli "github.com/berth-project/berth/cmd/berth/runtime"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/format"
)

// Commands returns the `container` group and the top-level forms Docker has.
func Commands() []*cobra.Command {
	group := &cobra.Command{Use: "container", Short: "Manage containers", Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	ls := psCommand("ls")
	ls.Aliases = []string{"list", "ps"}
	group.AddCommand(createCommand(), startCommand(), runCommand(), ls, rmCommand(), logsCommand(), stopCommand(),
		killCommand(), waitCommand(), cleanupCommand())
	return []*cobra.Command{group, createCommand(), startCommand(), runCommand(), psCommand("ps"), rmCommand(),
		logsCommand(), stopCommand(), killCommand(), waitCommand()}
}

type createFlags struct {
	o          engine.CreateOptions
	env        []string
	labels     []string
	entrypoint string
	memory     string
	network    string
}

func (f *createFlags) add(fs *pflag.FlagSet) {
	fs.SetInterspersed(false)
	fs.Bool("help", false, "Print usage") // -h is --hostname, as in Docker
	fs.StringVar(&f.o.Name, "name", "", "Assign a name to the container")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "Set environment variables")
	fs.StringVarP(&f.o.Workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&f.o.User, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.StringVarP(&f.o.Hostname, "hostname", "h", "", "Container host name")
	fs.BoolVar(&f.o.Rm, "rm", false, "Automatically remove the container when it exits")
	fs.BoolVar(&f.o.ReadOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringVarP(&f.memory, "memory", "m", "", "Memory limit")
	fs.Int64Var(&f.o.PidsLimit, "pids-limit", 0, "Tune container pids limit (-1 for unlimited)")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "Set meta data on a container")
	fs.StringVar(&f.network, "network", "none", "Connect a container to a network (only none for now)")
}

func (f *createFlags) options(args []string) (engine.CreateOptions, error) {
	o := f.o
	o.Image, o.Cmd = args[0], args[1:]
	o.Env = f.env
	if f.memory != "" {
		n, err := units.RAMInBytes(f.memory)
		if err != nil || n <= 0 {
			return o, cli.Invalid("invalid argument %q for \"-m, --memory\" flag", f.memory)
		}
		o.Memory = n
	}
	if f.network != "none" {
		return o, errdefs.Newf(errdefs.ErrNotSupported, "--network %s: only --network none is supported so far", f.network)
	}
	o.Labels = map[string]string{}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		o.Labels[k] = v
	}
	return o, nil
}

func createCommand() *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(args)
			if err != nil {
				return err
			}
			o.Entrypoint = entrypointFlag(cmd, f)
			c, err := cli.Engine(cmd).CreateContainer(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), c.ID)
			return nil
		},
	}
	f.add(cmd.Flags())
	return cmd
}

func entrypointFlag(cmd *cobra.Command, f *createFlags) *[]string {
	if !cmd.Flags().Changed("entrypoint") {
		return nil
	}
	e := []string{}
	if f.entrypoint != "" {
		e = []string{f.entrypoint}
	}
	return &e
}

func runCommand() *cobra.Command {
	f := &createFlags{}
	var detach bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(args)
			if err != nil {
				return err
			}
			o.Entrypoint = entrypointFlag(cmd, f)
			e, ctx := cli.Engine(cmd), cmd.Context()
			c, err := e.CreateContainer(ctx, o)
			if err != nil {
				return err
			}
			id := c.ID
			if c, err = e.StartContainer(ctx, id); err != nil {
				if o.Rm {
					_ = e.RemoveContainer(context.Background(), id, true)
				}
				return err
			}
			if detach {
				fmt.Fprintln(cmd.OutOrStdout(), c.ID)
				return nil
			}
			if err := e.FollowLog(ctx, c, true, cmd.OutOrStdout(), cmd.ErrOrStderr()); err != nil {
				return err
			}
			code, err := e.WaitContainer(ctx, c.ID)
			if err != nil {
				return err
			}
			if o.Rm { // the monitor's cleanup may be racing us: removal is idempotent
				if err := e.RemoveContainer(ctx, c.ID, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
					return err
				}
			}
			if code != 0 {
				return &errdefs.ExitError{Code: code}
			}
			return nil
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	return cmd
}

func startCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "start CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				_, err := e.StartContainer(ctx, ref)
				return "", err
			})
		},
	}
}

type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Status, Ports, Names, State string
}

func psCommand(use string) *cobra.Command {
	var all, quiet, noTrunc, latest bool
	var f string
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS]",
		Short: "List containers",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, ctx := cli.Engine(cmd), cmd.Context()
			cs, err := e.Containers(ctx)
			if err != nil {
				return err
			}
			store, err := e.Images(ctx)
			if err != nil {
				return err
			}
			var rows []any
			for _, c := range cs {
				if !all && !latest && c.State != engine.StateRunning {
					continue
				}
				r := psRow{ID: c.ID, Names: c.Name, State: c.State, Image: c.Options.Image, Ports: "",
					CreatedAt: c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: units.HumanDuration(time.Since(c.Created)) + " ago"}
				if img, err := store.Lookup(ctx, c.ImageID); err == nil && len(img.Names) == 0 {
					r.Image = img.ShortID()
				}
				r.Command = strings.Join(c.Options.Cmd, " ")
				if !noTrunc {
					r.ID = c.ID[:12]
					if len(r.Command) > 20 {
						r.Command = r.Command[:19] + "…"
					}
				}
				r.Command = `"` + r.Command + `"`
				switch c.State {
				case engine.StateRunning:
					r.Status = "Up " + units.HumanDuration(time.Since(c.StartedAt))
				case engine.StateExited:
					r.Status = fmt.Sprintf("Exited (%d) %s ago", c.ExitCode, units.HumanDuration(time.Since(c.FinishedAt)))
				default:
					r.Status = "Created"
				}
				rows = append(rows, r)
				if latest {
					break
				}
			}
			return format.List{Format: f, Quiet: "ID", QuietOn: quiet,
				Default: "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
				Headers: map[string]string{"ID": "CONTAINER ID", "RunningFor": "CREATED", "Names": "NAMES"},
			}.Write(cmd.OutOrStdout(), rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&latest, "latest", "l", false, "Show the latest created container")
	fl.StringVar(&f, "format", "", "Format output using a Go template, 'table ...' or 'json'")
	return cmd
}

func rmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				return "", e.RemoveContainer(ctx, ref, force)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	return cmd
}

func logsCommand() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e := cli.Engine(cmd)
			c, err := e.Container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.FollowLog(cmd.Context(), c, follow && c.State == engine.StateRunning, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "Follow log output")
	return cmd
}

func stopCommand() *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				_, err := e.StopContainer(ctx, ref, time.Duration(timeout)*time.Second)
				return "", err
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "Seconds to wait before killing the container")
	return cmd
}

func killCommand() *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := rtcli.ParseSignal(sig)
			if err != nil {
				return err
			}
			return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				_, err := e.KillContainer(ctx, ref, syscall.Signal(s))
				return "", err
			})
		},
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
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
