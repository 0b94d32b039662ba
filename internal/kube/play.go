package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libnet"
)

// LabelPlay marks the pods, containers and volumes play creates, so that down and --replace
// remove only what a play made.
const LabelPlay = "io.berth.kube.play"

// DefaultNetwork is the network pods join when play is given no --network (rootful): a
// user network, so that pod and Service names resolve. Play creates it when missing.
const DefaultNetwork = "kube"

// PlayOptions tune the translation of a manifest.
type PlayOptions struct {
	// FilesDir is berth's directory for ConfigMap and Secret volumes: each is written to
	// FilesDir/POD/VOLUME and bind-mounted read-only.
	FilesDir string
	// Network is a mode (host, none) or "" to join Networks; both empty mean
	// DefaultNetwork, or, when that is empty, the engine's default for a pod.
	Network        string
	Networks       []string
	DefaultNetwork string
	// ConfigMaps are the objects of --configmap files (only their ConfigMaps are used).
	ConfigMaps []*Manifest
	// Publish overrides or adds host ports (--publish), matched by container port.
	Publish   []libnet.PortMapping
	LogDriver string
	// NodeName answers fieldRef spec.nodeName (the host's name).
	NodeName string
	// Names translates only for down, which needs the names of what play made: a missing
	// ConfigMap or Secret key is then no error.
	Names bool
}

// Plan is what playing a manifest creates, in order: volumes, then pods.
type Plan struct {
	Volumes []VolumePlan
	Pods    []PodPlan
	// Report has one line per kind or field berth does not apply.
	Report []string
}

// VolumePlan is a named volume for a PersistentVolumeClaim; an existing one is reused.
type VolumePlan struct {
	Name   string
	Labels map[string]string
}

// PodPlan is one pod and its containers.
type PodPlan struct {
	Kind, Object string // what it came from: Deployment web
	Name         string
	Labels       map[string]string
	Annotations  map[string]string
	Hostname     string
	// Network is a mode (host, none) or "" for Networks, each with the pod's DNS aliases.
	Network  string
	Networks []engine.NetworkRequest
	Ports    []libnet.PortMapping
	// Start is false for a Deployment of 0 replicas.
	Start bool
	// Job says play waits for the containers to finish and reports their status.
	Job            bool
	InitContainers []ContainerPlan
	Containers     []ContainerPlan
	// Files are the ConfigMap and Secret volumes to write before creating containers.
	Files []FileSet
	// EmptyDirs are named volumes made for the pod and removed with it.
	EmptyDirs []string
	// HostPaths are hostPath volumes with a type to check or create.
	HostPaths []HostPath
}

// ContainerPlan is one container to create.
type ContainerPlan struct {
	engine.CreateOptions
	// PullPolicy is Always, IfNotPresent or Never.
	PullPolicy string
}

// FileSet is the content of one ConfigMap or Secret volume.
type FileSet struct {
	Dir   string // FilesDir/POD/VOLUME
	Files []File
}

// File is one key of a ConfigMap or Secret as a file; Path is relative to its FileSet's Dir.
type File struct {
	Path string
	Data []byte
	Mode os.FileMode
}

// HostPath is a hostPath volume whose type says what must exist (or be created) at Path.
type HostPath struct {
	Path string
	Type corev1.HostPathType
}

// planner carries what translating one manifest needs across objects.
type planner struct {
	o          PlayOptions
	source     string
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	plan       *Plan
	// base is the path of the pod spec being translated ("spec.template.spec"), for errors
	// and report lines.
	base string
	// declared holds every container port of each pod, published or not, for --publish.
	declared map[string]map[portKey]bool
}

type portKey struct {
	port  uint16
	proto string
}

