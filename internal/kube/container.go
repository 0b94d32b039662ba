package kube

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/libnet"
)

// volumeSource is how a pod volume is mounted into each container that names it.
type volumeSource struct {
	mount   engine.Mount // Target and ReadOnly are the container's
	subPath bool         // a subPath can be joined to Source (a directory on the host)
}

// volumes translates a pod's volumes and records what play must prepare for them.
func (p *planner) volumes(obj Object, pp *PodPlan, spec corev1.PodSpec) (map[string]volumeSource, error) {
	out := map[string]volumeSource{}
	for i, v := range spec.Volumes {
		at := fmt.Sprintf("%s.volumes[%d]", p.base, i)
		if !validName(v.Name) {
			return nil, p.errorf(obj, "%s.name: invalid volume name %q", at, v.Name)
		}
		if _, dup := out[v.Name]; dup {
			return nil, p.errorf(obj, "%s.name: volume %s is defined twice", at, v.Name)
		}
		switch {
		case v.HostPath != nil:
			if !filepath.IsAbs(v.HostPath.Path) {
				return nil, p.errorf(obj, "%s.hostPath.path: %q is not an absolute path", at, v.HostPath.Path)
			}
			if t := v.HostPath.Type; t != nil && *t != corev1.HostPathUnset {
				pp.HostPaths = append(pp.HostPaths, HostPath{Path: v.HostPath.Path, Type: *t})
			}
			out[v.Name] = volumeSource{mount: engine.Mount{Type: "bind", Source: filepath.Clean(v.HostPath.Path)}, subPath: true}
		case v.EmptyDir != nil:
			if v.EmptyDir.Medium == corev1.StorageMediumMemory {
				m := engine.Mount{Type: "tmpfs"}
				if s := v.EmptyDir.SizeLimit; s != nil && !s.IsZero() {
					m.Options = []string{"size=" + strconv.FormatInt(s.Value(), 10)}
				}
				out[v.Name] = volumeSource{mount: m}
				continue
			}
			if v.EmptyDir.SizeLimit != nil {
				p.report(obj, at+".emptyDir.sizeLimit", "is not applied (only with medium Memory)")
			}
			name := pp.Name + "-" + v.Name
			pp.EmptyDirs = append(pp.EmptyDirs, name)
			out[v.Name] = volumeSource{mount: engine.Mount{Type: "volume", Source: name}}
		case v.ConfigMap != nil:
			fs, err := p.configMapFiles(obj, at, pp.Name, v.Name, v.ConfigMap)
			if err != nil {
				return nil, err
			}
			pp.Files = append(pp.Files, fs)
			out[v.Name] = volumeSource{mount: engine.Mount{Type: "bind", Source: fs.Dir, ReadOnly: true}, subPath: true}
		case v.Secret != nil:
			fs, err := p.secretFiles(obj, at, pp.Name, v.Name, v.Secret)
			if err != nil {
				return nil, err
			}
			pp.Files = append(pp.Files, fs)
			out[v.Name] = volumeSource{mount: engine.Mount{Type: "bind", Source: fs.Dir, ReadOnly: true}, subPath: true}
		case v.PersistentVolumeClaim != nil:
			c := v.PersistentVolumeClaim
			if !validName(c.ClaimName) {
				return nil, p.errorf(obj, "%s.persistentVolumeClaim.claimName: invalid volume name %q", at, c.ClaimName)
			}
			out[v.Name] = volumeSource{mount: engine.Mount{Type: "volume", Source: c.ClaimName, ReadOnly: c.ReadOnly}}
		default:
			// The report names the source's field; the volume itself cannot be mounted.
			out[v.Name] = volumeSource{}
		}
	}
	return out, nil
}

// keyFiles turns a ConfigMap's or Secret's keys into files: every key, or only items (each at
// its path), with defaultMode or the item's mode. Paths stay inside the volume.
func (p *planner) keyFiles(obj Object, at string, data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, optional bool) ([]File, error) {
	mode := int32(0o644)
	if defaultMode != nil {
		mode = *defaultMode
	}
	if mode < 0 || mode > 0o777 {
		return nil, p.errorf(obj, "%s: mode %#o is not a file mode", at, mode)
	}
	var out []File
	if len(items) == 0 {
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	for i, it := range items {
		d, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, p.errorf(obj, "%s.items[%d].key: no key %q", at, i, it.Key)
		}
		clean := path.Clean(it.Path)
		if it.Path == "" || path.IsAbs(it.Path) || clean == ".." || strings.HasPrefix(clean, "../") || clean == "." {
			return nil, p.errorf(obj, "%s.items[%d].path: %q must be a relative path inside the volume", at, i, it.Path)
		}
		m := mode
		if it.Mode != nil {
			m = *it.Mode
		}
		if m < 0 || m > 0o777 {
			return nil, p.errorf(obj, "%s.items[%d].mode: %#o is not a file mode", at, i, m)
		}
		out = append(out, File{Path: clean, Data: d, Mode: fileMode(m)})
	}
	return out, nil
}

