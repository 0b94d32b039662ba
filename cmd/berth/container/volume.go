package container

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

func volumeCommand() *cobra.Command {
	return cli.Group("volume", "Manage volumes",
		volumeCreateCommand(), volumeListCommand(), volumeInspectCommand(), volumeRemoveCommand(), volumePruneCommand())
}

func volumeCreateCommand() *cobra.Command {
	var labels []string
	var driver string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if driver != "local" {
				return cli.Invalid("volume driver %q is not supported: only local", driver)
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			l := map[string]string{}
			for _, kv := range labels {
				k, v, _ := strings.Cut(kv, "=")
				l[k] = v
			}
			v, err := cli.Engine(cmd).CreateVolume(cmd.Context(), name, l)
			if errors.Is(err, errdefs.ErrExists) {
				// Docker hands back the existing volume; its labels stay as they were.
				v, err = cli.Engine(cmd).Volume(cmd.Context(), name)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.Name)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&labels, "label", "l", nil, "Set metadata for a volume")
	cmd.Flags().StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	// An existing volume is no error anyway, as in Docker; Podman's flag says so explicitly.
	cmd.Flags().Bool("ignore", false, "Do not fail if the volume exists (the default)")
	return cmd
}

func volumeListCommand() *cobra.Command {
	var quiet, noHeading bool
	var f string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			vs, err := cli.Engine(cmd).Volumes(cmd.Context())
			if err != nil {
				return err
			}
			var out []any
			for _, v := range vs {
				ok, err := volumeMatches(cmd, v, filters)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				out = append(out, rows.NewVolume(v, -1, -1))
			}
			return format.List{Format: f, Quiet: "Name", QuietOn: quiet, Default: "table {{.Driver}}\t{{.Name}}", NoHeading: noHeading,
				Headers: map[string]string{"Name": "VOLUME NAME"}}.Write(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	cmd.Flags().BoolVarP(&noHeading, "noheading", "n", false, "Do not print the table's header line")
	cmd.Flags().StringVar(&f, "format", "", "Format output using a Go template, 'table ...' or 'json'")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. 'dangling=true')")
	return cmd
}

func volumeMatches(cmd *cobra.Command, v *engine.Volume, filters []string) (bool, error) {
	for _, f := range filters {
		k, val, _ := strings.Cut(f, "=")
		switch k {
		case "name":
			if !nameMatches(v.Name, val) {
				return false, nil
			}
		case "label":
			lk, lv, hasV := strings.Cut(val, "=")
			got, ok := v.Labels[lk]
			if !ok || (hasV && got != lv) {
				return false, nil
			}
		case "driver":
			if v.Driver != val {
				return false, nil
			}
		case "dangling":
			users, err := cli.Engine(cmd).VolumeUsers(cmd.Context(), v.Name)
			if err != nil {
				return false, err
			}
			if (len(users) == 0) != (val == "true" || val == "1") {
				return false, nil
			}
		default:
			return false, cli.Invalid("invalid filter %q: want name, label, driver or dangling", f)
		}
	}
	return true, nil
}

func volumeInspectCommand() *cobra.Command {
	var f string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.InspectEach(cmd, args, f, func(ctx context.Context, e *engine.Engine, name string) (any, error) {
				return e.Volume(ctx, name)
			})
		},
	}
	cmd.Flags().StringVarP(&f, "format", "f", "", "Format the output using a Go template or json")
	return cmd
}

func volumeRemoveCommand() *cobra.Command {
	var force, all bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args: func(cmd *cobra.Command, args []string) error {
			if all && len(args) > 0 {
				return cli.Invalid("choose either one or more volumes or all")
			}
			if all {
				return nil
			}
			return cli.MinimumArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if all {
				vs, err := cli.Engine(cmd).Volumes(cmd.Context())
				if err != nil {
					return err
				}
				for _, v := range vs {
					args = append(args, v.Name)
				}
			}
			return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, name string) (string, error) {
				// As in Docker, --force passes over a missing volume but never removes one a
				// container uses (Podman's would remove those containers).
				err := e.RemoveVolume(ctx, name, false)
				if (force || all) && errors.Is(err, errdefs.ErrNotFound) {
					return "", cli.ErrSkip
				}
				return "", err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not fail on a missing volume")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all volumes (those in use are refused)")
	cmd.Flags().IntP("time", "t", 10, "Podman's wait before stopping containers using the volume (berth never stops them: an in-use volume is refused)")
	return cmd
}

func volumePruneCommand() *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused volumes (anonymous ones unless --all)",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := engine.ParsePruneFilters(filters, "label", "label!", "all", "until")
			if err != nil {
				return err
			}
			if all && pf.All != nil {
				return cli.Invalid("conflicting options: cannot specify both --all and --filter all=1")
			}
			names, n, err := cli.Engine(cmd).PruneVolumes(cmd.Context(), all, pf)
			return cli.PrintPruned(cmd.OutOrStdout(), "Deleted Volumes:", names, err, func() int64 { return n })
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (label=, label!=, all=, until=)")
	return cmd
}
