package engine

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libcontainer/cgroups"
	"github.com/berth-project/berth/libimage"
	"github.com/berth-project/berth/libimage/archive"
)

// withLayer calls fn with the container's layer, mounted for the call unless it runs.
func (e *Engine) withLayer(ctx context.Context, c *Container, fn func(root string) error) error {
	lk, err := e.Lock(ctx, "container", c.ID)
	if err != nil {
		return err
	}
	defer lk.Release()
	store, err := e.Images(ctx)
	if err != nil {
		return err
	}
	root, err := store.MountContainerLayer(ctx, c.ID)
	if err != nil {
		return err
	}
	if !c.Active() {
		defer store.UnmountContainerLayer(ctx, c.ID)
	}
	return fn(root)
}

// tarPath writes p (a file or a directory tree) as a tar whose top entry is named name.
func tarPath(ctx context.Context, p, name string, w io.Writer) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		tw := tar.NewWriter(w)
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = name
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(tw, f); err != nil {
				return err
			}
		}
		return tw.Close()
	}
	return archive.Tar(ctx, p, w, &archive.TarOptions{Prefix: name})
}

// ExportContainer writes the container's filesystem (its layer, without volumes) as a tar.
func (e *Engine) ExportContainer(ctx context.Context, ref string, w io.Writer) error {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return err
	}
	if err := e.withLayer(ctx, c, func(root string) error { return archive.Tar(ctx, root, w, nil) }); err != nil {
		return err
	}
	e.containerEvent(c, "export")
	return nil
}

// layerDiff streams the container's changes as an OCI layer tar; close it when done.
func layerDiff(ctx context.Context, store *libimage.Store, id string) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(store.DiffContainerLayer(ctx, id, pw)) }()
	return pr
}

// Change is one line of `diff`: Kind is A (added), C (changed) or D (deleted).
type Change struct {
	Kind byte
	Path string
}

// runtimeMountPoints are made by the runtime in every container: diff does not show them.
var runtimeMountPoints = map[string]bool{"/dev": true, "/proc": true, "/sys": true, "/etc/hostname": true,
	"/etc/hosts": true, "/etc/resolv.conf": true, initPath: true}

