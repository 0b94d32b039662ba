package engine

import (
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// delegatedCgroup is the cgroup v2 subtree delegated to the user that this berth runs in (a
// systemd user service or a scope with Delegate=yes): the highest ancestor of our own cgroup
// the user owns, if it holds no process itself (so its children may have controllers), and
// the controllers it offers. "" when there is none: cgroup v1, or a login session's scope.
func delegatedCgroup() (string, []string) {
	var st unix.Statfs_t
	if unix.Statfs(cgroupRoot, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return "", nil
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", nil
	}
	own, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "0::")
	if !ok {
		return "", nil
	}
	top := ""
	// Inside berth's user namespace the user is uid 0, so Geteuid names the user either way.
	for p := filepath.Clean(own); p != "/" && p != "."; p = filepath.Dir(p) {
		var s unix.Stat_t
		if unix.Stat(filepath.Join(cgroupRoot, p), &s) != nil || int(s.Uid) != os.Geteuid() {
			break
		}
		top = p
	}
	if top == "" || top == own {
		return "", nil
	}
	if procs, err := os.ReadFile(filepath.Join(cgroupRoot, top, "cgroup.procs")); err != nil || len(strings.TrimSpace(string(procs))) > 0 {
		return "", nil
	}
	ctrl, _ := os.ReadFile(filepath.Join(cgroupRoot, top, "cgroup.controllers"))
	return top, strings.Fields(string(ctrl))
}

// rootlessCgroup places a rootless container's cgroup in the delegated subtree, or, where
// there is none (or it lacks a controller a limit needs), drops the limits from the spec with
// one warning saying so: a user cannot create cgroups anywhere else.
func rootlessCgroup(s *specs.Spec, o CreateOptions, id string) {
	parent, ctrls := delegatedCgroup()
	have := map[string]bool{}
	for _, c := range ctrls {
		have[c] = true
	}
	var missing []string
	if o.Memory > 0 && !have["memory"] {
		missing = append(missing, "--memory")
	}
	if (o.NanoCPUs > 0 || o.CPUShares > 0) && !have["cpu"] {
		missing = append(missing, "--cpus/--cpu-shares")
	}
	if o.PidsLimit != 0 && !have["pids"] {
		missing = append(missing, "--pids-limit")
	}
	if parent != "" {
		s.Linux.CgroupsPath = parent + "/berth/" + id
	}
	if len(missing) == 0 {
		return
	}
	why := "rootless berth runs in no delegated cgroup v2 subtree (on a systemd host with cgroup v2, run it in a user scope: systemd-run --user --scope berth ...)"
	if parent != "" {
		why = "the delegated cgroup " + parent + " lacks their controllers"
	}
	logrus.Warnf("resource limits %s are ignored: %s", strings.Join(missing, ", "), why)
	r := s.Linux.Resources
	r.Memory, r.CPU, r.Pids = nil, nil, nil
}
