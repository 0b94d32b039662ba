package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
)

// ApplyOptions tune [Apply].
type ApplyOptions struct {
	// FilesDir is PlayOptions.FilesDir: the root ConfigMap and Secret files are written under.
	FilesDir string
	// Replace removes the file's pods (as down does) before creating them again.
	Replace bool
	// NoStart creates everything and starts nothing (--start=false).
	NoStart bool
	// Pull fetches an image (the CLI's pull, with its progress).
	Pull func(ctx context.Context, ref string) error
	// Build builds image from its directory beside the file, reporting false when there is
	// none; nil never builds. Force builds even an image that is present (--build).
	Build      func(ctx context.Context, image string) (bool, error)
	ForceBuild bool
}

// Played is what [Apply] created.
type Played struct {
	Volumes []string
	Pods    []PlayedPod
}

// PlayedPod is one pod play created.
type PlayedPod struct {
	Name, ID   string
	Containers []string // ids, in the file's order
	Job        bool
}

// Apply creates what plan describes: images pulled or built as the pull policies say,
// volumes, the ConfigMap and Secret files, then each pod with its containers, the init
// containers run to completion first. A failure removes everything this call created.
func Apply(ctx context.Context, e *engine.Engine, plan *Plan, o ApplyOptions) (_ *Played, retErr error) {
	for _, pp := range plan.Pods {
		p, err := e.Pod(ctx, pp.Name)
		switch {
		case errors.Is(err, errdefs.ErrNotFound):
		case err != nil:
			return nil, err
		case !o.Replace:
			return nil, errdefs.Newf(errdefs.ErrExists, "pod %s already exists: remove it, or play with --replace", p.Name)
		}
	}
	if err := ensureImages(ctx, e, plan, o); err != nil {
		return nil, err
	}
	if o.Replace {
		if _, err := Down(ctx, e, plan, DownOptions{FilesDir: o.FilesDir}); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
	}
	if err := ensureDefaultNetwork(ctx, e, plan); err != nil {
		return nil, err
	}
	played := &Played{}
	var madeVolumes []string
	defer func() {
		if retErr == nil {
			return
		}
		bg := context.Background()
		for _, pp := range played.Pods {
			if err := e.RemovePod(bg, pp.ID, engine.PodRemoveOptions{Force: true}); err != nil {
				logrus.WithField("pod", pp.Name).Debugf("undo play: %v", err)
			}
		}
		for _, pp := range plan.Pods {
			_ = RemoveFiles(o.FilesDir, pp.Name)
		}
		for _, v := range madeVolumes {
			_ = e.RemoveVolume(bg, v, true)
		}
	}()
	for _, v := range plan.Volumes {
		made, err := ensureVolume(ctx, e, v.Name, withLabel(v.Labels, LabelPlay, "pvc"))
		if err != nil {
			return nil, err
		}
		if made {
			madeVolumes = append(madeVolumes, v.Name)
		}
		played.Volumes = append(played.Volumes, v.Name)
	}
	for _, pp := range plan.Pods {
		for _, v := range pp.EmptyDirs {
			made, err := ensureVolume(ctx, e, v, map[string]string{LabelPlay: pp.Name})
			if err != nil {
				return nil, err
			}
			if made {
				madeVolumes = append(madeVolumes, v)
			}
		}
		if err := prepareHostPaths(pp.HostPaths); err != nil {
			return nil, fmt.Errorf("pod %s: %w", pp.Name, err)
		}
		for _, fs := range pp.Files {
			if err := WriteFiles(o.FilesDir, fs); err != nil {
				return nil, err
			}
		}
		if err := createPod(ctx, e, pp, o, played); err != nil {
			return nil, err
		}
	}
	if o.NoStart {
		return played, nil
	}
	for i, pp := range plan.Pods {
		if !pp.Start {
			continue
		}
		if err := startPod(ctx, e, played.Pods[i].Containers); err != nil {
			return nil, fmt.Errorf("start pod %s: %w", pp.Name, err)
		}
	}
	return played, nil
}

// startPod starts a pod's containers: the first alone, as it brings up the pod's infra
// container, then the others at once (each start mostly waits for its monitor and runtime).
func startPod(ctx context.Context, e *engine.Engine, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := e.StartContainer(ctx, ids[0], nil); err != nil {
		return err
	}
	var g errgroup.Group
	for _, id := range ids[1:] {
		g.Go(func() error {
			_, err := e.StartContainer(ctx, id, nil)
			return err
		})
	}
	return g.Wait()
}

