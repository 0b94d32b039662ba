package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

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
	if c.Options.Pod == "" {
		return nil
	}
	p, err := e.Pod(ctx, c.Options.Pod)
	if err != nil {
		return err
	}
	if c.Infra {
		if p.Shares(ShareIPC) {
			if err := e.mountPodShm(c); err != nil {
				return err
			}
			shareShm(s, e.podShm(c.ID))
		}
		return nil
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
		if t == specs.IPCNamespace {
			shareShm(s, e.podShm(infra.ID))
		}
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

// podShm is where a pod's /dev/shm is mounted while its infra container runs.
func (e *Engine) podShm(infraID string) string {
	return filepath.Join(e.containerRunDir(infraID), "shm")
}

// mountPodShm mounts the pod's /dev/shm, a tmpfs as a container's own would be, for the
// infra container and every container of the pod to bind: POSIX shared memory lives there, so
// sharing the IPC namespace alone would not share it. A mount left by an earlier start goes
// first, so mounts never stack.
func (e *Engine) mountPodShm(infra *Container) error {
	p := e.podShm(infra.ID)
	unmountPodShm(p)
	if err := os.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("pod shm of %s: %w", infra.Name, err)
	}
	if err := unix.Mount("shm", p, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return fmt.Errorf("pod shm of %s: mount tmpfs on %s: %w", infra.Name, p, err)
	}
	return nil
}

// unmountPodShm releases the pod's /dev/shm; nothing mounted there is no error.
func unmountPodShm(p string) {
	for unix.Unmount(p, unix.MNT_DETACH) == nil {
	}
}

// shareShm makes the container's /dev/shm the pod's, mounted at path.
func shareShm(s *specs.Spec, path string) {
	for i, m := range s.Mounts {
		if m.Destination == "/dev/shm" && m.Type == "tmpfs" {
			s.Mounts[i] = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: path, Options: []string{"rbind", "nosuid", "noexec", "nodev"}}
		}
	}
}
