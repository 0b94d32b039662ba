package pod

import (
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

// podRow is one line of `pod ps` (podman's field names).
type podRow struct {
	ID, Name, Status, Created, InfraID, NumberOfContainers, Labels, Networks string
	ContainerNames, ContainerIds, ContainerStatuses                          string
}

// podFilter is the set of --filter KEY=VALUE: values of one key are ORed, keys are ANDed.
type podFilter map[string][]string

var podFilterKeys = map[string]bool{"id": true, "name": true, "label": true, "status": true, "ctr-names": true,
	"ctr-ids": true, "ctr-status": true, "ctr-number": true, "network": true}

func parsePodFilters(fs []string) (podFilter, error) {
	out := podFilter{}
	for _, f := range fs {
		k, v, ok := strings.Cut(f, "=")
		if !ok || !podFilterKeys[k] {
			return nil, cli.Invalid("invalid filter %q: want id, name, label, status, ctr-names, ctr-ids, ctr-status, ctr-number or network", f)
		}
		if k == "status" {
			switch strings.ToLower(v) {
			case "created", "running", "degraded", "paused", "exited", "stopped", "dead":
			default:
				return nil, cli.Invalid("invalid filter %q: status is created, running, degraded, paused, exited, stopped or dead", f)
			}
		}
		if k == "ctr-number" {
			if _, err := strconv.Atoi(v); err != nil {
				return nil, cli.Invalid("invalid filter %q: ctr-number takes a number", f)
			}
		}
		out[k] = append(out[k], v)
	}
	return out, nil
}

func (pf podFilter) match(p *engine.Pod, cs []*engine.Container, state string, nets []string) bool {
	any := func(key string, fn func(v string) bool) bool { return cli.FilterAny(pf, key, fn) }
	anyCtr := func(fn func(c *engine.Container) bool) bool {
		for _, c := range cs {
			if fn(c) {
				return true
			}
		}
		return false
	}
	return any("id", func(v string) bool { return strings.HasPrefix(p.ID, v) }) &&
		any("name", func(v string) bool { return strings.Contains(p.Name, v) }) &&
		any("label", func(v string) bool {
			k, val, hasVal := strings.Cut(v, "=")
			got, ok := p.Options.Labels[k]
			return ok && (!hasVal || got == val)
		}) &&
		any("status", func(v string) bool {
			v = strings.ToLower(v)
			return strings.ToLower(state) == v || (v == "stopped" && state == engine.PodExited)
		}) &&
		any("ctr-names", func(v string) bool { return anyCtr(func(c *engine.Container) bool { return c.Name == v }) }) &&
		any("ctr-ids", func(v string) bool {
			return anyCtr(func(c *engine.Container) bool { return strings.HasPrefix(c.ID, v) })
		}) &&
		any("ctr-status", func(v string) bool { return anyCtr(func(c *engine.Container) bool { return c.State == v }) }) &&
		any("ctr-number", func(v string) bool { return strconv.Itoa(len(cs)) == v }) &&
		any("network", func(v string) bool {
			for _, n := range nets {
				if n == v {
					return true
				}
			}
			return false
		})
}

func psCommand() *cobra.Command {
	var quiet, noTrunc, ctrNames, ctrIDs, ctrStatus, noHeading, latest bool
	var f, sortBy string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Aliases: []string{"ls", "list"},
		Short:   "List pods",
		Args:    cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := parsePodFilters(filters)
			if err != nil {
				return err
			}
			switch sortBy {
			case "created", "id", "name", "number", "status":
			default:
				return cli.Invalid("invalid --sort %q: want created, id, name, number or status", sortBy)
			}
			e, ctx := cli.Engine(cmd), cmd.Context()
			ps, err := e.Pods(ctx)
			if err != nil {
				return err
			}
			if latest && len(ps) > 1 {
				ps = ps[:1]
			}
			type listed struct {
				p   *engine.Pod
				row podRow
				n   int
			}
			var items []listed
			for _, p := range ps {
				cs, err := e.PodContainers(ctx, p)
				if err != nil {
					return err
				}
				st := engine.PodState(cs)
				var nets []string
				var names, ids, statuses, labels []string
				r := podRow{ID: p.ID, Name: p.Name, Status: st, InfraID: p.InfraID, NumberOfContainers: strconv.Itoa(len(cs)),
					Created: units.HumanDuration(time.Since(p.Created)) + " ago"}
				for _, c := range cs {
					if c.Infra {
						nets = c.NetworkNames()
						if len(nets) == 0 {
							nets = []string{c.NetworkMode()}
						}
					}
					id := c.ID
					if !noTrunc {
						id = id[:12]
					}
					names, ids, statuses = append(names, c.Name), append(ids, id), append(statuses, c.State)
				}
				if !pf.match(p, cs, st, nets) {
					continue
				}
				for k, v := range p.Options.Labels {
					labels = append(labels, k+"="+v)
				}
				sort.Strings(labels)
				r.Labels, r.Networks = strings.Join(labels, ","), strings.Join(nets, ",")
				r.ContainerNames, r.ContainerIds, r.ContainerStatuses = strings.Join(names, ","), strings.Join(ids, ","), strings.Join(statuses, ",")
				if !noTrunc {
					r.ID = r.ID[:12]
					if len(r.InfraID) > 12 {
						r.InfraID = r.InfraID[:12]
					}
				}
				items = append(items, listed{p, r, len(cs)})
			}
			sort.SliceStable(items, func(i, j int) bool {
				a, b := items[i], items[j]
				switch sortBy {
				case "id":
					return a.p.ID < b.p.ID
				case "name":
					return a.p.Name < b.p.Name
				case "number":
					return a.n < b.n
				case "status":
					return a.row.Status < b.row.Status
				}
				return a.p.Created.After(b.p.Created)
			})
			def := "table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraID}}\t{{.NumberOfContainers}}"
			if ctrNames {
				def += "\t{{.ContainerNames}}"
			}
			if ctrIDs {
				def += "\t{{.ContainerIds}}"
			}
			if ctrStatus {
				def += "\t{{.ContainerStatuses}}"
			}
			rows := make([]any, len(items))
			for i, it := range items {
				rows[i] = it.row
			}
			return format.List{Format: f, Default: def, Quiet: "ID", QuietOn: quiet, NoHeading: noHeading,
				Headers: map[string]string{"ID": "POD ID", "InfraID": "INFRA ID", "NumberOfContainers": "# OF CONTAINERS",
					"ContainerNames": "NAMES", "ContainerIds": "IDS", "ContainerStatuses": "STATUS"}}.Write(cmd.OutOrStdout(), rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display pod IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate pod and container IDs")
	fl.BoolVar(&ctrNames, "ctr-names", false, "Display the names of the pods' containers")
	fl.BoolVar(&ctrIDs, "ctr-ids", false, "Display the IDs of the pods' containers")
	fl.BoolVar(&ctrStatus, "ctr-status", false, "Display the states of the pods' containers")
	fl.BoolVar(&noHeading, "noheading", false, "Do not print headers")
	fl.BoolVarP(&latest, "latest", "l", false, "Act on the latest pod")
	fl.StringVar(&f, "format", "", "Format output using a Go template, 'table ...' or 'json'")
	fl.StringVar(&sortBy, "sort", "created", "Sort by created, id, name, number or status")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Filter output (id=, name=, label=, status=, ctr-names=, ctr-ids=, ctr-status=, ctr-number=, network=)")
	return cmd
}
