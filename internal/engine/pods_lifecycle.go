package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/state"
)

// PodRemoveOptions are `pod rm`'s flags.
type PodRemoveOptions struct {
	Force bool // kill running containers first
}

// RemovePod removes a pod with its containers, the infra container last. A pod with running
// containers other than its infra container is refused unless Force. Each container goes in
// its own step and the infra container goes with the pod's record in one transaction, so a
// berth killed midway leaves a pod with fewer containers, which the next `pod rm` finishes.
func (e *Engine) RemovePod(ctx context.Context, ref string, o PodRemoveOptions) error {
	p, release, err := e.lockedPod(ctx, ref)
	if err != nil {
		return err
	}
	defer release()
	cs, err := e.PodContainers(ctx, p)
	if err != nil {
		return err
	}
	if !o.Force {
		for _, c := range cs {
			if c.Active() && !c.Infra { // a running infra container alone is stopped, as podman does
				return errdefs.Newf(errdefs.ErrInUse, "cannot remove pod %s: container %s is %s: stop the pod before removing or force remove", p.Name, c.Name, c.State)
			}
		}
	}
	var infra *Container
	var errs []error
	for _, c := range cs {
		if c.Infra {
			infra = c
			continue
		}
		if err := e.RemoveContainer(ctx, c.ID, RemoveOptions{Force: o.Force}); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			errs = append(errs, fmt.Errorf("remove container %s of pod %s: %w", c.Name, p.Name, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if infra != nil {
		err = e.RemoveContainer(ctx, infra.ID, RemoveOptions{Force: true, withPod: true})
	} else {
		var db *state.DB
		if db, err = e.DB(ctx); err == nil {
			err = db.Pods().Delete(ctx, p.ID, p.InfraID)
		}
	}
	if err == nil {
		e.podEvent(p, "remove")
	}
	return err
}

// podAndContainers finds the pod ref names and its containers, in PodContainers' order.
func (e *Engine) podAndContainers(ctx context.Context, ref string) (*Pod, []*Container, error) {
	p, err := e.Pod(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	cs, err := e.PodContainers(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	return p, cs, nil
}

// StartPod starts a pod's infra container, then its other containers in the order they were
// created. It starts every container it can and reports those it could not.
func (e *Engine) StartPod(ctx context.Context, ref string) (*Pod, error) {
	p, cs, err := e.podAndContainers(ctx, ref)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, c := range cs {
		if c.Active() {
			continue
		}
		if _, err := e.StartContainer(ctx, c.ID, nil); err != nil {
			if c.Infra {
				return nil, fmt.Errorf("start pod %s: infra container: %w", p.Name, err)
			}
			errs = append(errs, fmt.Errorf("start container %s of pod %s: %w", c.Name, p.Name, err))
		}
	}
	e.podEvent(p, "start")
	return p, errors.Join(errs...)
}

// StopPod stops a pod's containers together, then its infra container. A nil timeout means
// each container's own (--stop-timeout, else 10s).
func (e *Engine) StopPod(ctx context.Context, ref string, timeout *time.Duration) (*Pod, error) {
	p, cs, err := e.podAndContainers(ctx, ref)
	if err != nil {
		return nil, err
	}
	err = e.eachPodContainer(ctx, p, cs, false, func(c *Container) error {
		_, err := e.StopContainer(ctx, c.ID, timeout)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.Infra {
			if _, err := e.StopContainer(ctx, c.ID, timeout); err != nil {
				return nil, fmt.Errorf("stop infra container of pod %s: %w", p.Name, err)
			}
		}
	}
	e.podEvent(p, "stop")
	return p, nil
}

// RestartPod stops and starts a pod.
func (e *Engine) RestartPod(ctx context.Context, ref string, timeout *time.Duration) (*Pod, error) {
	if _, err := e.StopPod(ctx, ref, timeout); err != nil {
		return nil, err
	}
	return e.StartPod(ctx, ref)
}

// KillPod sends sig to every running container of the pod, the infra container included.
func (e *Engine) KillPod(ctx context.Context, ref string, sig syscall.Signal) (*Pod, error) {
	p, cs, err := e.podAndContainers(ctx, ref)
	if err != nil {
		return nil, err
	}
	err = e.eachPodContainer(ctx, p, cs, true, func(c *Container) error {
		_, err := e.KillContainer(ctx, c.ID, sig)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.podEvent(p, "kill")
	return p, nil
}

// PausePod pauses (or, with pause false, unpauses) every running (paused) container of the pod.
func (e *Engine) PausePod(ctx context.Context, ref string, pause bool) (*Pod, error) {
	p, cs, err := e.podAndContainers(ctx, ref)
	if err != nil {
		return nil, err
	}
	want := StateRunning
	if !pause {
		want = StatePaused
	}
	var targets []*Container
	for _, c := range cs {
		if c.State == want {
			targets = append(targets, c)
		}
	}
	if len(targets) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "pod %s has no %s containers", p.Name, want)
	}
	err = e.eachPodContainer(ctx, p, targets, true, func(c *Container) error {
		_, err := e.PauseContainer(ctx, c.ID, pause)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.podEvent(p, map[bool]string{true: "pause", false: "unpause"}[pause])
	return p, nil
}

// eachPodContainer runs fn on the pod's active containers in parallel, then on the infra
// container when withInfra (with a shared pid namespace, signalling the infra's pid 1 ends
// every process of the pod). A container that stopped meanwhile is no failure.
func (e *Engine) eachPodContainer(ctx context.Context, p *Pod, cs []*Container, withInfra bool, fn func(*Container) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	n := 0
	run := func(c *Container) {
		if err := fn(c); err != nil {
			if now, lerr := e.Container(ctx, c.ID); lerr == nil && !now.Active() {
				return
			}
			mu.Lock()
			errs = append(errs, fmt.Errorf("container %s of pod %s: %w", c.Name, p.Name, err))
			mu.Unlock()
		}
	}
	var infra *Container
	for _, c := range cs {
		if !c.Active() {
			continue
		}
		if c.Infra {
			infra = c
			continue
		}
		n++
		wg.Add(1)
		go func(c *Container) {
			defer wg.Done()
			run(c)
		}(c)
	}
	wg.Wait()
	if withInfra && infra != nil {
		n++
		run(infra)
	}
	if n == 0 && withInfra {
		return errdefs.Newf(errdefs.ErrInvalid, "pod %s has no running containers", p.Name)
	}
	return errors.Join(errs...)
}

// PrunePods removes every pod none of whose containers runs and returns their ids.
func (e *Engine) PrunePods(ctx context.Context) ([]string, error) {
	ps, err := e.Pods(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range ps {
		cs, err := e.PodContainers(ctx, p)
		if err != nil {
			return out, err
		}
		if st := PodState(cs); st != PodExited && st != PodCreated {
			continue
		}
		if err := e.RemovePod(ctx, p.ID, PodRemoveOptions{}); err != nil {
			if errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrInUse) {
				continue // removed or started meanwhile
			}
			return out, err
		}
		out = append(out, p.ID)
	}
	return out, nil
}

// startPodInfra starts the infra container of the pod a container joins, before the
// container starts: it holds the namespaces the container joins.
func (e *Engine) startPodInfra(ctx context.Context, c *Container) error {
	if c.Options.Pod == "" || c.Infra {
		return nil
	}
	p, err := e.Pod(ctx, c.Options.Pod)
	if err != nil {
		return fmt.Errorf("start container %s: %w", c.Name, err)
	}
	if p.InfraID == "" {
		return nil
	}
	if _, err := e.StartContainer(ctx, p.InfraID, &StartOptions{Dependency: true}); err != nil {
		return fmt.Errorf("start infra container of pod %s: %w", p.Name, err)
	}
	return nil
}

// podMemberExited applies the pod's exit policy once a container of it has exited: with
// "stop", the infra container stops when no other container of the pod runs.
func (e *Engine) podMemberExited(ctx context.Context, c *Container) {
	if c.Options.Pod == "" || c.Infra || c.State != StateExited {
		return
	}
	p, err := e.Pod(ctx, c.Options.Pod)
	if err != nil || p.Options.ExitPolicy != PodExitStop || p.InfraID == "" {
		return
	}
	cs, err := e.PodContainers(ctx, p)
	if err != nil {
		return
	}
	for _, o := range cs {
		if !o.Infra && o.ID != c.ID && o.Active() {
			return
		}
	}
	if _, err := e.StopContainer(ctx, p.InfraID, nil); err != nil {
		logrus.WithField("pod", p.ID).Warnf("exit policy stop: stop infra container: %v", err)
		return
	}
	e.podEvent(p, "stop")
}
