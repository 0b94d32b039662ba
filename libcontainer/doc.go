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
package libcontainer
