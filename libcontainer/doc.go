// Package libcontainer is berth's OCI runtime: it turns a runtime-spec bundle into an
// isolated process (create, start, state, kill, delete, exec, pause, resume). berth calls it
// directly, and `berth runtime` / `berth-runtime` expose it with runc's command line.
//
// Namespaces. A new container's namespaces are created by clone(2) when the init process is
// started (Go's SysProcAttr.Cloneflags, uid/gid maps written by the kernel helper or by
// newuidmap when rootless). Namespaces given by path are joined by the init process on its
// locked main thread (net, ipc, uts, cgroup, time), which is safe in Go. Joining a user, mount
// or pid namespace is not possible from a multi-threaded process, so `exec` goes through a
// small C constructor (package nsenter) that runs before the Go runtime starts, while the
// process is still single-threaded: it setns(2)s into the container's namespaces and forks
// so the child is inside the container's pid namespace. This is the approach runc proved.
//
// Cgroups. The runtime puts the init in its cgroup before sending it its config; only then does
// the init enter a new cgroup namespace (never at clone), so the namespace is rooted at the
// container's own cgroup. The container is shown that cgroup alone at /sys/fs/cgroup, read-only
// unless privileged: cgroup2 mounted in the namespace on a v2 host, one bind of its own cgroup
// per hierarchy on v1 and hybrid hosts (cgroupfs_linux.go).
//
// Signals. The user's command starts with every signal at its default disposition and an empty
// mask, whatever berth inherited (execDefaultSignals).
package libcontainer
