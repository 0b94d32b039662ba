package container

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
)

// existsCommand is Podman's `container exists`: exit 0 when the container exists, 1 when it
// does not, printing nothing.
func existsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exists [OPTIONS] CONTAINER",
		Short: "Check if a container exists (exit status 0 or 1)",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cli.Engine(cmd).Container(cmd.Context(), args[0])
			return cli.ExistsResult(err)
		},
	}
	cmd.Flags().Bool("external", false, "Also look at containers of other tools in the storage (berth's storage has none)")
	return cmd
}
