package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/cmd/berth/image"
	"github.com/berth-project/berth/cmd/berth/system"
)

// newRootCommand builds the whole command tree. Each command group adds its commands here,
// both under its noun (`berth image ls`) and, where Docker has them, at top level (`berth images`).
func newRootCommand(g *cli.Globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "A daemonless container engine",
		Long:          "berth builds, pulls, pushes and runs containers with no daemon; a drop-in for the docker CLI.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetContext(cli.WithGlobals(cmd.Context(), g))
			return g.Setup(cmd.Root().PersistentFlags())
		},
	}
	root.SetFlagErrorFunc(cli.FlagError)
	g.AddFlags(root.PersistentFlags())
	root.AddCommand(system.Commands()...)
	root.AddCommand(image.Commands()...)
	return root
}
