package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/libimage"
	"github.com/berth-project/berth/libnet"
)

// Events returns the root's event log. It lives in the persistent root, not the runtime
// root: a container's history (who removed it, with which exit code it died) is worth keeping
// across a reboot, and a --since CURSOR that a script saved stays valid. Its size is bounded.
func (e *Engine) Events() *events.Log {
	return events.Open(filepath.Join(e.Config.Root, "events"),
		&events.Options{SegmentSize: e.Config.Events.SegmentSize, MaxSegments: e.Config.Events.MaxSegments})
}

// Emit records an event of typ about the object id. Recording never fails the operation that
// happened: a log that cannot be written is a warning.
func (e *Engine) Emit(typ events.Type, action, id string, attrs map[string]string) {
	ev := events.New(typ, action, id, attrs)
	if err := e.Events().Append(ev); err != nil {
		logrus.Warnf("record %s %s event: %v", typ, action, err)
	}
}

// EmitPod records a pod event (create, start, stop, kill, pause, unpause, remove, ...) with
// the pod's name and labels, as podman does; the pod's containers' events carry the pod's ID
// in their "pod" attribute.
func (e *Engine) EmitPod(action, id, name string, labels map[string]string) {
	e.Emit(events.Pod, action, id, withLabels(labels, "name", name))
}

// containerEvent records action on c, with Docker's attributes (name, image, the container's
// labels) and kv, pairs of extra ones (exitCode, signal, ...).
func (e *Engine) containerEvent(c *Container, action string, kv ...string) {
	attrs := containerAttrs(c)
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	e.Emit(events.Container, action, c.ID, attrs)
}

// execEvents records the exec_create and exec_start of an exec, in one append; Docker's
// actions carry the command.
func (e *Engine) execEvents(c *Container, execID string, cmd []string) {
	what := strings.Join(cmd, " ")
	create := events.New(events.Container, "exec_create: "+what, c.ID, withLabels(containerAttrs(c), "execID", execID))
	start := events.New(events.Container, "exec_start: "+what, c.ID, withLabels(containerAttrs(c), "execID", execID))
	if err := e.Events().Append(create, start); err != nil {
		logrus.Warnf("record container exec event: %v", err)
	}
}

// noteDie records c's die event once per exit, from the exit its monitor recorded.
func (e *Engine) noteDie(c *Container) {
	if code, at, ok := readExitFile(e.runFile(c, "exit")); ok {
		e.recordDie(c, code, at)
	}
}

