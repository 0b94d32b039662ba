package image

import (
	"path"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/cmd/berth/rows"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/libimage"
)

func listCommand(use string) *cobra.Command {
	var (
		all, quiet, digests, noTrunc, noHeading bool
		filters                                 []string
		f, sortBy                               string
	)
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				filters = append(filters, "reference="+args[0])
			}
			match, err := parseFilters(filters)
			if err != nil {
				return err
			}
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			imgs, err := s.List(ctx)
			if err != nil {
				return err
			}
			if err := match.resolve(func(ref string) (*libimage.Image, error) { return s.Lookup(ctx, ref) }); err != nil {
				return err
			}
			var out []any
			// Build steps' intermediate images show only with -a, as in docker.
			inter, err := cli.Engine(cmd).IntermediateImages(ctx)
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			for _, img := range imgs {
				if !all && len(img.Names) == 0 && inter[img.ID] {
					continue
				}
				for _, r := range rows.NewImages(img, noTrunc) {
					if !match.ok(img, r) {
						continue
					}
					if quiet && seen[r.ID] {
						continue
					}
					seen[r.ID] = true
					out = append(out, r)
				}
			}
			if err := rows.SortImages(out, sortBy); err != nil {
				return err
			}
			def := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if digests {
				def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			return format.List{Format: f, Default: def, Quiet: "ID", QuietOn: quiet, NoHeading: noHeading,
				Headers: map[string]string{"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT"},
			}.Write(cmd.OutOrStdout(), out)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all images (intermediate images too)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fl.BoolVar(&digests, "digests", false, "Show digests")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Filter output (dangling=, reference=, label=, before=, since=)")
	fl.StringVar(&f, "format", "", "Format output using a Go template, 'table ...' or 'json'")
	fl.BoolVarP(&noHeading, "noheading", "n", false, "Do not print the table's header line")
	fl.StringVar(&sortBy, "sort", "created", "Sort by created, id, repository, size or tag")
	return cmd
}

// imageFilter is the parsed --filter set; every given filter must match.
type imageFilter struct {
	dangling        *bool
	references      []string
	labels          []string
	before, since   string
	beforeT, sinceT time.Time
}

func parseFilters(fs []string) (*imageFilter, error) {
	m := &imageFilter{}
	for _, f := range fs {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, cli.Invalid("bad filter %q: want KEY=VALUE", f)
		}
		switch k {
		case "dangling":
			b := v == "true" || v == "1"
			if !b && v != "false" && v != "0" {
				return nil, cli.Invalid("bad filter %q: dangling takes true or false", f)
			}
			m.dangling = &b
		case "reference":
			if _, err := path.Match(v, ""); err != nil {
				return nil, cli.Invalid("bad filter %q: %v", f, err)
			}
			m.references = append(m.references, v)
		case "label":
			m.labels = append(m.labels, v)
		case "before":
			m.before = v
		case "since", "after": // after: Podman's name
			m.since = v
		default:
			return nil, cli.Invalid("invalid filter %q", k)
		}
	}
	return m, nil
}

// resolve looks up the images that before= and since= name.
func (m *imageFilter) resolve(lookup func(string) (*libimage.Image, error)) error {
	for _, p := range []struct {
		ref string
		t   *time.Time
	}{{m.before, &m.beforeT}, {m.since, &m.sinceT}} {
		if p.ref == "" {
			continue
		}
		img, err := lookup(p.ref)
		if err != nil {
			return err
		}
		*p.t = img.Created
	}
	return nil
}

func (m *imageFilter) ok(img *libimage.Image, r rows.Image) bool {
	if m.dangling != nil && *m.dangling != (len(img.Names) == 0) {
		return false
	}
	if len(m.references) > 0 {
		name := r.Repository
		if r.Tag != "" && r.Tag != "<none>" {
			name += ":" + r.Tag
		}
		hit := false
		for _, p := range m.references {
			if ok, _ := path.Match(p, name); ok {
				hit = true
			} else if ok, _ := path.Match(p, r.Repository); ok {
				hit = true
			}
		}
		if !hit {
			return false
		}
	}
	for _, l := range m.labels {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := img.Config.Config.Labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	if m.before != "" && !img.Created.Before(m.beforeT) {
		return false
	}
	if m.since != "" && !img.Created.After(m.sinceT) {
		return false
	}
	return true
}

// humanSize prints bytes the way docker does (4.26MB).
func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }
