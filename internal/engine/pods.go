package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/state"
	"github.com/berth-project/berth/libnet"
)

// Pod states as `pod ps` and `pod inspect` show them: derived from the containers' states,
// never stored.
const (
	PodCreated  = "Created"
	PodRunning  = "Running"
	PodDegraded = "Degraded"
	PodPaused   = "Paused"
	PodExited   = "Exited"
)

// The namespaces a pod's containers can share through its infra container.
const (
	ShareNet    = "net"
	ShareIPC    = "ipc"
	ShareUTS    = "uts"
	SharePID    = "pid"
	ShareCgroup = "cgroup"
)

// DefaultPodShare is what `pod create` shares unless --share says otherwise (podman's).
var DefaultPodShare = []string{ShareIPC, ShareNet, ShareUTS}

// Pod exit policies: what happens when the last container of a pod exits.
const (
	PodExitContinue = "continue" // the infra container keeps running
	PodExitStop     = "stop"     // the pod stops
)

// PodOptions are `pod create`'s flags: the user's validated intent, stored with the pod. The
// network fields become its infra container's, which holds the namespaces its containers share.
type PodOptions struct {
	Name   string
	Labels map[string]string `json:",omitempty"`
	// Hostname is the shared UTS namespace's host name; "" means the pod's name.
	Hostname string `json:",omitempty"`
	// Share lists the namespaces containers join (ShareNet, ...); nil means DefaultPodShare
	// and an empty non-nil list means none.
	Share []string
	// NoInfra creates the pod without an infra container (then it shares nothing).
	NoInfra bool `json:",omitempty"`
	// InfraImage runs the infra container from an image instead of berth's pause image; it
	// must be present (the CLI pulls it).
	InfraImage   string   `json:",omitempty"`
	InfraCommand []string `json:",omitempty"`
	InfraName    string   `json:",omitempty"`
	// Network, Networks, Ports, AddHosts and DNS* are as in CreateOptions: they belong to
	// the pod, and its containers may not set them while they share its network.
	Network    string               `json:",omitempty"`
	Networks   []NetworkRequest     `json:",omitempty"`
	Ports      []libnet.PortMapping `json:",omitempty"`
	AddHosts   []string             `json:",omitempty"`
	DNS        []string             `json:",omitempty"`
	DNSSearch  []string             `json:",omitempty"`
	DNSOptions []string             `json:",omitempty"`
	// ExitPolicy is PodExitContinue ("" too) or PodExitStop.
	ExitPolicy string `json:",omitempty"`
	// UserNS is "" or "host": containers run in berth's user namespace.
	UserNS string `json:",omitempty"`
	// Devices are --device values (host paths or CDI names) that every container joining
	// the pod gets, before its own, as with podman.
	Devices []string `json:",omitempty"`
	// Replace removes a pod of the same name first (not stored).
	Replace bool `json:"-"`
}

// Pod is the engine's record of one pod.
type Pod struct {
	ID      string
	Name    string
	Created time.Time
	Options PodOptions
	// InfraID is the infra container's id ("" with NoInfra).
	InfraID string `json:",omitempty"`
}

// Shares says whether the pod's containers share namespace ns (ShareNet, ...).
func (p *Pod) Shares(ns string) bool {
	for _, s := range p.Share() {
		if s == ns {
			return true
		}
	}
	return false
}

// Share returns the namespaces the pod's containers share, sorted.
func (p *Pod) Share() []string {
	if p.Options.NoInfra {
		return nil
	}
	if p.Options.Share == nil {
		return DefaultPodShare
	}
	return p.Options.Share
}

// Hostname is the host name of the pod's shared UTS namespace.
func (p *Pod) Hostname() string {
	if p.Options.Hostname != "" {
		return p.Options.Hostname
	}
	return p.Name
}

