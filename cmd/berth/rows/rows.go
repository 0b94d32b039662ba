// Package rows holds the row types of berth's listings (ps, images, volume ls, network ls,
// system df -v): one struct per object kind whose fields and methods are the docker CLI's
// template names, so `--format '{{.Label "k"}}'` and `--format json` read the same in all.
package rows

import (
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libimage"
)

// timeLayout is how listings print a time (Docker's CreatedAt).
const timeLayout = "2006-01-02 15:04:05 -0700 MST"

// HumanSize prints bytes the way docker does (4.26MB).
func HumanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// joinLabels renders labels as k=v pairs, sorted, joined by commas (Docker's .Labels).
func joinLabels(labels map[string]string) string {
	var l []string
	for k, v := range labels {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}

// Container is one line of `ps` and of `system df -v`'s containers.
type Container struct {
	ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Size, Names string
	Labels, Mounts, Networks, LocalVolumes                                       string
	// Podman's: the pod's ID and name.
	Pod, PodName string

	labels map[string]string
}

// Label is the value of one of the container's labels ("" when it has none).
func (r Container) Label(name string) string { return r.labels[name] }

// NewContainer makes c's row; img is its image (nil when gone). With trunc the ID is short
// and the command cut to 20 characters, as docker prints them in a table.
func NewContainer(c *engine.Container, img *libimage.Image, trunc bool) Container {
	r := Container{ID: c.ID, Names: c.Name, State: c.State, Image: c.Options.Image, Status: c.Status(),
		CreatedAt: c.Created.Local().Format(timeLayout), RunningFor: units.HumanDuration(time.Since(c.Created)) + " ago",
		Networks: strings.Join(c.NetworkNames(), ","), Command: CommandLine(c, img), labels: c.Options.Labels}
	if r.Networks == "" {
		r.Networks = c.NetworkMode()
	}
	if c.Net != nil && c.Active() {
		r.Ports = engine.FormatPorts(c.Net.Ports)
	}
	if img != nil && len(img.Names) == 0 {
		r.Image = img.ShortID()
	}
	var mounts []string
	volumes := 0
	for _, m := range c.Options.Mounts {
		mounts = append(mounts, m.Source)
		if m.Type == "volume" {
			volumes++
		}
	}
	r.Labels, r.Mounts, r.LocalVolumes = joinLabels(c.Options.Labels), strings.Join(mounts, ","), strconv.Itoa(volumes)
	r.Pod = c.Options.Pod
	if trunc {
		r.ID = c.ID[:12]
		if len(r.Pod) > 12 {
			r.Pod = r.Pod[:12]
		}
		if len(r.Command) > 20 {
			r.Command = r.Command[:19] + "…"
		}
	}
	r.Command = `"` + r.Command + `"`
	return r
}

// CommandLine is the container's command as ps shows it: its entrypoint and command, or
// its image's (img may be nil).
func CommandLine(c *engine.Container, img *libimage.Image) string {
	o := c.Options
	var args []string
	switch {
	case o.Entrypoint != nil || len(o.Cmd) > 0:
		if o.Entrypoint != nil {
			args = append(args, *o.Entrypoint...)
		}
		args = append(args, o.Cmd...)
	case img != nil:
		ic := img.Config.Config
		args = append(append(args, ic.Entrypoint...), ic.Cmd...)
	}
	return strings.Join(args, " ")
}

// Image is one line of `images` and of `system df -v`'s images: Docker's fields, and
// Podman's (.Names, .Labels as a map, .Created, .Dangling, .ReadOnly).
type Image struct {
	ID, Repository, Tag, Digest, CreatedSince, CreatedAt  string
	Size, VirtualSize, SharedSize, UniqueSize, Containers string

	Names    []string
	Labels   map[string]string
	Created  string // as CreatedSince
	Dangling bool
	ReadOnly bool

	created time.Time
	size    int64
}

// Label is the value of one of the image's labels.
func (r Image) Label(name string) string { return r.Labels[name] }

// SortImages orders image rows for --sort: newest first by created, else ascending.
func SortImages(rows []any, by string) error {
	row := func(i int) Image { return rows[i].(Image) }
	var less func(a, b Image) bool
	switch by {
	case "created", "":
		less = func(a, b Image) bool { return a.created.After(b.created) }
	case "id":
		less = func(a, b Image) bool { return a.ID < b.ID }
	case "repository":
		less = func(a, b Image) bool { return a.Repository < b.Repository }
	case "tag":
		less = func(a, b Image) bool { return a.Tag < b.Tag }
	case "size":
		less = func(a, b Image) bool { return a.size < b.size }
	default:
		return errdefs.Newf(errdefs.ErrInvalid, "invalid --sort %q: want created, id, repository, size or tag", by)
	}
	sort.SliceStable(rows, func(i, j int) bool { return less(row(i), row(j)) })
	return nil
}

// NewImages gives one row per name of img, or a single <none> row for an untagged image.
func NewImages(img *libimage.Image, noTrunc bool) []Image {
	base := Image{ID: img.ShortID(), Digest: "<none>", Size: HumanSize(img.Size), VirtualSize: HumanSize(img.Size),
		SharedSize: "N/A", UniqueSize: "N/A", CreatedSince: units.HumanDuration(time.Since(img.Created)) + " ago",
		CreatedAt: img.Created.Local().Format(timeLayout), Containers: "N/A", created: img.Created, size: img.Size,
		Names: img.Names, Labels: img.Config.Config.Labels, Dangling: len(img.Names) == 0}
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
		return []Image{r}
	}
	var out []Image
	for _, n := range img.Names {
		r := base
		repo, tag := libimage.SplitName(n)
		if dg, ok := digestOf[repo]; ok {
			r.Digest = dg
		}
		r.Repository, r.Tag = libimage.FamiliarName(repo), tag
		out = append(out, r)
	}
	return out
}

