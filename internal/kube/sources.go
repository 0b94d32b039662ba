package kube

import (
	"context"

	"github.com/berth-project/berth/internal/engine"
)

// Sources resolves `kube generate`'s arguments into the pods to render: containers not in a
// pod are grouped into one pod named after the first of them.
func Sources(ctx context.Context, e *engine.Engine, refs []string) ([]PodSource, error) {
	var loose *PodSource
	var out []PodSource
	for _, ref := range refs {
		c, err := e.Container(ctx, ref)
		if err != nil {
			return nil, err
		}
		if loose == nil {
			out = append(out, PodSource{Name: c.Name + "-pod"})
			loose = &out[len(out)-1]
		}
		loose.Containers = append(loose.Containers, c)
	}
	return out, nil
}