// ParsePodShare parses --share: a comma-separated list of net, ipc, uts, pid, cgroup, or
// "none"; a leading + adds to the default set.
func ParsePodShare(spec string) ([]string, error) {
	set := map[string]bool{}
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "+") {
		for _, s := range DefaultPodShare {
			set[s] = true
		}
		spec = spec[1:]
	}
	for _, s := range strings.Split(spec, ",") {
		switch s = strings.TrimSpace(s); s {
		case ShareNet, ShareIPC, ShareUTS, SharePID, ShareCgroup:
			set[s] = true
		case "none", "":
			if spec != s {
				return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid --share %q: none cannot be combined with namespaces", spec)
			}
		default:
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid kernel namespace to share: %s. Options are: cgroup, ipc, net, pid, uts or none", s)
		}
	}
	out := []string{}
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// validatePodOptions checks what `pod create` was given before anything is stored.
func validatePodOptions(o *PodOptions) error {
	if o.Name != "" && !validName(o.Name) {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid pod name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
	}
	switch o.ExitPolicy {
	case "":
		o.ExitPolicy = PodExitContinue
	case PodExitContinue, PodExitStop:
	default:
		return errdefs.Newf(errdefs.ErrInvalid, "running pod create option: invalid pod exit policy: %q: want continue or stop", o.ExitPolicy)
	}
	switch o.UserNS {
	case "", "host":
	default:
		return errdefs.Newf(errdefs.ErrNotSupported, "invalid --userns %q: pods run in berth's user namespace (host); auto, keep-id and private are not supported", o.UserNS)
	}
	if o.NoInfra {
		if len(o.Share) > 0 {
			return errdefs.Newf(errdefs.ErrInvalid, "cannot share namespaces (%s) without an infra container", strings.Join(o.Share, ","))
		}
		o.Share = []string{}
		switch {
		case len(o.Ports) > 0:
			return errdefs.Newf(errdefs.ErrInvalid, "cannot publish ports without an infra container")
		case o.Network != "" || len(o.Networks) > 0:
			return errdefs.Newf(errdefs.ErrInvalid, "cannot set a network without an infra container")
		case o.Hostname != "":
			return errdefs.Newf(errdefs.ErrInvalid, "cannot set a hostname without an infra container")
		case len(o.AddHosts)+len(o.DNS)+len(o.DNSSearch)+len(o.DNSOptions) > 0:
			return errdefs.Newf(errdefs.ErrInvalid, "cannot set --add-host or --dns without an infra container")
		case o.InfraImage != "" || len(o.InfraCommand) > 0 || o.InfraName != "":
			return errdefs.Newf(errdefs.ErrInvalid, "--infra-image, --infra-command and --infra-name need an infra container")
		}
		return nil
	}
	if o.Hostname != "" && o.Share != nil && !contains(o.Share, ShareUTS) {
		return errdefs.Newf(errdefs.ErrInvalid, "cannot set a pod hostname without sharing the uts namespace")
	}
	// Without a shared network the pod's network options are its infra container's alone;
	// its ports would reach nothing of the pod's.
	if o.Share != nil && !contains(o.Share, ShareNet) && len(o.Ports) > 0 {
		return errdefs.Newf(errdefs.ErrInvalid, "cannot publish the pod's ports without sharing the net namespace")
	}
	if strings.HasPrefix(o.Network, "container:") {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid pod network %q: a pod cannot join a container's network", o.Network)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// infraOptions turns a pod's options into its infra container's.
func infraOptions(p *Pod, image string) CreateOptions {
	o := p.Options
	name := o.InfraName
	if name == "" {
		name = p.ID[:12] + "-infra"
	}
	c := CreateOptions{Image: image, Name: name, Pod: p.ID, Labels: map[string]string{},
		Network: o.Network, Networks: o.Networks, Ports: o.Ports, AddHosts: o.AddHosts,
		DNS: o.DNS, DNSSearch: o.DNSSearch, DNSOptions: o.DNSOptions}
	if len(o.InfraCommand) > 0 { // the infra image's entrypoint, as podman's --infra-command
		ep := append([]string{}, o.InfraCommand...)
		c.Entrypoint = &ep
	}
	if p.Shares(ShareUTS) {
		c.Hostname = p.Hostname()
	}
	return c
}

// CreatePod records a pod and its infra container (in one transaction) and gives the infra
// container its writable layer. The infra container runs berth's pause program unless
// InfraImage names another image; it is started with the pod's first container or `pod start`.
func (e *Engine) CreatePod(ctx context.Context, o PodOptions) (p *Pod, retErr error) {
	if err := validatePodOptions(&o); err != nil {
		return nil, err
	}
	if _, _, err := e.parseDevices(o.Devices); err != nil {
		return nil, err
	}
	if o.Replace && o.Name != "" {
		if err := e.RemovePod(ctx, o.Name, PodRemoveOptions{Force: true}); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
	}
	id := randomID()
	if o.Name == "" {
		o.Name = "pod_" + id[:12]
	}
	p = &Pod{ID: id, Name: o.Name, Created: time.Now().UTC(), Options: o}
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr == nil {
			e.podEvent(p, "create")
		}
	}()
	if o.NoInfra {
		return p, db.Pods().Insert(ctx, state.Row{ID: p.ID, Name: p.Name, Created: p.Created.UnixNano(), Record: p})
	}
	image := o.InfraImage
	if image == "" {
		if image, err = e.pauseImage(ctx); err != nil {
			return nil, err
		}
	}
	c, undo, err := e.newContainer(ctx, infraOptions(p, image))
	if err != nil {
		return nil, fmt.Errorf("create infra container of pod %s: %w", p.Name, err)
	}
	defer func() {
		if retErr != nil {
			undo()
		}
	}()
	c.Infra = true
	p.InfraID = c.ID
	if err := db.Pods().Insert(ctx, state.Row{ID: p.ID, Name: p.Name, Created: p.Created.UnixNano(), Record: p},
		state.Row{ID: c.ID, Name: c.Name, Created: c.Created.UnixNano(), Record: c}); err != nil {
		return nil, err
	}
	if err := e.makeContainerStorage(ctx, c); err != nil {
		_ = db.Pods().Delete(context.Background(), p.ID, c.ID)
		return nil, err
	}
	e.containerEvent(c, "create")
	return p, nil
}

// podEvent records action on p in the event log, with its name and labels.
func (e *Engine) podEvent(p *Pod, action string) { e.EmitPod(action, p.ID, p.Name, p.Options.Labels) }

// Pod loads a pod by name, id or id prefix.
func (e *Engine) Pod(ctx context.Context, ref string) (*Pod, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var p Pod
	if _, err := db.Pods().Get(ctx, ref, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Pods lists every pod, newest first.
func (e *Engine) Pods(ctx context.Context) ([]*Pod, error) {
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Pod
	err = db.Pods().List(ctx, func(b []byte) error {
		var p Pod
		if err := json.Unmarshal(b, &p); err != nil {
			return fmt.Errorf("decode pod record: %w", err)
		}
		out = append(out, &p)
		return nil
	})
	return out, err
}

// lockedPod takes the lock of pod ref and loads it under the lock: containers join and leave
// the pod only under it.
func (e *Engine) lockedPod(ctx context.Context, ref string) (p *Pod, release func(), err error) {
	if p, err = e.Pod(ctx, ref); err != nil {
		return nil, nil, err
	}
	lk, err := e.Lock(ctx, "pod", p.ID)
	if err != nil {
		return nil, nil, err
	}
	if p, err = e.Pod(ctx, p.ID); err != nil {
		lk.Release()
		return nil, nil, err
	}
	return p, func() { lk.Release() }, nil
}

// PodContainers returns the pod's containers, reconciled, infra first, then oldest first.
func (e *Engine) PodContainers(ctx context.Context, p *Pod) ([]*Container, error) {
	all, err := e.containerRecords(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Container
	for i := len(all) - 1; i >= 0; i-- { // records come newest first
		c := all[i]
		if c.Options.Pod != p.ID {
			continue
		}
		if err := e.reconcile(ctx, c); err != nil {
			return nil, err
		}
		if c.Infra {
			out = append([]*Container{c}, out...)
		} else {
			out = append(out, c)
		}
	}
	return out, nil
}

// PodState derives a pod's state from its containers': Running when all run, Paused when all
// are paused, Exited when none runs and one has run, Created when none ever ran, Degraded
// when some run and others do not.
func PodState(cs []*Container) string {
	var running, paused, exited, created int
	for _, c := range cs {
		switch c.State {
		case StateRunning, StateRestarting:
			running++
		case StatePaused:
			paused++
		case StateExited:
			exited++
		default:
			created++
		}
	}
	switch n := len(cs); {
	case n == 0 || created == n:
		return PodCreated
	case running == n:
		return PodRunning
	case paused == n:
		return PodPaused
	case running+paused > 0:
		return PodDegraded
	}
	return PodExited
}

// joinPod applies pod p to the options of a container joining it: the namespaces it shares
// are the infra container's, so the container may not set what belongs to them.
func joinPod(p *Pod, o *CreateOptions) error {
	o.Pod = p.ID
	if len(p.Share()) > 0 && ((o.UserNS != "" && o.UserNS != "host") || len(o.UIDMaps)+len(o.GIDMaps) > 0) {
		// A process in a user namespace of its own may not join the pod's namespaces.
		return errdefs.Newf(errdefs.ErrInvalid, "invalid config for a container in pod %s: the user namespace belongs to the pod, its containers cannot set --userns, --uidmap or --gidmap", p.Name)
	}
	if p.Shares(ShareNet) {
		switch {
		case len(o.Ports) > 0 || o.PublishAll:
			return errdefs.Newf(errdefs.ErrInvalid, "invalid config for a container in pod %s: ports are published by the pod (pod create -p), not by its containers", p.Name)
		case o.Network != "" || len(o.Networks) > 0:
			return errdefs.Newf(errdefs.ErrInvalid, "invalid config for a container in pod %s: the network belongs to the pod, its containers share it", p.Name)
		case len(o.AddHosts)+len(o.DNS)+len(o.DNSSearch)+len(o.DNSOptions) > 0:
			return errdefs.Newf(errdefs.ErrInvalid, "invalid config for a container in pod %s: --add-host and --dns are set on the pod, its containers share its network", p.Name)
		}
		o.Network = "container:" + p.InfraID
	}
	if p.Shares(ShareUTS) {
		if o.Hostname != "" && o.Hostname != p.Hostname() {
			return errdefs.Newf(errdefs.ErrInvalid, "invalid config for a container in pod %s: the hostname belongs to the pod, its containers share its uts namespace", p.Name)
		}
		o.Hostname = p.Hostname()
	}
	return nil
}

// PodRef splits run's --pod value: "new:NAME" asks for a new pod.
func PodRef(v string) (name string, isNew bool) {
	if n, ok := strings.CutPrefix(v, "new:"); ok {
		return n, true
	}
	return v, false
}
