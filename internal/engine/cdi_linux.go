package engine

import (
	"maps"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// addDevices gives s the host device nodes and the CDI devices of a container or build step.
func (e *Engine) addDevices(s *specs.Spec, devs []Device, cdiNames []string) error {
	remapped := map[string]string{}
	for _, d := range devs {
		if err := addDevice(s, d); err != nil {
			return err
		}
		if d.PathOnHost != d.PathInContainer {
			remapped[d.PathInContainer] = d.PathOnHost
		}
	}
	if len(cdiNames) > 0 {
		reg, err := e.CDI()
		if err != nil {
			return err
		}
		if err := reg.Inject(s, cdiNames); err != nil {
			return errdefs.Newf(errdefs.ErrInvalid, "%v", err)
		}
		maps.Copy(remapped, reg.HostPaths(cdiNames))
	}
	if e.Config.Rootless {
		bindRemappedDevices(s, remapped)
	}
	return nil
}

// bindRemappedDevices turns each device node whose host path differs from its container
// path into a bind mount of the host's node. In a user namespace nodes cannot be made, and
// the runtime (like runc) bind-mounts the host node found at the container path instead.
func bindRemappedDevices(s *specs.Spec, hostPaths map[string]string) {
	var kept []specs.LinuxDevice
	for _, d := range s.Linux.Devices {
		host, ok := hostPaths[d.Path]
		if !ok {
			kept = append(kept, d)
			continue
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: d.Path, Type: "bind", Source: host, Options: []string{"bind", "nosuid", "noexec"}})
	}
	s.Linux.Devices = kept
}
