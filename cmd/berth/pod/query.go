package pod

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

func topCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top POD [ps OPTIONS]",
		Short: "Display the running processes of the containers in a pod",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			titles, rows, err := cli.Engine(cmd).PodTop(cmd.Context(), args[0], args[1:])
			if err != nil {
				return err
			}
			return cli.PrintTable(cmd.OutOrStdout(), titles, rows)
		},
	}
	cmd.Flags().SetInterspersed(false) // ps options such as -o pid,comm follow the pod name
	return cmd
}

// statsRow is one line of `pod stats` (podman's field names).
type statsRow struct {
	Pod, CID, Name, CPU, MemUsage, Mem, NetIO, BlockIO, PIDS string
}

func statsCommand() *cobra.Command {
	var noStream, all, noTrunc bool
	var f string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [POD...]",
		Short: "Display a live stream of resource usage of the containers in pods",
		RunE: func(cmd *cobra.Command, args []string) error {
			e, ctx := cli.Engine(cmd), cmd.Context()
			if len(args) > 0 && all {
				return cli.Invalid("--all and pods cannot be given together")
			}
			var pods []*engine.Pod
			if len(args) == 0 {
				ps, err := e.Pods(ctx)
				if err != nil {
					return err
				}
				pods = ps
			}
			for _, a := range args {
				p, err := e.Pod(ctx, a)
				if err != nil {
					return err
				}
				pods = append(pods, p)
			}
			prev := map[string]*engine.Stats{}
			sample := func() ([]any, error) {
				var rows []any
				for _, p := range pods {
					cs, err := e.PodContainers(ctx, p)
					if err != nil {
						return nil, err
					}
					for _, c := range cs {
						if c.State != engine.StateRunning && c.State != engine.StatePaused {
							continue
						}
						s, err := e.ContainerStats(ctx, c, prev[c.ID])
						if err != nil {
							continue // it stopped meanwhile
						}
						prev[c.ID] = s
						pod, cid := p.ID, c.ID
						if !noTrunc {
							pod, cid = pod[:12], cid[:12]
						}
						v := cli.FormatStats(s)
						rows = append(rows, statsRow{Pod: pod, CID: cid, Name: c.Name, CPU: v.CPU, MemUsage: v.MemUsage,
							Mem: v.Mem, NetIO: v.NetIO, BlockIO: v.BlockIO, PIDS: v.PIDs})
					}
				}
				return rows, nil
			}
			if _, err := sample(); err != nil { // CPU % needs two samples
				return err
			}
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(500 * time.Millisecond):
				}
				rows, err := sample()
				if err != nil {
					return err
				}
				if !noStream {
					fmt.Fprint(cmd.OutOrStdout(), "\033[2J\033[H")
				}
				err = format.List{Format: f,
					Default: "table {{.Pod}}\t{{.CID}}\t{{.Name}}\t{{.CPU}}\t{{.MemUsage}}\t{{.Mem}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}",
					Headers: map[string]string{"Pod": "POD", "CID": "CID", "CPU": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
						"Mem": "MEM %", "NetIO": "NET IO", "BlockIO": "BLOCK IO", "PIDS": "PIDS"},
				}.Write(cmd.OutOrStdout(), rows)
				if err != nil || noStream {
					return err
				}
			}
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	fl.BoolVarP(&all, "all", "a", false, "Show the stats of all pods (the default without pods)")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	fl.StringVar(&f, "format", "", "Format output using a Go template, 'table ...' or 'json'")
	return cmd
}

func logsCommand() *cobra.Command {
	var o engine.PodLogOptions
	var window cli.LogWindow
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] POD",
		Short: "Fetch the logs of the containers in a pod",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := window.Apply(&o.LogOptions); err != nil {
				return err
			}
			return cli.Engine(cmd).PodLogs(cmd.Context(), args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Container, "container", "c", "", "Show the logs of this container of the pod only")
	fl.BoolVar(&o.Names, "names", false, "Prefix each line with its container's name")
	fl.BoolVarP(&o.Follow, "follow", "f", false, "Follow log output")
	fl.BoolVarP(&o.Timestamps, "timestamps", "t", false, "Show timestamps")
	window.AddFlags(fl, "", "Number of lines to show from the end of each container's log")
	return cmd
}
