package system

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/cmd/berth/rows"
	"github.com/berth-project/berth/internal/engine"
)

// confirm asks the question on out and reads the answer from in; only y or yes agrees, as
// the docker CLI's prompt does (end of input is no).
func confirm(in io.Reader, out io.Writer, warning string) bool {
	fmt.Fprintf(out, "%s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(in).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

func pruneCommand() *cobra.Command {
	var o engine.SystemPruneOptions
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Filter, err = engine.ParsePruneFilters(filters, "until", "label", "label!"); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if !force {
				warning := "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n"
				if o.Volumes {
					warning += "  - all anonymous volumes not used by at least one container\n"
				}
				if o.All {
					warning += "  - all images without at least one container associated to them\n  - all build cache\n"
				} else {
					warning += "  - all dangling images\n  - unused build cache\n"
				}
				if !confirm(cmd.InOrStdin(), w, warning) {
					return nil // Docker treats a refusal as a cancelled prune, not a failure
				}
			}
			r, err := cli.Engine(cmd).SystemPrune(cmd.Context(), o)
			for _, part := range []struct {
				header string
				lines  []string
			}{
				{"Deleted Containers:", r.Containers}, {"Deleted Networks:", r.Networks}, {"Deleted Volumes:", r.Volumes},
				{"Deleted Images:", r.Images}, {"Deleted build cache objects:", r.BuildCache},
			} {
				if len(part.lines) > 0 {
					fmt.Fprintf(w, "%s\n%s\n\n", part.header, strings.Join(part.lines, "\n"))
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "Total reclaimed space: %s\n", rows.HumanSize(r.Reclaimed))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.All, "all", "a", false, "Remove all unused images not just dangling ones")
	fl.BoolVar(&o.Volumes, "volumes", false, "Prune anonymous volumes")
	fl.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fl.StringArrayVar(&filters, "filter", nil, "Provide filter values (until=, label=, label!=)")
	return cmd
}

func resetCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "reset [OPTIONS]",
		Short: "Reset berth storage: remove every container, image, volume, network and the build cache",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				warning := "WARNING! This will remove:\n  - all containers\n  - all pods\n  - all images\n  - all networks\n  - all build cache\n  - all volumes"
				if !confirm(cmd.InOrStdin(), cmd.OutOrStdout(), warning) {
					return nil
				}
			}
			return cli.Engine(cmd).Reset(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}
