package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/autoupdate"
	"github.com/berth-project/berth/cmd/berth/cdi"
	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/cmd/berth/container"
	"github.com/berth-project/berth/cmd/berth/generate"
	"github.com/berth-project/berth/cmd/berth/image"
	"github.com/berth-project/berth/cmd/berth/kube"
	"github.com/berth-project/berth/cmd/berth/network"
	"github.com/berth-project/berth/cmd/berth/pod"
	"github.com/berth-project/berth/cmd/berth/quadlet"
	"github.com/berth-project/berth/cmd/berth/runtime"
	"github.com/berth-project/berth/cmd/berth/system"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/paths"
	"github.com/berth-project/berth/internal/userns"
)

// noUserNS are the commands a rootless user runs without entering the user namespace.
var noUserNS = map[string]bool{"berth": true, "version": true, "quadlet": true, "completion": true, "help": true, "login": true, "logout": true, "runtime": true, "cdi": true,
	cobra.ShellCompRequestCmd: true, cobra.ShellCompNoDescRequestCmd: true}

func topLevel(cmd *cobra.Command) *cobra.Command {
	for cmd.HasParent() && cmd.Parent().HasParent() {
		cmd = cmd.Parent()
	}
	return cmd
}

// newRootCommand builds the whole command tree. Each command group adds its commands here,
// both under its noun (`berth image ls`) and, where Docker has them, at top level (`berth images`).
func newRootCommand(g *cli.Globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "A daemonless container engine",
		Long:          "berth builds, pulls, pushes and runs containers with no daemon; a drop-in for the docker CLI.\n\n" + errdefs.ExitTable,
		Version:       engine.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetContext(cli.WithGlobals(cmd.Context(), g))
			if err := g.Setup(cmd.Root().PersistentFlags()); err != nil {
				return err
			}
			// Rootless commands that touch storage run inside the user's namespace.
			if cli.Engine(cmd).Config.Rootless && !userns.Inside() && !noUserNS[topLevel(cmd).Name()] {
				return userns.Enter(paths.For(paths.FromOS()).RunRoot)
			}
			return nil
		},
	}
	// An unknown command is the user's error, exit 1 as in Docker; with no command berth
	// prints its help.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return errdefs.Newf(errdefs.ErrInvalid, "%s\nRun '%s --help' for usage", msg, cmd.CommandPath())
	}
	root.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	root.SetFlagErrorFunc(cli.FlagError)
	root.SetVersionTemplate("berth version {{.Version}}\n")
	g.AddFlags(root.PersistentFlags())
	root.AddCommand(system.Commands()...)
	root.AddCommand(image.Commands()...)
	root.AddCommand(image.BuildCommands()...)
	root.AddCommand(container.Commands()...)
	root.AddCommand(network.Command())
	root.AddCommand(kube.Command())
	root.AddCommand(pod.Command())
	root.AddCommand(runtime.Command())
	root.AddCommand(cdi.Command())
	gen := generate.Command()
	gen.AddCommand(kube.GenerateKubeCommand())
	root.AddCommand(gen)
	root.AddCommand(kube.PlayCommand())
	root.AddCommand(quadlet.Command())
	root.AddCommand(autoupdate.Command())
	return root
}