func (p *planner) configMapFiles(obj Object, at, pod, vol string, src *corev1.ConfigMapVolumeSource) (FileSet, error) {
	fs := FileSet{Dir: p.filesDir(pod, vol)}
	optional := p.optional(src.Optional)
	cm, ok := p.configMaps[src.Name]
	if !ok {
		if optional {
			return fs, nil
		}
		return fs, p.errorf(obj, "%s.configMap: ConfigMap %s not found in the file or --configmap", at, src.Name)
	}
	var err error
	fs.Files, err = p.keyFiles(obj, at+".configMap", configMapData(cm), src.Items, src.DefaultMode, optional)
	return fs, err
}

func (p *planner) secretFiles(obj Object, at, pod, vol string, src *corev1.SecretVolumeSource) (FileSet, error) {
	fs := FileSet{Dir: p.filesDir(pod, vol)}
	optional := p.optional(src.Optional)
	s, ok := p.secrets[src.SecretName]
	if !ok {
		if optional {
			return fs, nil
		}
		return fs, p.errorf(obj, "%s.secret: Secret %s not found in the file", at, src.SecretName)
	}
	var err error
	fs.Files, err = p.keyFiles(obj, at+".secret", secretData(s), src.Items, src.DefaultMode, optional)
	return fs, err
}

func fileMode(m int32) os.FileMode { return os.FileMode(m) }

func configMapData(cm *corev1.ConfigMap) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range cm.BinaryData {
		out[k] = v
	}
	for k, v := range cm.Data {
		out[k] = []byte(v)
	}
	return out
}

func secretData(s *corev1.Secret) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range s.Data {
		out[k] = v
	}
	for k, v := range s.StringData { // stringData wins, as the API server merges it
		out[k] = []byte(v)
	}
	return out
}

