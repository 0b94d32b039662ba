package container

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

// splitCpArg splits CONTAINER:PATH; a path with a slash before any colon is local.
func splitCpArg(a string) (ctr, path string) {
	if strings.HasPrefix(a, "/") || strings.HasPrefix(a, ".") {
		return "", a
	}
	c, p, ok := strings.Cut(a, ":")
	if !ok {
		return "", a
	}
	return c, p
}

func cpCommand() *cobra.Command {
	var o engine.CopyOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n  berth cp [OPTIONS] CONTAINER:SRC_PATH CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem, or between containers",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, ctx := cli.Engine(cmd), cmd.Context()
			sc, sp := splitCpArg(args[0])
			dc, dp := splitCpArg(args[1])
			switch {
			case sc != "" && dc != "":
				return e.CopyBetweenContainers(ctx, sc, sp, dc, dp, &o)
			case sc != "":
				return e.CopyFromContainer(ctx, sc, sp, dp, cmd.OutOrStdout(), &o)
			case dc != "":
				return e.CopyToContainer(ctx, sp, dc, dp, cmd.InOrStdin(), &o)
			}
			return cli.Invalid("must specify at least one container source")
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.Archive, "archive", "a", false, "Archive mode: what is copied into a container belongs to its user")
	fl.BoolVar(&o.Overwrite, "overwrite", false, "Allow a directory to replace a file and the reverse")
	fl.BoolVar(&o.Pause, "pause", false, "Pause a running container during the copy")
	return cmd
}

func diffCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changes, err := cli.Engine(cmd).DiffContainer(cmd.Context(), args[0])
			for _, c := range changes {
				fmt.Fprintf(cmd.OutOrStdout(), "%c %s\n", c.Kind, c.Path)
			}
			return err
		},
	}
}

func exportCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.WriteArchive(cmd, output, func(w io.Writer) error {
				return cli.Engine(cmd).ExportContainer(cmd.Context(), args[0], w)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func commitCommand() *cobra.Command {
	var o engine.CommitOptions
	var quiet bool
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  cli.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			img, err := cli.Engine(cmd).CommitContainer(cmd.Context(), args[0], ref, o)
			if err != nil {
				return err
			}
			id := strings.TrimPrefix(img.ID, "sha256:")
			if !quiet { // Podman's -q prints the bare id
				id = "sha256:" + id
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&o.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	fl.StringVarP(&o.Message, "message", "m", "", "Commit message")
	fl.StringVarP(&o.Author, "author", "a", "", "Author")
	fl.BoolVarP(&o.Pause, "pause", "p", true, "Pause container during commit")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Print only the image id (without sha256:)")
	return cmd
}

func portCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cli.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cli.Engine(cmd).Container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var ports map[string][]engine.PortBinding
			if c.Net != nil && c.Active() {
				ports = engine.PortMap(c.Net.Ports)
			}
			if len(args) == 2 {
				key := args[1]
				if !strings.Contains(key, "/") {
					key += "/tcp"
				}
				if len(ports[key]) == 0 {
					return cli.Invalid("no public port '%s' published for %s", args[1], c.Name)
				}
				for _, b := range ports[key] {
					fmt.Fprintln(cmd.OutOrStdout(), net.JoinHostPort(b.HostIP, b.HostPort))
				}
				return nil
			}
			keys := make([]string, 0, len(ports))
			for k := range ports {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool {
				pi, _ := strconv.Atoi(strings.Split(keys[i], "/")[0])
				pj, _ := strconv.Atoi(strings.Split(keys[j], "/")[0])
				return pi < pj || (pi == pj && keys[i] < keys[j])
			})
			for _, k := range keys {
				for _, b := range ports[k] {
					fmt.Fprintf(cmd.OutOrStdout(), "%s -> %s\n", k, net.JoinHostPort(b.HostIP, b.HostPort))
				}
			}
			return nil
		},
	}
}

func topCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			titles, rows, err := cli.Engine(cmd).Top(cmd.Context(), args[0], args[1:])
			if err != nil {
				return err
			}
			return cli.PrintTable(cmd.OutOrStdout(), titles, rows)
		},
	}
	cmd.Flags().SetInterspersed(false) // ps options such as -o pid,comm follow the container name
	return cmd
}

type statsRow struct {
	ID, Container, Name, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}

func statsCommand() *cobra.Command {
	var noStream, all, noTrunc bool
	var f string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			e, ctx := cli.Engine(cmd), cmd.Context()
			prev := map[string]*engine.Stats{}
			for first := true; ; first = false {
				cs, err := statsTargets(cmd, args, all)
				if err != nil {
					return err
				}
				if first { // CPU % needs two samples
					for _, c := range cs {
						if s, err := e.ContainerStats(ctx, c, nil); err == nil {
							prev[c.ID] = s
						}
					}
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(500 * time.Millisecond):
					}
				}
				var rows []any
				for _, c := range cs {
					s, err := e.ContainerStats(ctx, c, prev[c.ID])
					if err != nil {
						continue
					}
					prev[c.ID] = s
					id := c.ID
					if !noTrunc {
						id = id[:12]
					}
					v := cli.FormatStats(s)
					rows = append(rows, statsRow{ID: id, Container: id, Name: c.Name, CPUPerc: v.CPU, MemUsage: v.MemUsage,
						MemPerc: v.Mem, NetIO: v.NetIO, BlockIO: v.BlockIO, PIDs: v.PIDs})
				}
				if !noStream {
					fmt.Fprint(cmd.OutOrStdout(), "\033[2J\033[H")
				}
				err = format.List{Format: f,
					Default: "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
					Headers: map[string]string{"ID": "CONTAINER ID", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
						"MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"},
				}.Write(cmd.OutOrStdout(), rows)
				if err != nil || noStream {
					return err
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(time.Second):
				}
			}
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	fl.StringVar(&f, "format", "", "Format output using a Go template, 'table ...' or 'json'")
	return cmd
}

func statsTargets(cmd *cobra.Command, args []string, all bool) ([]*engine.Container, error) {
	e, ctx := cli.Engine(cmd), cmd.Context()
	if len(args) == 0 {
		cs, err := e.Containers(ctx)
		var out []*engine.Container
		for _, c := range cs {
			if all || c.State == engine.StateRunning || c.State == engine.StatePaused {
				out = append(out, c)
			}
		}
		return out, err
	}
	var out []*engine.Container
	for _, a := range args {
		c, err := e.Container(ctx, a)
		if err != nil {
			return nil, err
		}
		if c.State != engine.StateRunning && c.State != engine.StatePaused {
			return nil, cli.Invalid("container %s is not running", c.Name)
		}
		out = append(out, c)
	}
	return out, nil
}
