package kube

import (
	"context"
	"errors"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
)

// Sources resolves `kube generate`'s arguments into the pods to render: a pod (or a container
// of one) is its pod, with the pod's ports, labels and hostname and its containers but the
// infra container; containers in no pod are grouped into one pod named after the first.
func Sources(ctx context.Context, e *engine.Engine, refs []string) ([]PodSource, error) {
	var out []PodSource
	loose := -1
	seenPod := map[string]bool{}
	for _, ref := range refs {
		p, err := e.Pod(ctx, ref)
		if errors.Is(err, errdefs.ErrNotFound) {
			c, cerr := e.Container(ctx, ref)
			if cerr != nil {
				return nil, cerr
			}
			if c.Options.Pod == "" {
				if loose < 0 {
					out = append(out, PodSource{Name: c.Name + "-pod"})
					loose = len(out) - 1
				}
				out[loose].Containers = append(out[loose].Containers, c)
				continue
			}
			p, err = e.Pod(ctx, c.Options.Pod)
		}
		if err != nil {
			return nil, err
		}
		if seenPod[p.ID] {
			continue
		}
		seenPod[p.ID] = true
		cs, err := e.PodContainers(ctx, p)
		if err != nil {
			return nil, err
		}
		ps := PodSource{Name: p.Name, Labels: copyMap(p.Options.Labels), Hostname: p.Options.Hostname,
			Ports: p.Options.Ports, HostNetwork: p.Options.Network == engine.NetworkHost}
		delete(ps.Labels, LabelPlay)
		for _, c := range cs {
			if !c.Infra {
				ps.Containers = append(ps.Containers, c)
			}
		}
		out = append(out, ps)
	}
	return out, nil
}