// createPod creates pp's pod, runs its init containers in order (each must exit 0; they are
// removed once done) and creates its containers.
func createPod(ctx context.Context, e *engine.Engine, pp PodPlan, o ApplyOptions, played *Played) error {
	po := engine.PodOptions{Name: pp.Name, Labels: withLabel(pp.Labels, LabelPlay, pp.Name), Hostname: pp.Hostname,
		Network: pp.Network, Networks: pp.Networks, Ports: pp.Ports}
	p, err := e.CreatePod(ctx, po)
	if err != nil {
		return fmt.Errorf("create pod %s: %w", pp.Name, err)
	}
	played.Pods = append(played.Pods, PlayedPod{Name: p.Name, ID: p.ID, Job: pp.Job})
	res := &played.Pods[len(played.Pods)-1]
	create := func(cp ContainerPlan) (*engine.Container, error) {
		co := cp.CreateOptions
		co.Pod = p.ID
		co.Hostname = ""
		c, err := e.CreateContainer(ctx, co)
		if err != nil {
			return nil, fmt.Errorf("create container %s: %w", co.Name, err)
		}
		return c, nil
	}
	for _, cp := range pp.InitContainers {
		c, err := create(cp)
		if err != nil {
			return err
		}
		if o.NoStart || !pp.Start {
			res.Containers = append(res.Containers, c.ID)
			continue
		}
		if _, err := e.StartContainer(ctx, c.ID, nil); err != nil {
			return fmt.Errorf("start init container %s: %w", c.Name, err)
		}
		code, err := e.WaitContainer(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("wait for init container %s: %w", c.Name, err)
		}
		if code != 0 {
			return fmt.Errorf("init container %s of pod %s exited with status %d", c.Name, pp.Name, code)
		}
		if err := e.RemoveContainer(ctx, c.ID, engine.RemoveOptions{}); err != nil {
			return err
		}
	}
	for _, cp := range pp.Containers {
		c, err := create(cp)
		if err != nil {
			return err
		}
		res.Containers = append(res.Containers, c.ID)
	}
	return nil
}

// ensureImages makes every image of the plan present as its pull policy says, building it
// from a directory beside the file first when that is asked for.
func ensureImages(ctx context.Context, e *engine.Engine, plan *Plan, o ApplyOptions) error {
	store, err := e.Images(ctx)
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, pp := range plan.Pods {
		for _, cp := range append(append([]ContainerPlan{}, pp.InitContainers...), pp.Containers...) {
			if done[cp.Image] {
				continue
			}
			done[cp.Image] = true
			_, lookErr := store.Lookup(ctx, cp.Image)
			if lookErr != nil && !errors.Is(lookErr, errdefs.ErrNotFound) {
				return lookErr
			}
			if o.Build != nil && (o.ForceBuild || lookErr != nil) {
				built, err := o.Build(ctx, cp.Image)
				if err != nil {
					return fmt.Errorf("build %s: %w", cp.Image, err)
				}
				if built {
					continue
				}
			}
			switch {
			case cp.PullPolicy == "Always" || lookErr != nil && cp.PullPolicy == "IfNotPresent":
				if o.Pull == nil {
					return lookErr
				}
				if err := o.Pull(ctx, cp.Image); err != nil {
					return err
				}
			case lookErr != nil:
				return errdefs.Newf(errdefs.ErrNotFound, "image %s not found and container %s has imagePullPolicy Never", cp.Image, cp.Name)
			}
		}
	}
	return nil
}

// ensureDefaultNetwork creates DefaultNetwork when a pod of the plan joins it.
func ensureDefaultNetwork(ctx context.Context, e *engine.Engine, plan *Plan) error {
	for _, pp := range plan.Pods {
		for _, n := range pp.Networks {
			if n.Name != DefaultNetwork {
				continue
			}
			if _, err := e.Network(ctx, DefaultNetwork); err == nil {
				return nil
			}
			_, err := e.CreateNetwork(ctx, DefaultNetwork, engine.NetworkCreateOptions{Labels: map[string]string{LabelPlay: "network"}})
			if err != nil && !errors.Is(err, errdefs.ErrExists) {
				return fmt.Errorf("create network %s: %w", DefaultNetwork, err)
			}
			return nil
		}
	}
	return nil
}

// ensureVolume creates a named volume unless it exists, and says whether it made it.
func ensureVolume(ctx context.Context, e *engine.Engine, name string, labels map[string]string) (bool, error) {
	if _, err := e.Volume(ctx, name); err == nil {
		return false, nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return false, err
	}
	if _, err := e.CreateVolume(ctx, name, labels); err != nil {
		if errors.Is(err, errdefs.ErrExists) {
			return false, nil
		}
		return false, fmt.Errorf("create volume %s: %w", name, err)
	}
	return true, nil
}

