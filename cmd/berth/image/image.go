// Package image holds the image commands: `berth image ...` and their Docker top-level aliases
// (`berth images`, `berth pull`, `berth rmi`, ...).
package image

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/libimage"
)

// Commands returns the `image` group and the top-level aliases Docker has.
func Commands() []*cobra.Command {
	group := cli.Group("image", "Manage images")
	ls := listCommand("ls")
	ls.Aliases = []string{"list"}
	rm := removeCommand("rm")
	group.AddCommand(ls, rm, pullCommand(), pushCommand(), inspectCommand(), tagCommand(), pruneCommand(),
		historyCommand(), saveCommand(), loadCommand(), importCommand(), buildCommand(), untagCommand(), existsCommand())
	return []*cobra.Command{group, listCommand("images"), removeCommand("rmi"), pullCommand(), pushCommand(),
		tagCommand(), historyCommand(), saveCommand(), loadCommand(), importCommand(), loginCommand(), logoutCommand(),
		untagCommand()}
}

// store opens the image store of the command's engine.
func store(cmd *cobra.Command) (*libimage.Store, context.Context, error) {
	s, err := cli.Engine(cmd).Images(cmd.Context())
	return s, cmd.Context(), err
}
