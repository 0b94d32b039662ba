// Package network holds `berth network ...`: create, ls, inspect, rm, prune, connect and
// disconnect.
package network

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/cmd/berth/rows"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/format"
)

// Command returns the `network` group.
func Command() *cobra.Command {
	return cli.Group("network", "Manage networks",
		createCommand(), listCommand(), inspectCommand(), removeCommand(), pruneCommand(),
		connectCommand(), disconnectCommand())
}

func createCommand() *cobra.Command {
	var o engine.NetworkCreateOptions
	var labels, opts []string
	var ignore bool
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Labels, err = cli.KeyValues("label", labels, false); err != nil {
				return err
			}
			if o.Options, err = cli.KeyValues("opt", opts, true); err != nil {
				return err
			}
			n, err := cli.Engine(cmd).CreateNetwork(cmd.Context(), args[0], o)
			if ignore && errors.Is(err, errdefs.ErrExists) {
				n, err = cli.Engine(cmd).Network(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), n.ID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Driver, "driver", "d", "bridge", "Driver to manage the network: bridge or macvlan")
	fl.StringArrayVar(&o.Subnets, "subnet", nil, "Subnet in CIDR format")
	fl.StringArrayVar(&o.Gateways, "gateway", nil, "IPv4 or IPv6 gateway for the subnet")
	fl.StringArrayVar(&o.IPRanges, "ip-range", nil, "Allocate container IPs from a sub-range")
	fl.BoolVar(&o.Internal, "internal", false, "Restrict external access to the network")
	fl.BoolVar(&o.IPv6, "ipv6", false, "Enable IPv6 networking")
	fl.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options (parent=IFACE for macvlan)")
	fl.StringArrayVar(&labels, "label", nil, "Set metadata on a network")
	fl.BoolVar(&ignore, "ignore", false, "Do not fail if the network exists: print its ID (a Quadlet .network unit's start)")
	return cmd
}

func listCommand() *cobra.Command {
	var quiet, noTrunc bool
	var f string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			match, err := parseFilters(filters)
			if err != nil {
				return err
			}
			ns, err := cli.Engine(cmd).Networks(cmd.Context())
			if err != nil {
				return err
			}
			var out []any
			for _, n := range ns {
				if !match(n) {
					continue
				}
				out = append(out, rows.NewNetwork(n, !noTrunc))
			}
			return format.List{Format: f, Quiet: "ID", QuietOn: quiet, Default: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
				Headers: map[string]string{"ID": "NETWORK ID"}}.Write(cmd.OutOrStdout(), out)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	fl.StringVar(&f, "format", "", "Format output using a Go template, 'table ...' or 'json'")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (name=, id=, driver=, label=)")
	return cmd
}

// parseFilters turns --filter KEY=VALUE into a predicate: values of one key are ORed, keys ANDed.
func parseFilters(filters []string) (func(*engine.Network) bool, error) {
	by := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		switch k {
		case "name", "id", "driver", "label":
		default:
			ok = false
		}
		if !ok {
			return nil, cli.Invalid("invalid filter %q: want name, id, driver or label", f)
		}
		by[k] = append(by[k], v)
	}
	return func(n *engine.Network) bool {
		for k, vs := range by {
			hit := false
			for _, v := range vs {
				switch k {
				case "name":
					hit = hit || strings.Contains(n.Name, v)
				case "id":
					hit = hit || strings.HasPrefix(n.ID, v)
				case "driver":
					hit = hit || n.Driver == v
				case "label":
					lk, lv, hasV := strings.Cut(v, "=")
					got, ok := n.Labels[lk]
					hit = hit || (ok && (!hasV || got == lv))
				}
			}
			if !hit {
				return false
			}
		}
		return true
	}, nil
}

func inspectCommand() *cobra.Command {
	var f string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.InspectEach(cmd, args, f, func(ctx context.Context, e *engine.Engine, name string) (any, error) {
				return e.InspectNetwork(ctx, name)
			})
		},
	}
	cmd.Flags().StringVarP(&f, "format", "f", "", "Format the output using a Go template or json")
	return cmd
}

func removeCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.EachTarget(cmd, args, cli.IgnoreMissing(force, func(ctx context.Context, e *engine.Engine, name string) (string, error) {
				return "", e.RemoveNetwork(ctx, name, force)
			}))
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist; remove the containers using it too")
	return cmd
}

func pruneCommand() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks and what stopped containers left behind",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := engine.ParsePruneFilters(filters, "until", "label", "label!")
			if err != nil {
				return err
			}
			names, err := cli.Engine(cmd).PruneNetworks(cmd.Context(), pf)
			// Docker prints no total for networks: they hold no disk space.
			return cli.PrintPruned(cmd.OutOrStdout(), "Deleted Networks:", names, err, nil)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (until=, label=, label!=)")
	return cmd
}

func connectCommand() *cobra.Command {
	var o engine.ConnectOptions
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.Engine(cmd).ConnectNetwork(cmd.Context(), args[0], args[1], o)
		},
	}
	cmd.Flags().StringVar(&o.IP, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	cmd.Flags().StringArrayVar(&o.Aliases, "alias", nil, "Add network-scoped alias for the container")
	return cmd
}

func disconnectCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.Engine(cmd).DisconnectNetwork(cmd.Context(), args[0], args[1], force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}