// Volume is one line of `volume ls` and of `system df -v`'s volumes.
type Volume struct {
	Driver, Name, Mountpoint, Scope, Labels, Links, Size, CreatedAt string

	labels map[string]string
}

// Label is the value of one of the volume's labels.
func (r Volume) Label(name string) string { return r.labels[name] }

// NewVolume makes v's row; links and size are "N/A" unless measured (links < 0, size < 0).
func NewVolume(v *engine.Volume, links int, size int64) Volume {
	r := Volume{Driver: v.Driver, Name: v.Name, Mountpoint: v.Mountpoint, Scope: v.Scope, Labels: joinLabels(v.Labels),
		Links: "N/A", Size: "N/A", CreatedAt: v.CreatedAt.Local().Format(timeLayout), labels: v.Labels}
	if links >= 0 {
		r.Links = strconv.Itoa(links)
	}
	if size >= 0 {
		r.Size = HumanSize(size)
	}
	return r
}

// Network is one line of `network ls`.
type Network struct {
	ID, Name, Driver, Scope, IPv6, IPv4, Internal, Labels, CreatedAt string

	labels map[string]string
}

// Label is the value of one of the network's labels.
func (r Network) Label(name string) string { return r.labels[name] }

// NewNetwork makes n's row, its ID cut to 12 characters with trunc.
func NewNetwork(n *engine.Network, trunc bool) Network {
	r := Network{ID: n.ID, Name: n.Name, Driver: n.Driver, Scope: "local", IPv6: strconv.FormatBool(n.IPv6), IPv4: "true",
		Internal: strconv.FormatBool(n.Internal), Labels: joinLabels(n.Labels),
		CreatedAt: n.Created.Local().Format(timeLayout), labels: n.Labels}
	if trunc && len(r.ID) > 12 {
		r.ID = r.ID[:12]
	}
	return r
}
