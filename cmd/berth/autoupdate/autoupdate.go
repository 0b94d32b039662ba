// Package autoupdate holds `berth auto-update`.
package autoupdate

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/autoupdate"
	"github.com/berth-project/berth/internal/format"
)

// Command returns `berth auto-update`.
func Command() *cobra.Command {
	var o autoupdate.Options
	var f string
	cmd := &cobra.Command{
		Use:   "auto-update [OPTIONS]",
		Short: "Update containers whose image has a newer version, through their systemd units",
		Long: "Containers labelled io.containers.autoupdate=registry (pull the newest image of their reference) or\n" +
			"=local (use the newest local one) and run by a systemd unit (generate systemd --new, or Quadlet's\n" +
			"AutoUpdate=) get the new image by a restart of their unit, and the previous one back when the\n" +
			"unit does not come up with it.",
		Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e := cli.Engine(cmd)
			o.User = e.Config.Rootless
			reports, err := autoupdate.Run(cmd.Context(), e, o)
			rows := make([]any, len(reports))
			for i, r := range reports {
				rows[i] = r
			}
			l := format.List{Format: f, Default: "table {{.Unit}}\t{{.Container}}\t{{.Image}}\t{{.Policy}}\t{{.Updated}}"}
			if len(rows) > 0 || f != "" {
				if werr := l.Write(cmd.OutOrStdout(), rows); werr != nil {
					return werr
				}
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.DryRun, "dry-run", false, "Check for updates without pulling or restarting anything")
	fl.BoolVar(&o.Rollback, "rollback", true, "Restore the previous image when the unit fails with the new one")
	fl.StringVar(&f, "format", "", "Pretty-print the results using a Go template, or json")
	return cmd
}