// DiffContainer lists what changed in the container's filesystem against its image.
func (e *Engine) DiffContainer(ctx context.Context, ref string) ([]Change, error) {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return nil, err
	}
	store, err := e.Images(ctx)
	if err != nil {
		return nil, err
	}
	// A throwaway layer over the image shows what the image had.
	probe := "diff-" + randomID()[:24]
	if err := store.CreateContainerLayer(ctx, probe, c.ImageID); err != nil {
		return nil, err
	}
	defer store.RemoveContainerLayer(context.Background(), probe)
	lower, err := store.MountContainerLayer(ctx, probe)
	if err != nil {
		return nil, err
	}
	defer store.UnmountContainerLayer(context.Background(), probe)
	pr := layerDiff(ctx, store, c.ID)
	defer pr.Close()
	var out []Change
	tr := tar.NewReader(pr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		name := "/" + strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		dir, base := path.Split(name)
		switch {
		case runtimeMountPoints[name]:
			continue
		case base == ".wh..wh..opq":
			continue
		case strings.HasPrefix(base, ".wh."):
			out = append(out, Change{'D', path.Join(dir, strings.TrimPrefix(base, ".wh."))})
		default:
			kind := byte('A')
			if _, err := os.Lstat(filepath.Join(lower, name)); err == nil {
				kind = 'C'
			}
			out = append(out, Change{kind, name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// CommitOptions are `commit`'s flags.
type CommitOptions struct {
	Changes []string
	Message string
	Author  string
	Pause   bool
}

// CommitContainer stores the container's changes as a new image named ref (may be empty).
func (e *Engine) CommitContainer(ctx context.Context, ctrRef, ref string, o CommitOptions) (*libimage.Image, error) {
	c, err := e.Container(ctx, ctrRef)
	if err != nil {
		return nil, err
	}
	store, err := e.Images(ctx)
	if err != nil {
		return nil, err
	}
	parent, err := store.Lookup(ctx, c.ImageID)
	if err != nil {
		return nil, err
	}
	cfg := *parent.Config.Config.DeepCopy()
	co := c.Options
	if co.Entrypoint != nil {
		cfg.Entrypoint = *co.Entrypoint
	}
	if len(co.Cmd) > 0 || co.Entrypoint != nil {
		cfg.Cmd = co.Cmd
	}
	cfg.Env = mergeEnv(cfg.Env, co.Env)
	if co.Workdir != "" {
		cfg.WorkingDir = co.Workdir
	}
	if co.User != "" {
		cfg.User = co.User
	}
	for _, ch := range o.Changes {
		if err := libimage.ApplyChange(&cfg, ch); err != nil {
			return nil, err
		}
	}
	if o.Pause && c.State == StateRunning {
		if _, err := e.PauseContainer(ctx, c.ID, true); err == nil {
			defer e.PauseContainer(context.Background(), c.ID, false)
		}
	}
	var names []string
	if ref != "" {
		names = []string{ref}
	}
	pr := layerDiff(ctx, store, c.ID)
	defer pr.Close()
	h := v1.History{Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: "berth commit " + c.Name, Comment: o.Message, Author: o.Author}
	img, err := store.Commit(ctx, parent, pr, cfg, h, names)
	if err != nil {
		return nil, err
	}
	e.containerEvent(c, "commit", "comment", o.Message, "imageID", img.ID, "imageRef", ref)
	return img, nil
}

// Top runs ps with args (default -ef) on the host and keeps the container's processes.
func (e *Engine) Top(ctx context.Context, ref string, args []string) ([]string, [][]string, error) {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if c.State != StateRunning && c.State != StatePaused {
		return nil, nil, errdefs.Newf(errdefs.ErrConflict, "container %s is not running", c.Name)
	}
	pids, err := e.containerPids(c)
	if err != nil {
		return nil, nil, err
	}
	return topPids(ctx, pids, args)
}

// PodTop is Top over every running container of a pod, its infra container included.
func (e *Engine) PodTop(ctx context.Context, ref string, args []string) ([]string, [][]string, error) {
	p, cs, err := e.podAndContainers(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	var pids []int
	for _, c := range cs {
		if c.State != StateRunning && c.State != StatePaused {
			continue
		}
		ps, err := e.containerPids(c)
		if err != nil {
			return nil, nil, err
		}
		pids = append(pids, ps...)
	}
	if len(pids) == 0 {
		return nil, nil, errdefs.Newf(errdefs.ErrInvalid, "pod %s is not running", p.Name)
	}
	return topPids(ctx, pids, args)
}

func (e *Engine) containerPids(c *Container) ([]int, error) {
	rt, err := e.runtimeFor(c.Options.Runtime)
	if err != nil {
		return nil, err
	}
	return rt.Pids(c.ID)
}

// topPids runs ps with args (default -ef) and keeps the rows of pids.
func topPids(ctx context.Context, pids []int, args []string) ([]string, [][]string, error) {
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	out, err := exec.CommandContext(ctx, "ps", args...).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("ps %s: %w", strings.Join(args, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	titles := strings.Fields(lines[0])
	pidCol := -1
	for i, t := range titles {
		if t == "PID" {
			pidCol = i
		}
	}
	if pidCol < 0 {
		return nil, nil, errdefs.Newf(errdefs.ErrInvalid, "ps %s: no PID column in its output", strings.Join(args, " "))
	}
	in := map[string]bool{}
	for _, p := range pids {
		in[strconv.Itoa(p)] = true
	}
	var rows [][]string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= pidCol || !in[f[pidCol]] {
			continue
		}
		// The last column (the command) may contain spaces.
		row := append(f[:len(titles)-1:len(titles)-1], strings.Join(f[len(titles)-1:], " "))
		rows = append(rows, row)
	}
	return titles, rows, nil
}

// Stats is one sample of `stats`.
type Stats struct {
	ID, Name              string
	CPUPercent            float64
	MemUsage, MemLimit    uint64
	PIDs                  uint64
	BlockRead, BlockWrite uint64
	cpuNs                 uint64
	at                    time.Time
}

// ContainerStats samples a running container's cgroup; with prev, CPUPercent is the usage
// since prev.
func (e *Engine) ContainerStats(ctx context.Context, c *Container, prev *Stats) (*Stats, error) {
	cg, err := cgroups.New("/berth/" + c.ID)
	if err != nil {
		return nil, err
	}
	s, err := cg.Stats()
	if err != nil {
		return nil, err
	}
	out := &Stats{ID: c.ID, Name: c.Name, MemUsage: s.MemoryUsage, MemLimit: s.MemoryLimit, PIDs: s.PidsCurrent,
		BlockRead: s.BlkioRead, BlockWrite: s.BlkioWrite, cpuNs: s.CPUUsageNs, at: time.Now()}
	if out.MemLimit == 0 || out.MemLimit > hostMemory() {
		out.MemLimit = hostMemory()
	}
	if prev != nil && out.at.After(prev.at) && out.cpuNs >= prev.cpuNs {
		out.CPUPercent = float64(out.cpuNs-prev.cpuNs) / float64(out.at.Sub(prev.at).Nanoseconds()) * 100
	}
	return out, nil
}

func hostMemory() uint64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n * 1024
		}
	}
	return 0
}

// ContainerSize returns the bytes the container's writable layer holds and that plus its
// image's size.
func (e *Engine) ContainerSize(ctx context.Context, c *Container) (rw, virtual int64, err error) {
	store, err := e.Images(ctx)
	if err != nil {
		return 0, 0, err
	}
	pr := layerDiff(ctx, store, c.ID)
	defer pr.Close()
	tr := tar.NewReader(pr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		rw += h.Size
	}
	if img, err := store.Lookup(ctx, c.ImageID); err == nil {
		virtual = img.Size
	}
	return rw, rw + virtual, nil
}