// container translates one container of a pod.
func (p *planner) container(obj Object, pp *PodPlan, spec corev1.PodSpec, c corev1.Container, at string, vols map[string]volumeSource, seen map[string]bool) (ContainerPlan, error) {
	if !validName(c.Name) {
		return ContainerPlan{}, p.errorf(obj, "%s.name: invalid container name %q", at, c.Name)
	}
	if seen[c.Name] {
		return ContainerPlan{}, p.errorf(obj, "%s.name: container %s is defined twice in the pod", at, c.Name)
	}
	seen[c.Name] = true
	if c.Image == "" {
		return ContainerPlan{}, p.errorf(obj, "%s.image: a container needs an image", at)
	}
	o := engine.CreateOptions{Image: c.Image, Name: pp.Name + "-" + c.Name, Workdir: c.WorkingDir,
		Interactive: c.Stdin, TTY: c.TTY, Labels: copyMap(pp.Labels), Annotations: copyMap(pp.Annotations), LogDriver: p.o.LogDriver}
	if o.Labels == nil {
		o.Labels = map[string]string{}
	}
	o.Labels[LabelPlay] = pp.Name
	env, err := p.env(obj, pp, spec, c, at)
	if err != nil {
		return ContainerPlan{}, err
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	o.Env = env
	if len(c.Command) > 0 {
		cmd := expandAll(c.Command, vars)
		o.Entrypoint = &cmd
	}
	o.Cmd = expandAll(c.Args, vars)
	if spec.TerminationGracePeriodSeconds != nil {
		t := int(*spec.TerminationGracePeriodSeconds)
		o.StopTimeout = &t
	}
	if err := p.security(obj, &o, spec.SecurityContext, c.SecurityContext, at); err != nil {
		return ContainerPlan{}, err
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		o.Memory = q.Value()
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		o.NanoCPUs = q.MilliValue() * 1e6
	}
	for i, port := range c.Ports {
		m, err := portMapping(port)
		if err != nil {
			return ContainerPlan{}, p.errorf(obj, "%s.ports[%d]: %v", at, i, err)
		}
		if p.declared[pp.Name] == nil {
			p.declared[pp.Name] = map[portKey]bool{}
		}
		p.declared[pp.Name][portKey{m.ContainerPort, m.Protocol}] = true
		if port.HostPort != 0 {
			pp.Ports = append(pp.Ports, m)
		}
	}
	if o.Health, err = p.health(obj, c, at); err != nil {
		return ContainerPlan{}, err
	}
	for i, vm := range c.VolumeMounts {
		src, ok := vols[vm.Name]
		if !ok {
			return ContainerPlan{}, p.errorf(obj, "%s.volumeMounts[%d].name: no volume %s in the pod", at, i, vm.Name)
		}
		if src.mount.Type == "" {
			continue // a volume source berth does not apply, reported already
		}
		if !path.IsAbs(vm.MountPath) || path.Clean(vm.MountPath) == "/" {
			return ContainerPlan{}, p.errorf(obj, "%s.volumeMounts[%d].mountPath: %q must be an absolute path other than /", at, i, vm.MountPath)
		}
		m := src.mount
		m.Target = vm.MountPath
		m.ReadOnly = m.ReadOnly || vm.ReadOnly
		if vm.SubPath != "" {
			clean := path.Clean(vm.SubPath)
			if !src.subPath || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
				return ContainerPlan{}, p.errorf(obj, "%s.volumeMounts[%d].subPath: %q cannot be mounted from volume %s", at, i, vm.SubPath, vm.Name)
			}
			m.Source = filepath.Join(m.Source, clean)
		}
		o.Mounts = append(o.Mounts, m)
	}
	policy := string(c.ImagePullPolicy)
	switch policy {
	case "":
		policy = string(corev1.PullIfNotPresent)
		if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(path.Base(c.Image), ":") && !strings.Contains(c.Image, "@") {
			policy = string(corev1.PullAlways) // Kubernetes' default for :latest
		}
	case string(corev1.PullAlways), string(corev1.PullIfNotPresent), string(corev1.PullNever):
	default:
		return ContainerPlan{}, p.errorf(obj, "%s.imagePullPolicy: unknown policy %q", at, policy)
	}
	return ContainerPlan{CreateOptions: o, PullPolicy: policy}, nil
}

func portMapping(port corev1.ContainerPort) (libnet.PortMapping, error) {
	proto := strings.ToLower(string(port.Protocol))
	switch proto {
	case "":
		proto = "tcp"
	case "tcp", "udp":
	default:
		return libnet.PortMapping{}, fmt.Errorf("protocol %s is not supported", port.Protocol)
	}
	if port.ContainerPort < 1 || port.ContainerPort > 65535 {
		return libnet.PortMapping{}, fmt.Errorf("containerPort %d is out of range", port.ContainerPort)
	}
	if port.HostPort < 0 || port.HostPort > 65535 {
		return libnet.PortMapping{}, fmt.Errorf("hostPort %d is out of range", port.HostPort)
	}
	return libnet.PortMapping{HostIP: port.HostIP, HostPort: uint16(port.HostPort), ContainerPort: uint16(port.ContainerPort), Protocol: proto}, nil
}

// security applies the pod's and the container's securityContext (the container's wins).
func (p *planner) security(obj Object, o *engine.CreateOptions, pod *corev1.PodSecurityContext, sc *corev1.SecurityContext, at string) error {
	var user, group *int64
	if pod != nil {
		user, group = pod.RunAsUser, pod.RunAsGroup
	}
	if sc != nil {
		if sc.RunAsUser != nil {
			user = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			group = sc.RunAsGroup
		}
		o.Privileged = sc.Privileged != nil && *sc.Privileged
		o.ReadOnly = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
		o.NoNewPrivs = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
		if caps := sc.Capabilities; caps != nil {
			for _, c := range caps.Add {
				o.CapAdd = append(o.CapAdd, string(c))
			}
			for _, c := range caps.Drop {
				o.CapDrop = append(o.CapDrop, string(c))
			}
		}
	}
	switch {
	case user != nil && group != nil:
		o.User = fmt.Sprintf("%d:%d", *user, *group)
	case user != nil:
		o.User = strconv.FormatInt(*user, 10)
	case group != nil:
		p.report(obj, at+".securityContext.runAsGroup", "is not applied without runAsUser")
	}
	return nil
}

