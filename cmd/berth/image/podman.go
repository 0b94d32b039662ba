package image

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
)

// Podman's image commands that Docker lacks: untag and image exists.

func untagCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "untag IMAGE [NAME...]",
		Short: "Remove names from a local image (all of them without NAME); the image stays",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			return s.Untag(ctx, args[0], args[1:])
		},
	}
}

// existsCommand exits 0 when the image exists and 1 when it does not, printing nothing.
func existsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "exists IMAGE",
		Short: "Check if an image exists in local storage (exit status 0 or 1)",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			_, err = s.Lookup(ctx, args[0])
			return cli.ExistsResult(err)
		},
	}
}