// recordDie records that c died with code at at, once per exit: the monitor's cleanup, a
// remover racing it (rm -f, run --rm) and a command that finds the monitor gone may all call
// it, and the first one creates the "died" mark in the run directory that a start clears.
// As Docker does, each volume c mounted is unmounted with it, in the same append.
func (e *Engine) recordDie(c *Container, code int, at time.Time) {
	if err := os.MkdirAll(e.containerRunDir(c.ID), 0o700); err != nil {
		return
	}
	f, err := os.OpenFile(e.runFile(c, "died"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return
	}
	f.Close()
	attrs := withLabels(containerAttrs(c), "exitCode", strconv.Itoa(code))
	if !c.StartedAt.IsZero() && at.After(c.StartedAt) {
		attrs["execDuration"] = strconv.Itoa(int(at.Sub(c.StartedAt).Seconds()))
	}
	evs := []*events.Event{events.New(events.Container, "die", c.ID, attrs)}
	for _, m := range c.Options.Mounts {
		if m.Type == "volume" && m.Source != "" {
			evs = append(evs, events.New(events.Volume, "unmount", m.Source, map[string]string{"driver": "local", "container": c.ID}))
		}
	}
	if err := e.Events().Append(evs...); err != nil {
		logrus.Warnf("record container die event: %v", err)
	}
}

// containerAttrs are the attributes of every container event: its labels, name and image,
// and the ID of its pod, which `events --filter pod=` matches.
func containerAttrs(c *Container) map[string]string {
	attrs := withLabels(c.Options.Labels, "name", c.Name, "image", c.Options.Image)
	if c.Options.Pod != "" {
		attrs["pod"] = c.Options.Pod
	}
	return attrs
}

// imageEvent records action on img, with the image's labels. As Docker does, a pull or push
// is about the reference (ID busybox:latest, name busybox), a tag about the image ID with the
// new tag as its name, every other action about the image ID by that name.
func (e *Engine) imageEvent(action string, img *libimage.Image, ref string) {
	var labels map[string]string
	if img.Config != nil {
		labels = img.Config.Config.Labels
	}
	id, name := img.ID, img.ID
	switch action {
	case "pull", "push":
		id = libimage.FamiliarName(ref)
		name = id
		if i := strings.LastIndexAny(name, ":@"); i > strings.LastIndexByte(name, '/') {
			name = name[:i]
		}
	case "tag":
		name = libimage.FamiliarName(ref)
	}
	e.Emit(events.Image, action, id, withLabels(labels, "name", name))
}

// pruneEvent records Docker's prune event of a kind of object: no actor, the bytes the prune
// freed in its "reclaimed" attribute.
func (e *Engine) pruneEvent(typ events.Type, reclaimed int64) {
	e.Emit(typ, "prune", "", map[string]string{"reclaimed": strconv.FormatInt(reclaimed, 10)})
}

// volumeEvent records action on v, with its driver and labels.
func (e *Engine) volumeEvent(action string, v *Volume) {
	e.Emit(events.Volume, action, v.Name, withLabels(v.Labels, "driver", v.Driver))
}

// startEvents records c's start and, as Docker does, a network connect for each network it
// joined and a volume mount for each volume it mounts, in one append.
func (e *Engine) startEvents(c *Container) {
	evs := []*events.Event{events.New(events.Container, "start", c.ID, containerAttrs(c))}
	if c.Net != nil {
		evs = append(evs, attachmentEvents("connect", c.ID, c.Net.Attachments)...)
	}
	for _, m := range c.Options.Mounts {
		if m.Type == "volume" && m.Source != "" {
			evs = append(evs, events.New(events.Volume, "mount", m.Source, map[string]string{"driver": "local",
				"container": c.ID, "destination": m.Target, "read/write": strconv.FormatBool(!m.ReadOnly), "propagation": ""}))
		}
	}
	if err := e.Events().Append(evs...); err != nil {
		logrus.Warnf("record container start event: %v", err)
	}
}

// networkEvent records action on network n, with the container it concerns, if any.
func (e *Engine) networkEvent(action string, n libnet.Network, containerID string) {
	attrs := withLabels(n.Labels, "name", n.Name, "type", n.Driver)
	if containerID != "" {
		attrs["container"] = containerID
	}
	e.Emit(events.Network, action, n.ID, attrs)
}

// attachmentEvents are the network events of c leaving or joining the networks of atts.
func attachmentEvents(action, containerID string, atts []libnet.Attachment) []*events.Event {
	var evs []*events.Event
	for _, a := range atts {
		n := a.Network
		evs = append(evs, events.New(events.Network, action, n.ID, withLabels(n.Labels, "name", n.Name, "type", n.Driver, "container", containerID)))
	}
	return evs
}

// disconnectEvents records that a container left the networks of atts.
func (e *Engine) disconnectEvents(containerID string, atts []libnet.Attachment) {
	if evs := attachmentEvents("disconnect", containerID, atts); len(evs) > 0 {
		if err := e.Events().Append(evs...); err != nil {
			logrus.Warnf("record network disconnect event: %v", err)
		}
	}
}

// withLabels copies labels and sets the pairs kv over them.
func withLabels(labels map[string]string, kv ...string) map[string]string {
	attrs := make(map[string]string, len(labels)+len(kv)/2)
	for k, v := range labels {
		attrs[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	return attrs
}