// Probe handlers become health check commands run inside the container, as Podman does:
// an HTTP probe needs curl or wget in the image, a TCP probe nc (any flavour).
const (
	shellPrefix = "/bin/sh"
)

// health turns the container's probes into its health check: the livenessProbe, else the
// readinessProbe, else the startupProbe; a startupProbe beside another becomes the check's
// start period.
func (p *planner) health(obj Object, c corev1.Container, at string) (*engine.Healthcheck, error) {
	probes := []struct {
		name string
		pr   *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}}
	var h *engine.Healthcheck
	for _, x := range probes {
		if x.pr == nil {
			continue
		}
		if h != nil {
			if x.name == "startupProbe" {
				h.StartPeriod = probeDuration(x.pr.PeriodSeconds, 10) * time.Duration(max(x.pr.FailureThreshold, 1))
				if x.pr.FailureThreshold == 0 {
					h.StartPeriod *= 3
				}
				continue
			}
			p.report(obj, at+"."+x.name, "is not applied: a container has one health check")
			continue
		}
		test, err := probeTest(x.pr, c)
		if err != nil {
			return nil, p.errorf(obj, "%s.%s: %v", at, x.name, err)
		}
		if test == nil {
			p.report(obj, at+"."+x.name, "is not applied: only exec, httpGet and tcpSocket probes are")
			continue
		}
		h = &engine.Healthcheck{Test: test, Interval: probeDuration(x.pr.PeriodSeconds, 10),
			Timeout: probeDuration(x.pr.TimeoutSeconds, 1), StartPeriod: probeDuration(x.pr.InitialDelaySeconds, 0),
			Retries: int(x.pr.FailureThreshold)}
		if h.Retries == 0 {
			h.Retries = 3
		}
	}
	return h, nil
}

func probeDuration(s, def int32) time.Duration {
	if s <= 0 {
		s = def
	}
	return time.Duration(s) * time.Second
}

func probeTest(pr *corev1.Probe, c corev1.Container) ([]string, error) {
	switch {
	case pr.Exec != nil:
		cmd := pr.Exec.Command
		if len(cmd) == 0 {
			return nil, fmt.Errorf("exec.command is empty")
		}
		if len(cmd) == 3 && (cmd[0] == shellPrefix || cmd[0] == "sh") && cmd[1] == "-c" {
			return []string{"CMD-SHELL", cmd[2]}, nil
		}
		return append([]string{"CMD"}, cmd...), nil
	case pr.HTTPGet != nil:
		g := pr.HTTPGet
		port, err := probePort(g.Port, c)
		if err != nil {
			return nil, err
		}
		host := g.Host
		if host == "" {
			host = "localhost"
		}
		scheme := strings.ToLower(string(g.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		p := g.Path
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		url := fmt.Sprintf("%s://%s:%d%s", scheme, host, port, p)
		return []string{"CMD-SHELL", fmt.Sprintf("curl -fsS -o /dev/null %s || wget -q -O /dev/null %s", shellQuote(url), shellQuote(url))}, nil
	case pr.TCPSocket != nil:
		port, err := probePort(pr.TCPSocket.Port, c)
		if err != nil {
			return nil, err
		}
		host := pr.TCPSocket.Host
		if host == "" {
			host = "localhost"
		}
		// busybox's nc has no -z; it connects and, its stdin at EOF, exits 0 at once.
		hp := shellQuote(host) + " " + strconv.Itoa(port)
		return []string{"CMD-SHELL", fmt.Sprintf("nc -z %s 2>/dev/null || nc -w 1 %s </dev/null >/dev/null", hp, hp)}, nil
	}
	return nil, nil
}

// probePort resolves a probe's port, a number or the name of one of the container's ports.
func probePort(v intstr.IntOrString, c corev1.Container) (int, error) {
	if v.Type == intstr.Int {
		if v.IntVal < 1 || v.IntVal > 65535 {
			return 0, fmt.Errorf("port %d is out of range", v.IntVal)
		}
		return int(v.IntVal), nil
	}
	for _, p := range c.Ports {
		if p.Name == v.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(v.StrVal); err == nil && n > 0 && n < 65536 {
		return n, nil
	}
	return 0, fmt.Errorf("port %q names no port of the container", v.StrVal)
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:%@=+,-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
