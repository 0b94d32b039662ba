package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/libnet"
)

// Container states as `ps` and `inspect` show them.
const (
	StateCreated    = "created"
	StateRunning    = "running"
	StatePaused     = "paused"
	StateRestarting = "restarting"
	StateExited     = "exited"
)

// Container is the engine's record of one container.
type Container struct {
	ID         string
	Name       string
	ImageID    string
	Options    CreateOptions
	Created    time.Time
	State      string
	Pid        int
	ExitCode   int
	StartedAt  time.Time
	FinishedAt time.Time
	// Read from the monitor's files while active.
	RestartCount int
	Health       *HealthState `json:"-"`
	// Net is what the container holds on its networks while they are set up.
	Net *NetworkState `json:",omitempty"`
	// Infra marks the infra container of pod Options.Pod: it holds the pod's namespaces and
	// goes only with its pod.
	Infra bool `json:",omitempty"`
	// StoppedByUser says the last stop was the user's: an unless-stopped container stays down
	// at boot (berth-restart.service) until started again.
	StoppedByUser bool `json:",omitempty"`
	// MonitorPid and MonitorStart (its start time in clock ticks after boot) name the monitor
	// of the current run, so that a listing can tell it alive without asking the runtime; the
	// start time tells a reused pid apart.
	MonitorPid   int    `json:",omitempty"`
	MonitorStart uint64 `json:",omitempty"`
}

// HealthState is what the monitor records of a container's health checks (Docker's shape).
type HealthState struct {
	Status        string
	FailingStreak int
	Log           []struct {
		Start, End time.Time
		ExitCode   int
		Output     string
	}
}

// Active says the container has processes (running, paused or between restarts).
func (c *Container) Active() bool {
	return c.State == StateRunning || c.State == StatePaused || c.State == StateRestarting
}

func (e *Engine) containerDir(id string) string {
	return filepath.Join(e.Config.Root, "containers", id)
}
func (e *Engine) containerRunDir(id string) string {
	return filepath.Join(e.Config.RunRoot, "containers", id)
}
func (e *Engine) runFile(c *Container, name string) string {
	return filepath.Join(e.containerRunDir(c.ID), name)
}

// LogPath is where a container's monitor writes its log.
func (e *Engine) LogPath(c *Container) string { return filepath.Join(e.containerDir(c.ID), "ctr.log") }

// CreateContainer records a container from an image and gives it a writable layer and its
// anonymous volumes. With Options.Pod it joins that pod: its record is stored under the pod's
// lock, so it never joins a pod being removed.
func (e *Engine) CreateContainer(ctx context.Context, o CreateOptions) (c *Container, retErr error) {
	if o.Pod != "" {
		p, release, err := e.lockedPod(ctx, o.Pod)
		if err != nil {
			return nil, err
		}
		defer release()
		if err := joinPod(p, &o); err != nil {
			return nil, err
		}
		devs, names, err := e.parseDevices(p.Options.Devices)
		if err != nil {
			return nil, err
		}
		o.Devices, o.CDIDevices = append(devs, o.Devices...), append(names, o.CDIDevices...)
	}
	releaseIDs, err := e.resolveUserNS(ctx, &o)
	if err != nil {
		return nil, err
	}
	defer releaseIDs() // held until the record shows an auto range taken
	c, undo, err := e.newContainer(ctx, o)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			undo()
		}
	}()
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	if err := db.Containers().Insert(ctx, c.ID, c.Name, c.Created.UnixNano(), c); err != nil {
		return nil, err
	}
	if err := e.makeContainerStorage(ctx, c); err != nil {
		_ = db.Containers().Delete(context.Background(), c.ID)
		return nil, err
	}
	e.containerEvent(c, "create")
	return c, nil
}

