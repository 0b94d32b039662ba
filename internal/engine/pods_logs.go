package engine

import (
	"context"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// PodLogOptions are `pod logs`' flags.
type PodLogOptions struct {
	LogOptions
	// Container limits the output to one container of the pod (name, id or id prefix).
	Container string
	// Names prefixes each line with its container's name.
	Names bool
}

// podLogSource is one container's log while PodLogs follows it.
type podLogSource struct {
	c      *Container
	path   string
	offset int64
	ino    uint64
}

// PodLogs writes the logs of a pod's containers (not its infra container), merged in time
// order; with Follow it keeps writing until every container's monitor is gone.
func (e *Engine) PodLogs(ctx context.Context, ref string, o PodLogOptions, stdout, stderr io.Writer) error {
	p, cs, err := e.podAndContainers(ctx, ref)
	if err != nil {
		return err
	}
	var sources []*podLogSource
	for _, c := range cs {
		if c.Infra || (o.Container != "" && c.Name != o.Container && !strings.HasPrefix(c.ID, o.Container)) {
			continue
		}
		if c.Options.LogDriver == "none" {
			if o.Container != "" {
				return errdefs.Newf(errdefs.ErrNotSupported, "container %s: configured logging driver does not support reading", c.Name)
			}
			continue
		}
		sources = append(sources, &podLogSource{c: c, path: e.LogPath(c)})
	}
	if o.Container != "" && len(sources) == 0 {
		return errdefs.Newf(errdefs.ErrNotFound, "no container %s in pod %s", o.Container, p.Name)
	}
	type tagged struct {
		logEntry
		src *podLogSource
	}
	write := func(es []tagged) {
		sort.SliceStable(es, func(i, j int) bool { return es[i].time.Before(es[j].time) })
		for _, le := range es {
			w := stdout
			if le.stderr {
				w = stderr
			}
			var prefix string
			if o.Names {
				prefix = le.src.c.Name + " "
			}
			if o.Timestamps {
				prefix += le.time.Format(time.RFC3339Nano) + " "
			}
			io.WriteString(w, prefix+le.text)
		}
	}
	var all []tagged
	for _, s := range sources {
		entries, offset := collectLog(s.path, o.LogOptions)
		s.offset, s.ino = offset, inode(s.path)
		for _, le := range entries {
			all = append(all, tagged{le, s})
		}
	}
	write(all)
	if !o.Follow {
		return nil
	}
	for {
		var batch []tagged
		alive := false
		for _, s := range sources {
			alive = alive || e.monitorAlive(s.c)
			if n := inode(s.path); n != s.ino { // rotated: the rest of the old file is in path.1
				s.offset, s.ino = 0, n
			}
			s.offset = readLogFile(s.path, s.offset, func(le logEntry) {
				if o.keep(le) {
					batch = append(batch, tagged{le, s})
				}
			})
		}
		write(batch)
		if !alive || (!o.Until.IsZero() && time.Now().After(o.Until)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
