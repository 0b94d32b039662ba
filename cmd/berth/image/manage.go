package image

import (
	"context"
	"fmt"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

func inspectCommand() *cobra.Command {
	var f string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			return cli.InspectEach(cmd, args, f, func(_ context.Context, e *engine.Engine, name string) (any, error) {
				img, err := s.Lookup(ctx, name)
				if err != nil {
					return nil, err
				}
				return e.InspectImage(img), nil
			})
		},
	}
	cmd.Flags().StringVarP(&f, "format", "f", "", "Format the output using a Go template or json")
	return cmd
}

func tagCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG] [TARGET_IMAGE[:TAG]...]",
		Short: "Create tags TARGET_IMAGE that refer to SOURCE_IMAGE",
		Args:  cli.MinimumArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			for _, target := range args[1:] {
				if err := s.Tag(ctx, args[0], target); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func removeCommand(use string) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.EachTarget(cmd, args, cli.IgnoreMissing(force, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				lines, err := e.RemoveImage(ctx, ref, force)
				return strings.Join(lines, "\n"), err
			}))
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	return cmd
}

func pruneCommand() *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := engine.ParsePruneFilters(filters, "until", "label", "label!")
			if err != nil {
				return err
			}
			lines, n, err := cli.Engine(cmd).PruneImages(cmd.Context(), all, pf)
			return cli.PrintPruned(cmd.OutOrStdout(), "Deleted Images:", lines, err, func() int64 { return n })
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (until=, label=, label!=)")
	return cmd
}

type historyRow struct {
	ID           string
	Created      string // Podman's: CreatedSince, or with --human=false CreatedAt
	CreatedSince string
	CreatedAt    string
	CreatedBy    string
	Size         string
	Comment      string
}

func historyCommand() *cobra.Command {
	var quiet, noTrunc, human bool
	var f string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			img, err := s.Lookup(ctx, args[0])
			if err != nil {
				return err
			}
			hist, err := s.History(ctx, img)
			if err != nil {
				return err
			}
			var rows []any
			for _, h := range hist {
				r := historyRow{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment,
					CreatedSince: units.HumanDuration(time.Since(h.Created)) + " ago", CreatedAt: h.Created.Format(time.RFC3339)}
				if !human { // as docker history --human=false: the time itself in CREATED
					r.CreatedSince = r.CreatedAt
				}
				r.Created = r.CreatedSince
				if h.ID != "" {
					r.ID = h.ID
					if !noTrunc {
						r.ID = img.ShortID()
					}
				}
				if human {
					r.Size = humanSize(h.Size)
				} else {
					r.Size = fmt.Sprint(h.Size)
				}
				if !noTrunc && len(r.CreatedBy) > 45 {
					r.CreatedBy = r.CreatedBy[:44] + "…"
				}
				rows = append(rows, r)
			}
			return format.List{Format: f, Quiet: "ID", QuietOn: quiet,
				Default: "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
				Headers: map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedBy": "CREATED BY"},
			}.Write(cmd.OutOrStdout(), rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	fl.StringVar(&f, "format", "", "Format output using a Go template, 'table ...' or 'json'")
	return cmd
}
