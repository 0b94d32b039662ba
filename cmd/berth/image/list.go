package image

import (
	"path"
	"sort"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/libimage"
)

// imageRow is one line of `berth images`, with Docker's template field names.
type imageRow struct {
	ID           string
	Repository   string
	Tag          string
	Digest       string
	CreatedSince string
	CreatedAt    string
	Size         string
	Containers   string
	// Podman's fields.
	Names       []string
	Labels      map[string]string
	Created     string // as CreatedSince
	Dangling    bool
	ReadOnly    bool
	VirtualSize string
	SharedSize  string
	created     time.Time
	size        int64
}

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
			var rows []any
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
				for _, r := range imageRows(img, noTrunc) {
					if !match.ok(img, r) {
						continue
					}
					if quiet && seen[r.ID] {
						continue
					}
					seen[r.ID] = true
					rows = append(rows, r)
				}
			}
			if err := sortImageRows(rows, sortBy); err != nil {
				return err
			}
			def := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if digests {
				def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			return format.List{Format: f, Default: def, Quiet: "ID", QuietOn: quiet, NoHeading: noHeading,
				Headers: map[string]string{"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT"},
			}.Write(cmd.OutOrStdout(), rows)
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

// sortImageRows orders rows for --sort: newest first by created, else ascending.
func sortImageRows(rows []any, by string) error {
	row := func(i int) imageRow { return rows[i].(imageRow) }
	var less func(a, b imageRow) bool
	switch by {
	case "created", "":
		less = func(a, b imageRow) bool { return a.created.After(b.created) }
	case "id":
		less = func(a, b imageRow) bool { return a.ID < b.ID }
	case "repository":
		less = func(a, b imageRow) bool { return a.Repository < b.Repository }
	case "tag":
		less = func(a, b imageRow) bool { return a.Tag < b.Tag }
	case "size":
		less = func(a, b imageRow) bool { return a.size < b.size }
	default:
		return cli.Invalid("invalid --sort %q: want created, id, repository, size or tag", by)
	}
	sort.SliceStable(rows, func(i, j int) bool { return less(row(i), row(j)) })
	return nil
}

// imageRows gives one row per name of img, or a single <none> row for an untagged image.
func imageRows(img *libimage.Image, noTrunc bool) []imageRow {
	base := imageRow{ID: img.ShortID(), Digest: "<none>", Size: humanSize(img.Size),
		CreatedSince: units.HumanDuration(time.Since(img.Created)) + " ago", CreatedAt: img.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		Containers: "N/A", created: img.Created, size: img.Size,
		Names: img.Names, Labels: img.Config.Config.Labels, Dangling: len(img.Names) == 0,
		VirtualSize: humanSize(img.Size), SharedSize: "N/A"}
	if base.Names == nil {
		base.Names = []string{}
	}
	if img.Created.IsZero() || img.Created.Unix() <= 0 {
		base.CreatedSince = "N/A"
	}
	base.Created = base.CreatedSince
	if noTrunc {
		base.ID = img.ID
	}
	digestOf := map[string]string{}
	for _, d := range img.Digests {
		repo, dg := libimage.SplitName(d)
		digestOf[repo] = dg
	}
	if len(img.Names) == 0 {
		r := base
		r.Repository, r.Tag = "<none>", "<none>"
		for _, dg := range digestOf {
			r.Digest = dg
		}
		return []imageRow{r}
	}
	var rows []imageRow
	for _, n := range img.Names {
		r := base
		repo, tag := libimage.SplitName(n)
		if dg, ok := digestOf[repo]; ok {
			r.Digest = dg
		}
		r.Repository, r.Tag = libimage.FamiliarName(repo), tag
		rows = append(rows, r)
	}
	return rows
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
		case "since":
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

func (m *imageFilter) ok(img *libimage.Image, r imageRow) bool {
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