// newContainer validates o against its image and makes the container's record (not stored)
// and its anonymous volumes; undo removes those volumes.
func (e *Engine) newContainer(ctx context.Context, o CreateOptions) (c *Container, undo func(), retErr error) {
	store, err := e.Images(ctx)
	if err != nil {
		return nil, nil, err
	}
	img, err := store.Lookup(ctx, o.Image)
	if err != nil {
		return nil, nil, err
	}
	if _, err := e.runtimeFor(o.Runtime); err != nil {
		return nil, nil, err
	}
	if err := e.checkCDIDevices(o.CDIDevices); err != nil {
		return nil, nil, err
	}
	id := randomID()
	if o.Name == "" {
		o.Name = "berth_" + id[:12]
	} else if !validName(o.Name) {
		return nil, nil, errdefs.Newf(errdefs.ErrInvalid, "invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
	}
	if o.Entrypoint == nil && len(o.Cmd) == 0 && len(img.Config.Config.Cmd) == 0 && len(img.Config.Config.Entrypoint) == 0 {
		return nil, nil, errdefs.Newf(errdefs.ErrInvalid, "no command specified")
	}
	// The container carries its image's labels; its own win (Docker's merge).
	o.Labels = MergeLabels(img.Config.Config.Labels, o.Labels)
	if o.PublishAll {
		o.Ports = append(append([]libnet.PortMapping{}, o.Ports...), exposedPorts(img.Config.Config.ExposedPorts)...)
	}
	if err := e.resolveNetworkOptions(ctx, &o); err != nil {
		return nil, nil, err
	}
	// The image's VOLUMEs become anonymous volumes unless something is mounted there.
	for dst := range img.Config.Config.Volumes {
		taken := false
		for _, m := range o.Mounts {
			taken = taken || filepath.Clean(m.Target) == filepath.Clean(dst)
		}
		if !taken {
			o.Mounts = append(o.Mounts, Mount{Type: "volume", Target: dst})
		}
	}
	var made []string // volumes this create made, removed again if it fails
	undo = func() {
		for _, v := range made {
			_ = e.RemoveVolume(context.Background(), v, true)
		}
	}
	defer func() {
		if retErr != nil {
			undo()
		}
	}()
	for i, m := range o.Mounts {
		if m.Type == "volume" && m.Source == "" {
			v, err := e.CreateVolume(ctx, "", map[string]string{"berth.anonymous": "true"})
			if err != nil {
				return nil, nil, err
			}
			o.Mounts[i].Source = v.Name
			made = append(made, v.Name)
		} else if m.Type == "volume" {
			// -v name:/dst makes the named volume now, as Docker's create does.
			if _, err := e.Volume(ctx, m.Source); errors.Is(err, errdefs.ErrNotFound) {
				v, err := e.CreateVolume(ctx, m.Source, nil)
				if err != nil && !errors.Is(err, errdefs.ErrExists) {
					return nil, nil, err
				}
				if err == nil {
					made = append(made, v.Name)
				}
			}
		}
	}
	return &Container{ID: id, Name: o.Name, ImageID: img.ID, Options: o, Created: time.Now().UTC(), State: StateCreated}, undo, nil
}

// makeContainerStorage gives a recorded container its writable layer and directory.
func (e *Engine) makeContainerStorage(ctx context.Context, c *Container) error {
	store, err := e.Images(ctx)
	if err != nil {
		return err
	}
	if err := store.CreateContainerLayer(ctx, c.ID, c.ImageID); err != nil {
		return err
	}
	return os.MkdirAll(e.containerDir(c.ID), 0o700)
}

// Container loads a container by name, id or id prefix, reconciling its state first.
func (e *Engine) Container(ctx context.Context, ref string) (*Container, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var c Container
	if _, err := db.Containers().Get(ctx, ref, &c); err != nil {
		return nil, err
	}
	return &c, e.reconcile(ctx, &c)
}

// lockedContainer takes the lock of container ref and loads it under the lock, so that what
// the caller decides from its state holds until it calls release.
func (e *Engine) lockedContainer(ctx context.Context, ref string) (c *Container, release func(), err error) {
	if c, err = e.Container(ctx, ref); err != nil {
		return nil, nil, err
	}
	lk, err := e.Lock(ctx, "container", c.ID)
	if err != nil {
		return nil, nil, err
	}
	if c, err = e.Container(ctx, c.ID); err != nil {
		lk.Release()
		return nil, nil, err
	}
	return c, func() { lk.Release() }, nil
}

// Containers lists every container, newest first, reconciled as a listing needs
// (reconcileListed): its cost per container stays a few system calls.
func (e *Engine) Containers(ctx context.Context) ([]*Container, error) {
	out, err := e.containerRecords(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range out {
		if err := e.reconcileListed(ctx, c); err != nil {
			return nil, err
		}
		// What a berth killed in the middle of a start left: the records at hand say who holds
		// a network without running (a start that finds no free address sweeps the rest).
		if c.Net != nil && !c.Active() && e.tryTeardown(ctx, c.ID) {
			c.Net = nil
		}
	}
	if e.Config.Rootless {
		e.sweepUserNets(ctx) // helpers whose container's record is gone
	}
	return out, nil
}

// reconcile brings an active record up to date with its monitor's files and the runtime: a
// container whose monitor recorded an exit is exited with that status; one whose processes
// and monitor are gone (monitor killed, reboot) is exited with 255; one whose monitor waits
// to restart it is restarting.
func (e *Engine) reconcile(ctx context.Context, c *Container) error {
	if !c.Active() {
		return nil
	}
	c.RestartCount = readInt(e.runFile(c, "restarts"))
	if b, err := os.ReadFile(e.runFile(c, "health.json")); err == nil {
		var h HealthState
		if json.Unmarshal(b, &h) == nil {
			c.Health = &h
		}
	}
	code, at, exited := readExitFile(e.runFile(c, "exit"))
	if !exited {
		status := "stopped"
		if rt, err := e.runtimeFor(c.Options.Runtime); err == nil {
			if s, err := rt.Status(c.ID); err == nil {
				status = s
			}
		}
		switch {
		case status == "running" || status == "created":
			c.State = StateRunning
			return nil
		case status == "paused":
			c.State = StatePaused
			return nil
		case e.monitorAlive(c):
			c.State = StateRestarting
			if code, _, ok := readExitFile(e.runFile(c, "last-exit")); ok {
				c.ExitCode = code
			}
			return nil
		}
		code, at = 255, time.Now().UTC()
	}
	c.State, c.ExitCode, c.FinishedAt, c.Pid = StateExited, code, at, 0
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	if err := db.Containers().Put(ctx, c.ID, c); err != nil {
		return err
	}
	if !exited {
		e.recordDie(c, code, at) // its monitor is gone: nobody else will
	}
	if !exited && c.Net != nil {
		// Its monitor died and will never run the cleanup that releases the network.
		if e.tryTeardown(ctx, c.ID) {
			c.Net = nil
		}
	}
	return nil
}

// monitorAlive says whether the container's monitor process still runs.
func (e *Engine) monitorAlive(c *Container) bool {
	pid := readInt(e.runFile(c, "monitor.pid"))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.Contains(string(b), c.ID)
}

func readInt(p string) int {
	b, _ := os.ReadFile(p)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func readExitFile(p string) (int, time.Time, bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, time.Time{}, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, time.Time{}, false
	}
	code, _ := strconv.Atoi(f[0])
	ns, _ := strconv.ParseInt(f[1], 10, 64)
	return code, time.Unix(0, ns).UTC(), true
}

func (e *Engine) saveContainer(ctx context.Context, c *Container) error {
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	return db.Containers().Put(ctx, c.ID, c)
}

// RemoveOptions are `rm`'s flags.
type RemoveOptions struct {
	Force   bool // kill a running container first
	Volumes bool // remove its anonymous volumes too
	// Timeout, with Force, stops a running container gracefully (stop signal, then SIGKILL
	// after Timeout) instead of killing it at once.
	Timeout *time.Duration
	// Depend removes the containers that depend on this one first; without it a container
	// with dependents is refused.
	Depend bool
	// Removed, when set, is told the id of every container removed (dependents first).
	Removed func(id string)
	withPod bool // an infra container goes only with its pod (RemovePod)
}

// RemoveContainer removes a container; a running one only with Force, after killing it. It
// waits for the monitor to be gone, so nothing of the container runs once it returns.
func (e *Engine) RemoveContainer(ctx context.Context, ref string, o RemoveOptions) error {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return err
	}
	if c.Infra && !o.withPod {
		name := c.Options.Pod
		if p, err := e.Pod(ctx, c.Options.Pod); err == nil {
			name = p.Name
		}
		return errdefs.Newf(errdefs.ErrInUse, "container %s is the infra container of pod %s and cannot be removed without removing the pod", c.Name, name)
	}
	if err := e.removeDependents(ctx, c, o); err != nil {
		return err
	}
	if c.Active() && o.Force && o.Timeout != nil && *o.Timeout > 0 {
		if c, err = e.StopContainer(ctx, c.ID, o.Timeout); err != nil {
			return err
		}
	}
	if c.Active() {
		if !o.Force {
			return errdefs.Newf(errdefs.ErrInUse, "cannot remove container %s: container is %s: stop the container before removing or force remove", c.Name, c.State)
		}
		e.markStopped(c)
		e.markRemoving(c)
		if rt, err := e.runtimeFor(c.Options.Runtime); err == nil {
			if c.State == StatePaused {
				_ = rt.Resume(c.ID)
			}
			_ = rt.Kill(c.ID, syscall.SIGKILL, true)
		}
	} else if o.Force && e.monitorAlive(c) {
		// A start killed after its monitor created the container: the monitor waits for an
		// init that waits to be started. Kill it rather than wait for the monitor in vain.
		e.markRemoving(c)
		if rt, err := e.runtimeFor(c.Options.Runtime); err == nil {
			_ = rt.Kill(c.ID, syscall.SIGKILL, true)
		}
	}
	e.waitMonitorGone(c, 10*time.Second)
	c, release, err := e.lockedContainer(ctx, c.ID) // its monitor's cleanup may have removed it (run --rm)
	if err != nil {
		return err
	}
	defer release()
	e.noteDie(c)
	if err := e.cleanupRuntime(ctx, c); err != nil {
		if !o.Force {
			return err
		}
		// A runtime that cannot delete what it never created (or is gone) must not keep a
		// forced removal from removing the record.
		logrus.Warnf("remove container %s: %v", c.Name, err)
	}
	if err := e.removeLocked(ctx, c, o.Volumes); err != nil {
		return err
	}
	if o.Removed != nil {
		o.Removed(c.ID)
	}
	return nil
}

// KillForRemoval sends SIGKILL to container ref ahead of its forced removal, so that `rm -f`
// of many containers waits for all their deaths at once rather than one after another. It
// leaves alone any container its removal would refuse or stop gracefully (an infra
// container, one with dependents); errors are the removal's to report.
func (e *Engine) KillForRemoval(ctx context.Context, ref string) {
	c, err := e.Container(ctx, ref)
	if err != nil || !c.Active() || c.Infra {
		return
	}
	if deps, err := e.Dependents(ctx, c); err != nil || len(deps) > 0 {
		return
	}
	e.markStopped(c)
	e.markRemoving(c)
	if rt, err := e.runtimeFor(c.Options.Runtime); err == nil {
		if c.State == StatePaused {
			_ = rt.Resume(c.ID)
		}
		_ = rt.Kill(c.ID, syscall.SIGKILL, true)
	}
}

func (e *Engine) removeLocked(ctx context.Context, c *Container, volumes bool) error {
	store, err := e.Images(ctx)
	if err != nil {
		return err
	}
	if err := store.RemoveContainerLayer(ctx, c.ID); err != nil {
		return err
	}
	os.RemoveAll(e.containerRunDir(c.ID))
	os.RemoveAll(e.containerDir(c.ID))
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	if c.Infra { // its record goes with its pod's, in one transaction
		err = db.Pods().Delete(ctx, c.Options.Pod, c.ID)
	} else {
		err = db.Containers().Delete(ctx, c.ID)
	}
	if err != nil {
		return err
	}
	e.containerEvent(c, "destroy")
	if volumes || c.Options.Rm {
		for _, m := range c.Options.Mounts {
			if m.Type != "volume" {
				continue
			}
			if v, err := e.Volume(ctx, m.Source); err == nil && v.Anonymous() {
				if err := e.RemoveVolume(ctx, v.Name, false); err != nil && !errors.Is(err, errdefs.ErrInUse) {
					return err
				}
			}
		}
	}
	return nil
}

// RenameContainer gives a container a new name.
func (e *Engine) RenameContainer(ctx context.Context, ref, name string) error {
	if !validName(name) {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	c, err := e.Container(ctx, ref)
	if err != nil {
		return err
	}
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	old := c.Name
	c.Name, c.Options.Name = name, name
	if err := db.Containers().Rename(ctx, c.ID, name, c); err != nil {
		return err
	}
	e.containerEvent(c, "rename", "oldName", "/"+old) // Docker's oldName keeps its slash
	return nil
}

// PruneContainers removes every stopped container f matches and returns their ids and the
// bytes their writable layers held; it records Docker's container prune event.
func (e *Engine) PruneContainers(ctx context.Context, f PruneFilter) ([]string, int64, error) {
	cs, err := e.Containers(ctx)
	if err != nil {
		return nil, 0, err
	}
	store, err := e.Images(ctx)
	if err != nil {
		return nil, 0, err
	}
	var out []string
	var reclaimed int64
	for _, c := range cs {
		if c.Active() || c.Infra || !f.Match(c.Options.Labels, c.Created) { // an infra container goes with its pod
			continue
		}
		size := e.writableSize(ctx, store, c)
		err := e.RemoveContainer(ctx, c.ID, RemoveOptions{})
		if errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrInUse) {
			continue // removed or started meanwhile
		}
		if err != nil {
			return out, reclaimed, err
		}
		out = append(out, c.ID)
		reclaimed += size
	}
	e.pruneEvent(events.Container, reclaimed)
	return out, reclaimed, nil
}

// MergeLabels returns base's labels overridden by over's; nil when both are empty.
func MergeLabels(base, over map[string]string) map[string]string {
	if len(base) == 0 && len(over) == 0 {
		return over
	}
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func validName(n string) bool {
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '_' || r == '.' || r == '-'))
		if !ok {
			return false
		}
	}
	return n != ""
}
