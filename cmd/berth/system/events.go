package system

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/format"
)

type eventsOptions struct {
	since, until, format string
	filters, untilMatch  []string
	stream, noTrunc      bool
}

func eventsCommand() *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Long: `Print the events of containers, images, volumes, networks and pods as they happen.

With --since, stored events from that point come first; with --until in the past, the command
prints that window and exits. --since and --until take a duration before now (10m), a date or
time (2026-01-02T15:04:05), unix seconds, or an event's cursor (--format '{{.Cursor}}'), from
which reading resumes exactly after that event.

--until-match FILTER (KEY=VALUE, as --filter, repeatable) exits 0 when an event matching it
arrives, e.g. --until-match event=die --until-match container=web, or health_status=healthy;
it exits 1 when the window (--until, --stream=false) ends without one.`,
		Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.since, "since", "", "Show events since a timestamp, duration or cursor, then follow")
	fl.StringVar(&o.until, "until", "", "Stream events until this timestamp, duration or cursor")
	fl.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided (container, image, volume, network, pod, type, event, label)")
	fl.StringVar(&o.format, "format", "", "Format the output using a Go template, or json")
	fl.StringArrayVar(&o.untilMatch, "until-match", nil, "Exit 0 once an event matching this KEY=VALUE filter arrives")
	fl.BoolVar(&o.stream, "stream", true, "Follow new events; false prints the stored ones and exits")
	fl.BoolVar(&o.noTrunc, "no-trunc", true, "Do not truncate IDs in the default output")
	return cmd
}

func (o *eventsOptions) run(cmd *cobra.Command) error {
	now := time.Now()
	var q events.Query
	if o.since != "" {
		b, err := events.ParseBound(o.since, now)
		if err != nil {
			return err
		}
		q.Since, q.After = b.Time, b.Cursor
	}
	if o.until != "" {
		b, err := events.ParseBound(o.until, now)
		if err != nil {
			return err
		}
		q.Until, q.UntilCursor = b.Time, b.Cursor
		if b.Cursor != nil {
			q.Until = time.Time{}
		}
	}
	filter, err := events.ParseFilter(o.filters)
	if err != nil {
		return err
	}
	var match events.Filter
	if len(o.untilMatch) > 0 {
		if match, err = events.ParseFilter(o.untilMatch); err != nil {
			return err
		}
	}
	write := func(ev *events.Event) error {
		if !o.noTrunc && len(ev.Actor.ID) == 64 {
			short := *ev
			short.Actor.ID = ev.Actor.ID[:12]
			ev = &short
		}
		_, err := cmd.OutOrStdout().Write([]byte(ev.String() + "\n"))
		return err
	}
	if o.format != "" {
		tmpl, err := format.Stream(o.format)
		if err != nil {
			return err
		}
		write = func(ev *events.Event) error { return tmpl(cmd.OutOrStdout(), ev) }
	}
	q.Follow = o.stream
	matched := false
	err = cli.Engine(cmd).Events().Read(cmd.Context(), q, func(ev *events.Event) error {
		if filter.Match(ev) {
			if err := write(ev); err != nil {
				return err
			}
		}
		if match != nil && match.Match(ev) {
			matched = true
			return events.ErrStop
		}
		return nil
	})
	if errors.Is(err, context.Canceled) {
		err = nil // interrupted: the stream was the output
	}
	if err == nil && match != nil && !matched {
		// Like grep: 1 says "no match", distinct from a failure.
		fmt.Fprintf(cmd.ErrOrStderr(), "Error: no event matched --until-match %s\n", match)
		return &errdefs.ExitError{Code: 1}
	}
	return err
}
