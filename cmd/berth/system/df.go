package system

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/cmd/berth/rows"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/libimage"
)

// dfRow is one line of `system df`, with Docker's template names.
type dfRow struct {
	Type, TotalCount, Active, Size, Reclaimable string
}

func newDFRow(typ string, total, active int, size, reclaimable int64, percent bool) dfRow {
	r := dfRow{Type: typ, TotalCount: strconv.Itoa(total), Active: strconv.Itoa(active), Size: rows.HumanSize(size),
		Reclaimable: rows.HumanSize(reclaimable)}
	if percent && size > 0 {
		r.Reclaimable = fmt.Sprintf("%s (%d%%)", r.Reclaimable, reclaimable*100/size)
	}
	return r
}

// summary gives the four lines of `system df`: images, containers, local volumes, build cache.
func summary(du *engine.DiskUsage) []any {
	var active int
	usedLayers := map[string]bool{}
	for _, u := range du.Images {
		if u.Containers > 0 {
			active++
			for _, ch := range chainIDs(u) {
				usedLayers[ch] = true
			}
		}
	}
	var usedBytes int64
	for ch := range usedLayers {
		usedBytes += du.LayerSizes[ch]
	}
	images := newDFRow("Images", len(du.Images), active, du.LayersSize, max(du.LayersSize-usedBytes, 0), true)

	containers := usageRow("Containers", du.Containers, true, func(u engine.ContainerUsage) (int64, bool) {
		return u.Size, u.Container.Active()
	})
	volumes := usageRow("Local Volumes", du.Volumes, true, func(u engine.VolumeUsage) (int64, bool) { return u.Size, u.Links > 0 })
	cache := usageRow("Build Cache", du.BuildCache, false, func(u engine.BuildCacheUsage) (int64, bool) { return u.Size, u.InUse })
	return []any{images, containers, volumes, cache}
}

// usageRow is the line of `system df` for items, each of a size and in use or not: the size of
// those not in use is reclaimable.
func usageRow[T any](typ string, items []T, percent bool, usage func(T) (size int64, inUse bool)) dfRow {
	var size, reclaim int64
	active := 0
	for _, u := range items {
		n, inUse := usage(u)
		size += n
		if inUse {
			active++
		} else {
			reclaim += n
		}
	}
	return newDFRow(typ, len(items), active, size, reclaim, percent)
}

func chainIDs(u engine.ImageUsage) []string { return u.Layers }

// buildCacheRow is one line of `system df -v`'s build cache.
type buildCacheRow struct {
	ID, CacheType, Size, CreatedSince, LastUsedSince, UsageCount, Shared, InUse string
}

// verbose is what `system df -v` shows, and what its templates see.
type verbose struct {
	Images     []rows.Image
	Containers []rows.Container
	Volumes    []rows.Volume
	BuildCache []buildCacheRow
}

func newVerbose(du *engine.DiskUsage, trunc bool) *verbose {
	v := &verbose{Images: []rows.Image{}, Containers: []rows.Container{}, Volumes: []rows.Volume{}, BuildCache: []buildCacheRow{}}
	images := map[string]*engine.ImageUsage{}
	for i, u := range du.Images {
		images[u.Image.ID] = &du.Images[i]
		for _, r := range rows.NewImages(u.Image, !trunc) {
			r.SharedSize = rows.HumanSize(u.SharedSize)
			r.UniqueSize = rows.HumanSize(u.Size - u.SharedSize)
			r.Containers = strconv.Itoa(u.Containers)
			v.Images = append(v.Images, r)
		}
	}
	for _, u := range du.Containers {
		r := rows.NewContainer(u.Container, imageOf(images[u.Container.ImageID]), trunc)
		r.Size = rows.HumanSize(u.Size)
		v.Containers = append(v.Containers, r)
	}
	for _, u := range du.Volumes {
		v.Volumes = append(v.Volumes, rows.NewVolume(u.Volume, u.Links, u.Size))
	}
	for _, u := range du.BuildCache {
		id := u.ID
		if trunc && len(id) > 19 {
			id = id[len(id)-12:]
		}
		v.BuildCache = append(v.BuildCache, buildCacheRow{ID: id, CacheType: u.Type, Size: rows.HumanSize(u.Size),
			CreatedSince: "N/A", LastUsedSince: "N/A", UsageCount: "N/A", Shared: "false", InUse: strconv.FormatBool(u.InUse)})
	}
	return v
}

func imageOf(u *engine.ImageUsage) *libimage.Image {
	if u == nil {
		return nil
	}
	return u.Image
}

func (v *verbose) writeTables(w io.Writer, du *engine.DiskUsage) error {
	sections := []struct {
		title, def string
		headers    map[string]string
		rows       []any
	}{
		{"Images space usage:", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
			map[string]string{"ID": "IMAGE ID", "CreatedSince": "CREATED"}, anys(v.Images)},
		{"Containers space usage:", "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
			map[string]string{"ID": "CONTAINER ID", "RunningFor": "CREATED"}, anys(v.Containers)},
		{"Local Volumes space usage:", "table {{.Name}}\t{{.Links}}\t{{.Size}}",
			map[string]string{"Name": "VOLUME NAME"}, anys(v.Volumes)},
		{"Build cache usage: " + rows.HumanSize(cacheSize(du)), "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
			map[string]string{"ID": "CACHE ID", "CreatedSince": "CREATED", "LastUsedSince": "LAST USED"}, anys(v.BuildCache)},
	}
	for i, s := range sections {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s\n\n", s.title)
		if err := (format.List{Default: s.def, Headers: s.headers}).Write(w, s.rows); err != nil {
			return err
		}
	}
	return nil
}

func cacheSize(du *engine.DiskUsage) int64 {
	var n int64
	for _, u := range du.BuildCache {
		n += u.Size
	}
	return n
}

func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i := range s {
		out[i] = s[i]
	}
	return out
}

func dfCommand() *cobra.Command {
	var verboseOut bool
	var f string
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show docker disk usage",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			du, err := cli.Engine(cmd).DiskUsage(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if !verboseOut {
				return format.List{Format: f, Default: "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
					Headers: map[string]string{"TotalCount": "TOTAL"}}.Write(w, summary(du))
			}
			v := newVerbose(du, f == "" || f == "table")
			if f == "" || f == "table" {
				return v.writeTables(w, du)
			}
			return format.Object(w, f, v)
		},
	}
	cmd.Flags().BoolVarP(&verboseOut, "verbose", "v", false, "Show detailed information on space usage")
	cmd.Flags().StringVar(&f, "format", "", "Format output using a Go template, 'table ...' or 'json'")
	return cmd
}