// DownOptions tune [Down].
type DownOptions struct {
	FilesDir string
	// Force also removes the volumes of the file's PersistentVolumeClaims.
	Force bool
}

// Downed is what [Down] removed.
type Downed struct {
	Stopped []string // ids of the pods that had running containers
	Pods    []string // ids
	Volumes []string
}

// Down removes what playing plan created: its pods with their containers, their emptyDir
// volumes and ConfigMap and Secret files, and with Force the PVCs' volumes. A pod of the same
// name that play did not create is left alone.
func Down(ctx context.Context, e *engine.Engine, plan *Plan, o DownOptions) (*Downed, error) {
	out := &Downed{}
	var errs []error
	found := false
	for _, pp := range plan.Pods {
		p, err := e.Pod(ctx, pp.Name)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found = true
		if p.Options.Labels[LabelPlay] != pp.Name {
			errs = append(errs, errdefs.Newf(errdefs.ErrInUse, "pod %s was not created by kube play; not removed", pp.Name))
			continue
		}
		if cs, err := e.PodContainers(ctx, p); err == nil {
			for _, c := range cs {
				if c.Active() && !c.Infra {
					out.Stopped = append(out.Stopped, p.ID)
					break
				}
			}
		}
		if err := e.RemovePod(ctx, p.ID, engine.PodRemoveOptions{Force: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove pod %s: %w", pp.Name, err))
			continue
		}
		out.Pods = append(out.Pods, p.ID)
		for _, v := range pp.EmptyDirs {
			if err := removePlayVolume(ctx, e, v, pp.Name); err != nil {
				errs = append(errs, err)
			}
		}
		if err := RemoveFiles(o.FilesDir, pp.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Force {
		for _, v := range plan.Volumes {
			err := removePlayVolume(ctx, e, v.Name, "pvc")
			switch {
			case err == nil:
				out.Volumes = append(out.Volumes, v.Name)
				found = true
			case !errors.Is(err, errdefs.ErrNotFound):
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	if !found && len(plan.Pods) > 0 {
		return out, errdefs.Newf(errdefs.ErrNotFound, "no pod of the file exists")
	}
	return out, nil
}

// removePlayVolume removes volume name if play made it (its label says owner).
func removePlayVolume(ctx context.Context, e *engine.Engine, name, owner string) error {
	v, err := e.Volume(ctx, name)
	if err != nil {
		return err
	}
	if v.Labels[LabelPlay] != owner {
		return errdefs.Newf(errdefs.ErrInUse, "volume %s was not created by kube play; not removed", name)
	}
	if err := e.RemoveVolume(ctx, name, false); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// prepareHostPaths checks (or creates) hostPath volumes per their type, as the kubelet does.
func prepareHostPaths(hps []HostPath) error {
	for _, h := range hps {
		fi, err := os.Stat(h.Path)
		switch h.Type {
		case "DirectoryOrCreate":
			if os.IsNotExist(err) {
				if err := os.MkdirAll(h.Path, 0o755); err != nil {
					return fmt.Errorf("hostPath %s: %w", h.Path, err)
				}
				continue
			}
		case "FileOrCreate":
			if os.IsNotExist(err) {
				if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
					return fmt.Errorf("hostPath %s: %w", h.Path, err)
				}
				f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if err != nil && !os.IsExist(err) {
					return fmt.Errorf("hostPath %s: %w", h.Path, err)
				}
				if f != nil {
					f.Close()
				}
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("hostPath %s (type %s): %w", h.Path, h.Type, err)
		}
		var ok bool
		switch h.Type {
		case "Directory", "DirectoryOrCreate":
			ok = fi.IsDir()
		case "File", "FileOrCreate":
			ok = fi.Mode().IsRegular()
		case "Socket":
			ok = fi.Mode()&os.ModeSocket != 0
		case "CharDevice":
			ok = fi.Mode()&os.ModeCharDevice != 0
		case "BlockDevice":
			ok = fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0
		default:
			return errdefs.Newf(errdefs.ErrInvalid, "hostPath %s: unknown type %q", h.Path, h.Type)
		}
		if !ok {
			return errdefs.Newf(errdefs.ErrInvalid, "hostPath %s is not a %s", h.Path, h.Type)
		}
	}
	return nil
}