// Translate turns a manifest into a plan. It fails, before anything is created, on what
// cannot run here: a Deployment of more than one replica, a missing ConfigMap, a hostPort
// used twice. Kinds and fields berth does not apply go into the plan's report.
func Translate(m *Manifest, o PlayOptions) (*Plan, error) {
	p := &planner{o: o, source: m.Source, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}, plan: &Plan{},
		declared: map[string]map[portKey]bool{}}
	for _, cm := range o.ConfigMaps {
		for _, obj := range cm.Objects {
			if c, ok := obj.Obj.(*corev1.ConfigMap); ok {
				p.configMaps[c.Name] = c
			}
		}
	}
	for _, obj := range m.Objects {
		switch x := obj.Obj.(type) {
		case *corev1.ConfigMap:
			p.configMaps[x.Name] = x
		case *corev1.Secret:
			p.secrets[x.Name] = x
		}
	}
	var services []Object
	for _, obj := range m.Objects {
		for _, f := range unapplied(obj) {
			if f == "" {
				p.report(obj, "", fmt.Sprintf("kind %s is not applied", obj.Kind))
			} else {
				p.report(obj, "", f+" is not applied")
			}
		}
		var err error
		switch x := obj.Obj.(type) {
		case *corev1.Pod:
			err = p.pod(obj, x.ObjectMeta.Name, x.ObjectMeta, x.Spec, "spec", true)
		case *appsv1.Deployment:
			err = p.deployment(obj, x)
		case *appsv1.DaemonSet:
			err = p.pod(obj, x.Name+"-pod", x.Spec.Template.ObjectMeta, x.Spec.Template.Spec, "spec.template.spec", true)
		case *batchv1.Job:
			err = p.job(obj, x)
		case *corev1.PersistentVolumeClaim:
			p.plan.Volumes = append(p.plan.Volumes, VolumePlan{Name: x.Name, Labels: copyMap(x.Labels)})
		case *corev1.Service:
			services = append(services, obj)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, s := range services {
		p.service(s)
	}
	if err := p.publish(); err != nil {
		return nil, err
	}
	if err := checkPorts(p.plan.Pods); err != nil {
		return nil, err
	}
	return p.plan, nil
}

func (p *planner) report(obj Object, path, msg string) {
	if path != "" {
		msg = path + " " + msg
	}
	p.plan.Report = append(p.plan.Report, fmt.Sprintf("%s:%d: %s: %s", p.source, obj.Line, objectName(obj.Kind, obj.Name), msg))
}

func (p *planner) errorf(obj Object, format string, args ...any) error {
	return errdefs.Newf(errdefs.ErrInvalid, "%s:%d: %s: %s", p.source, obj.Line, objectName(obj.Kind, obj.Name), fmt.Sprintf(format, args...))
}

func (p *planner) deployment(obj Object, d *appsv1.Deployment) error {
	start := true
	if d.Spec.Replicas != nil {
		switch r := *d.Spec.Replicas; {
		case r > 1:
			return p.errorf(obj, "spec.replicas is %d: berth runs one replica on this host; set replicas to 1", r)
		case r == 0:
			start = false
		}
	}
	return p.pod(obj, d.Name+"-pod", d.Spec.Template.ObjectMeta, d.Spec.Template.Spec, "spec.template.spec", start)
}

func (p *planner) job(obj Object, j *batchv1.Job) error {
	for _, f := range []struct {
		name string
		v    *int32
	}{{"completions", j.Spec.Completions}, {"parallelism", j.Spec.Parallelism}} {
		if f.v != nil && *f.v > 1 {
			return p.errorf(obj, "spec.%s is %d: berth runs a Job once on this host; set it to 1", f.name, *f.v)
		}
	}
	spec := j.Spec.Template.Spec
	switch spec.RestartPolicy {
	case "":
		spec.RestartPolicy = corev1.RestartPolicyNever
	case corev1.RestartPolicyAlways:
		return p.errorf(obj, "spec.template.spec.restartPolicy Always is not allowed for a Job: use OnFailure or Never")
	}
	if err := p.pod(obj, j.Name+"-pod", j.Spec.Template.ObjectMeta, spec, "spec.template.spec", true); err != nil {
		return err
	}
	pp := &p.plan.Pods[len(p.plan.Pods)-1]
	pp.Job = true
	if spec.RestartPolicy == corev1.RestartPolicyOnFailure {
		retries := 6 // Kubernetes' default backoffLimit
		if j.Spec.BackoffLimit != nil {
			retries = int(*j.Spec.BackoffLimit)
		}
		for i := range pp.Containers {
			pp.Containers[i].Restart = engine.RestartPolicy{Name: "on-failure", MaximumRetryCount: retries}
		}
	}
	return nil
}

// pod translates one pod spec (a Pod's, or a template's) into a PodPlan.
func (p *planner) pod(obj Object, name string, meta metav1.ObjectMeta, spec corev1.PodSpec, base string, start bool) error {
	p.base = base
	if !validName(name) {
		return p.errorf(obj, "invalid pod name %q", name)
	}
	for _, other := range p.plan.Pods {
		if other.Name == name {
			return p.errorf(obj, "pod %s is defined twice in the file", name)
		}
	}
	pp := PodPlan{Kind: obj.Kind, Object: obj.Name, Name: name, Labels: copyMap(meta.Labels),
		Annotations: copyMap(meta.Annotations), Hostname: spec.Hostname, Start: start}
	if pp.Hostname == "" {
		pp.Hostname = name
	}
	switch {
	case spec.HostNetwork:
		pp.Network = engine.NetworkHost // hostPorts need no publishing there
	case p.o.Network != "":
		pp.Network = p.o.Network
	default:
		nets := p.o.Networks
		if len(nets) == 0 && p.o.DefaultNetwork != "" {
			nets = []string{p.o.DefaultNetwork}
		}
		for _, n := range nets {
			pp.Networks = append(pp.Networks, engine.NetworkRequest{Name: n, Aliases: []string{name}})
		}
	}
	vols, err := p.volumes(obj, &pp, spec)
	if err != nil {
		return err
	}
	restart, err := restartPolicy(spec.RestartPolicy)
	if err != nil {
		return p.errorf(obj, "%s.restartPolicy: %v", base, err)
	}
	seen := map[string]bool{}
	for i, c := range spec.InitContainers {
		cp, err := p.container(obj, &pp, spec, c, fmt.Sprintf("%s.initContainers[%d]", base, i), vols, seen)
		if err != nil {
			return err
		}
		cp.Restart = engine.RestartPolicy{Name: "no"}
		pp.InitContainers = append(pp.InitContainers, cp)
	}
	if len(spec.Containers) == 0 {
		return p.errorf(obj, "%s.containers: a pod needs at least one container", base)
	}
	for i, c := range spec.Containers {
		cp, err := p.container(obj, &pp, spec, c, fmt.Sprintf("%s.containers[%d]", base, i), vols, seen)
		if err != nil {
			return err
		}
		cp.Restart = restart
		pp.Containers = append(pp.Containers, cp)
	}
	if pp.Network == engine.NetworkHost || pp.Network == engine.NetworkNone {
		pp.Ports = nil // on the host's network a port needs no publishing; on none it cannot have any
	}
	p.plan.Pods = append(p.plan.Pods, pp)
	return nil
}

func restartPolicy(p corev1.RestartPolicy) (engine.RestartPolicy, error) {
	switch p {
	case "", corev1.RestartPolicyAlways:
		return engine.RestartPolicy{Name: "always"}, nil
	case corev1.RestartPolicyOnFailure:
		return engine.RestartPolicy{Name: "on-failure"}, nil
	case corev1.RestartPolicyNever:
		return engine.RestartPolicy{Name: "no"}, nil
	}
	return engine.RestartPolicy{}, fmt.Errorf("unknown policy %q: want Always, OnFailure or Never", p)
}

// service gives the pods a Service selects its name on their networks.
func (p *planner) service(obj Object) {
	s := obj.Obj.(*corev1.Service)
	if len(s.Spec.Selector) == 0 {
		p.report(obj, "", "a Service without spec.selector is not applied")
		return
	}
	switch s.Spec.Type {
	case "", corev1.ServiceTypeClusterIP:
	default:
		p.report(obj, "spec.type", fmt.Sprintf("%s is not applied: the name resolves to the pods' own addresses", s.Spec.Type))
	}
	for i, port := range s.Spec.Ports {
		t := port.TargetPort
		if t.Type == intstr.Int && t.IntVal != 0 && t.IntVal != port.Port || t.Type == intstr.String && t.StrVal != "" && t.StrVal != strconv.Itoa(int(port.Port)) {
			p.report(obj, fmt.Sprintf("spec.ports[%d].port", i), fmt.Sprintf("%d is not applied: the name reaches the pods on targetPort %s", port.Port, t.String()))
		}
	}
	matched := false
	for i := range p.plan.Pods {
		pp := &p.plan.Pods[i]
		if !selects(s.Spec.Selector, pp.Labels) {
			continue
		}
		matched = true
		if len(pp.Networks) == 0 {
			p.report(obj, "", fmt.Sprintf("name is not applied to pod %s: it has no network with name resolution", pp.Name))
			continue
		}
		for j := range pp.Networks {
			pp.Networks[j].Aliases = appendUnique(pp.Networks[j].Aliases, s.Name)
		}
	}
	if !matched {
		p.report(obj, "spec.selector", "selects no pod of the file and is not applied")
	}
}

func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// publish applies --publish: a mapping replaces the host side of the container port it
// names in every pod declaring that port, or goes to the first pod when none does.
func (p *planner) publish() error {
	for _, m := range p.o.Publish {
		found := false
		for i := range p.plan.Pods {
			pp := &p.plan.Pods[i]
			if !p.declared[pp.Name][portKey{m.ContainerPort, m.Protocol}] {
				continue
			}
			found = true
			kept := pp.Ports[:0]
			for _, have := range pp.Ports {
				if have.ContainerPort != m.ContainerPort || have.Protocol != m.Protocol {
					kept = append(kept, have)
				}
			}
			pp.Ports = append(kept, m)
		}
		if !found {
			if len(p.plan.Pods) == 0 {
				return errdefs.Newf(errdefs.ErrInvalid, "--publish %d: the file has no pod", m.ContainerPort)
			}
			p.plan.Pods[0].Ports = append(p.plan.Pods[0].Ports, m)
		}
	}
	return nil
}

// checkPorts refuses a host port two pods (or two containers) of the plan ask for.
func checkPorts(pods []PodPlan) error {
	type key struct {
		port  uint16
		proto string
	}
	owner := map[key][]string{} // host IPs per port, each "IP pod"
	for _, pp := range pods {
		for _, m := range pp.Ports {
			if m.HostPort == 0 {
				continue
			}
			k := key{m.HostPort, m.Protocol}
			for _, o := range owner[k] {
				ip, other, _ := strings.Cut(o, " ")
				if ip == m.HostIP || ip == "" || m.HostIP == "" {
					return errdefs.Newf(errdefs.ErrInvalid, "hostPort %d/%s is used by both pod %s and pod %s", m.HostPort, m.Protocol, other, pp.Name)
				}
			}
			owner[k] = append(owner[k], m.HostIP+" "+pp.Name)
		}
	}
	return nil
}

// Names lists the pods of the plan, sorted, as down removes them.
func (pl *Plan) Names() []string {
	var out []string
	for _, pp := range pl.Pods {
		out = append(out, pp.Name)
	}
	sort.Strings(out)
	return out
}

// optional says a missing ConfigMap, Secret or key is no error: the reference says so, or
// the translation is only for down.
func (p *planner) optional(o *bool) bool { return p.o.Names || o != nil && *o }

// filesDir is where one ConfigMap or Secret volume of a pod is written.
func (p *planner) filesDir(pod, vol string) string {
	return filepath.Join(p.o.FilesDir, pod, vol)
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// validName is the engine's rule for container, pod and volume names.
func validName(n string) bool {
	if n == "" {
		return false
	}
	for i, r := range n {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || r != '_' && r != '.' && r != '-') {
			return false
		}
	}
	return true
}
