package cdi

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"go.yaml.in/yaml/v3"
	cdilib "tags.cncf.io/container-device-interface/pkg/cdi"
	"tags.cncf.io/container-device-interface/pkg/parser"
	cdispec "tags.cncf.io/container-device-interface/specs-go"
)

// DefaultSpecDirs are where CDI specs live unless configured otherwise: static specs first,
// generated ones (higher priority) second.
var DefaultSpecDirs = []string{"/etc/cdi", "/var/run/cdi"}

// IsQualifiedName reports whether name is a CDI device name (vendor.com/class=name) rather
// than a device path.
func IsQualifiedName(name string) bool { return parser.IsQualifiedName(name) }

// Registry is the CDI devices that the specs of some directories describe, read once.
type Registry struct {
	dirs  []string
	cache *cdilib.Cache
}

// Open reads the specs in dirs (DefaultSpecDirs when empty). Missing directories are fine;
// a spec that does not parse or validate makes its devices unavailable and is reported by
// [Registry.Errors] and by any request for a device it would have provided.
func Open(dirs []string) (*Registry, error) {
	if len(dirs) == 0 {
		dirs = DefaultSpecDirs
	}
	// No auto-refresh: a berth command lives for one request, and the watcher would only
	// cost a goroutine and an inotify instance.
	c, err := cdilib.NewCache(cdilib.WithSpecDirs(dirs...), cdilib.WithAutoRefresh(false))
	if err != nil {
		return nil, fmt.Errorf("read CDI specs from %s: %w", strings.Join(dirs, ", "), err)
	}
	return &Registry{dirs: dirs, cache: c}, nil
}

// Devices lists the qualified names of every device available, sorted.
func (r *Registry) Devices() []string {
	return r.cache.ListDevices()
}

// Errors lists the problems found in the spec files, one line each naming the file.
func (r *Registry) Errors() []string {
	var out []string
	for path, errs := range r.cache.GetErrors() {
		for _, err := range errs {
			msg := err.Error()
			if !strings.Contains(msg, path) {
				msg = path + ": " + msg
			}
			if !slices.Contains(out, msg) {
				out = append(out, msg)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Check reports a clear error unless every name is a well-formed device some spec provides.
func (r *Registry) Check(names []string) error {
	for _, n := range names {
		if _, _, _, err := parser.ParseQualifiedName(n); err != nil {
			return fmt.Errorf("invalid CDI device %q: %w", n, err)
		}
	}
	var missing []string
	for _, n := range names {
		if r.cache.GetDevice(n) == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if noneOfKind(r.Devices(), missing, NVIDIAGPUKind) {
		if _, err := os.Stat("/dev/nvidiactl"); err != nil {
			return fmt.Errorf("cannot give the container %s: no NVIDIA GPU driver on this host (/dev/nvidiactl is missing) and no NVIDIA CDI spec in %s",
				strings.Join(missing, ", "), strings.Join(r.dirs, ", "))
		}
		return fmt.Errorf("cannot give the container %s: no NVIDIA CDI spec in %s; write one with `berth cdi generate nvidia`",
			strings.Join(missing, ", "), strings.Join(r.dirs, ", "))
	}
	msg := fmt.Sprintf("unresolvable CDI devices %s (no spec in %s provides them)", strings.Join(missing, ", "), strings.Join(r.dirs, ", "))
	if errs := r.Errors(); len(errs) > 0 {
		msg += "; spec errors: " + strings.Join(errs, "; ")
	}
	return fmt.Errorf("%s", msg)
}

// noneOfKind reports whether every missing name is of kind and no available device is.
func noneOfKind(available, missing []string, kind string) bool {
	for _, n := range missing {
		if !strings.HasPrefix(n, kind+"=") {
			return false
		}
	}
	for _, n := range available {
		if strings.HasPrefix(n, kind+"=") {
			return false
		}
	}
	return true
}

// Inject applies the container edits of the named devices (and of the specs they come from)
// to s: device nodes and their cgroup rules, mounts, env, hooks and additional groups.
func (r *Registry) Inject(s *specs.Spec, names []string) error {
	if len(names) == 0 {
		return nil
	}
	if err := r.Check(names); err != nil {
		return err
	}
	if _, err := r.cache.InjectDevices(s, names...); err != nil {
		return fmt.Errorf("inject CDI devices %s: %w", strings.Join(names, ", "), err)
	}
	return nil
}

// HostPaths maps the container path of each device node the named devices (and their specs)
// add to the host node it comes from, where the two differ.
func (r *Registry) HostPaths(names []string) map[string]string {
	m := map[string]string{}
	add := func(e cdispec.ContainerEdits) {
		for _, n := range e.DeviceNodes {
			if n.HostPath != "" && n.HostPath != n.Path {
				m[n.Path] = n.HostPath
			}
		}
	}
	for _, name := range names {
		if d := r.cache.GetDevice(name); d != nil {
			add(d.GetSpec().ContainerEdits)
			add(d.ContainerEdits)
		}
	}
	return m
}

// WriteSpec validates spec and writes it to path as YAML, through a temporary file renamed
// into place so that a reader never sees half a spec.
func WriteSpec(spec *cdispec.Spec, path string) (retErr error) {
	data, err := yaml.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encode CDI spec: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write CDI spec: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*"+filepath.Ext(path))
	if err != nil {
		return fmt.Errorf("write CDI spec: %w", err)
	}
	defer func() {
		if retErr != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write CDI spec %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write CDI spec %s: %w", tmp.Name(), err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write CDI spec: %w", err)
	}
	if _, err := cdilib.ReadSpec(tmp.Name(), 0); err != nil {
		return fmt.Errorf("generated CDI spec is invalid: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write CDI spec: %w", err)
	}
	return nil
}

// MarshalSpec is spec as YAML, validated.
func MarshalSpec(spec *cdispec.Spec) ([]byte, error) {
	dir, err := os.MkdirTemp("", "berth-cdi-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "spec.yaml")
	if err := WriteSpec(spec, p); err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}
