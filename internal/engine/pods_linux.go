package engine

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// podNamespaces maps what a pod shares to the namespace its containers join; the network
// namespace is joined through the container:INFRA network mode instead.
var podNamespaces = map[string]specs.LinuxNamespaceType{
	ShareIPC: specs.IPCNamespace, ShareUTS: specs.UTSNamespace, SharePID: specs.PIDNamespace, ShareCgroup: specs.CgroupNamespace,
}

// procNS names each namespace's file under /proc/PID/ns.
var procNS = map[specs.LinuxNamespaceType]string{
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.PIDNamespace: "pid", specs.CgroupNamespace: "cgroup",
}

// joinPodNamespaces points the spec of a container in a pod at the namespaces of the pod's
// running infra container, for each namespace the pod shares.
func (e *Engine) joinPodNamespaces(ctx context.Context, c *Container, s *specs.Spec) error {
	if c.Options.Pod == "" || c.Infra {
		return nil
	}
	p, err := e.Pod(ctx, c.Options.Pod)
	if err != nil {
		return err
	}
	if p.InfraID == "" {
		return nil
	}
	infra, err := e.Container(ctx, p.InfraID)
	if err != nil {
		return err
	}
	if !infra.Active() || infra.Pid <= 0 {
		return errdefs.Newf(errdefs.ErrInvalid, "cannot join pod %s: its infra container %s is not running", p.Name, infra.Name)
	}
	if len(p.Share()) > 0 {
		// Rootless commands share one user namespace while anything runs in it; should the
		// infra container's belong to another (one made before that), a process of this one
		// cannot join its namespaces (the runtime would fail on the path with EACCES).
		if _, err := os.Stat("/proc/" + strconv.Itoa(infra.Pid) + "/ns/net"); errors.Is(err, fs.ErrPermission) {
			return errdefs.Newf(errdefs.ErrNotSupported, "cannot join pod %s: its namespaces belong to the user namespace of the berth command that started its infra container; create the containers and start them together with pod start", p.Name)
		}
	}
	for _, share := range p.Share() {
		t, ok := podNamespaces[share]
		if !ok {
			continue
		}
		setNamespacePath(s, t, "/proc/"+strconv.Itoa(infra.Pid)+"/ns/"+procNS[t])
		if t == specs.UTSNamespace {
			s.Hostname = "" // the pod's namespace has its name: the runtime must not set it
		}
	}
	return nil
}

// setNamespacePath makes the spec join namespace t at path.
func setNamespacePath(s *specs.Spec, t specs.LinuxNamespaceType, path string) {
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			s.Linux.Namespaces[i].Path = path
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
}
