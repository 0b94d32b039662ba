package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/libcontainer"
	"github.com/berth-project/berth/tests/fixture"
)

// ociRuntime is a runc-compatible command line: berth-runtime or runc.
type ociRuntime struct {
	name string
	argv []string // binary and global flags
}

func runtimes(t *testing.T) []ociRuntime {
	RequireRoot(t)
	rts := []ociRuntime{{"berth", []string{berthBin, "runtime", "--root", t.TempDir()}}}
	if runc, err := exec.LookPath("runc"); err == nil {
		rts = append(rts, ociRuntime{"runc", []string{runc, "--root", t.TempDir()}})
	}
	return rts
}

func (r ociRuntime) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(r.argv[0], append(append([]string{}, r.argv[1:]...), args...)...)
	// A file, not a pipe: a created container keeps the runtime's stdio open.
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v: timed out", r.name, args)
	}
	out, _ := os.ReadFile(f.Name())
	return string(out), cmd.ProcessState.ExitCode()
}

// bundle writes a busybox bundle whose config is the default spec adjusted by edit.
func bundle(t *testing.T, edit func(s *specs.Spec)) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755) // reachable by a user namespace's root
	os.Chmod(dir, 0o755)
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("needs busybox-static")
	}
	os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755)
	for _, a := range fixture.Applets {
		os.Symlink("busybox", filepath.Join(root, "bin", a))
	}
	os.WriteFile(filepath.Join(root, "bin/notexec"), []byte("#!/bin/sh\n"), 0o644)
	s := libcontainer.DefaultSpec()
	s.Root.Readonly = false
	s.Process.Terminal = false
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: libcontainer.DefaultCaps, Effective: libcontainer.DefaultCaps, Permitted: libcontainer.DefaultCaps}
	s.Linux.CgroupsPath = "/berthtest/" + filepath.Base(dir)
	if edit != nil {
		edit(s)
	}
	b, _ := json.Marshal(s)
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	return dir
}

func sh(script string) func(s *specs.Spec) {
	return func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", script} }
}

func containerID(t *testing.T) string {
	return fmt.Sprintf("t%d", time.Now().UnixNano())
}

func TestRuntimeIsolation(t *testing.T) {
	hostNS, _ := os.Readlink("/proc/self/ns/pid")
	hostMnt, _ := os.Readlink("/proc/self/ns/mnt")
	cases := []struct {
		name   string
		edit   func(s *specs.Spec)
		want   []string
		reject []string
	}{
		{"namespaces", sh("readlink /proc/self/ns/pid /proc/self/ns/mnt; echo pid=$$; hostname"), []string{"pid=1", "berth"}, []string{hostNS, hostMnt}},
		{"docker default capabilities", sh("grep CapEff /proc/self/status"), []string{"CapEff:\t00000000a80425fb"}, nil},
		{"masked and read-only proc", sh("wc -c < /proc/keys; echo x > /proc/sys/kernel/domainname || echo ro-ok"), []string{"0\n", "ro-ok"}, nil},
		{"rlimits", func(s *specs.Spec) {
			sh("ulimit -n; ulimit -c")(s)
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1000, Hard: 1000}, {Type: "RLIMIT_CORE", Soft: 0, Hard: 0}}
		}, []string{"1000\n0\n"}, nil},
		{"seccomp denies mkdir with EPERM", func(s *specs.Spec) {
			sh("mkdir /tmp/x 2>&1; echo done")(s)
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
				Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}}}
		}, []string{"Operation not permitted", "done"}, nil},
		{"user and groups", func(s *specs.Spec) {
			sh("id")(s)
			s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}
		}, []string{"uid=1000 gid=1000 groups=10,20"}, nil},
		{"pids limit stops a fork bomb", func(s *specs.Spec) {
			sh("for i in $(seq 30); do sleep 3 & done 2>&1 | head -1; echo survived")(s)
			limit := int64(10)
			s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
		}, []string{"fork", "survived"}, nil},
		{"uid maps in a user namespace", func(s *specs.Spec) {
			sh("cat /proc/self/uid_map")(s)
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, []string{"100000"}, nil},
	}
	for _, rt := range runtimes(t) {
		for _, c := range cases {
			t.Run(rt.name+"/"+c.name, func(t *testing.T) {
				b := bundle(t, c.edit)
				out, code := rt.run(t, "run", "--bundle", b, containerID(t))
				if code != 0 {
					t.Fatalf("exit %d:\n%s", code, out)
				}
				for _, w := range c.want {
					if !strings.Contains(out, w) {
						t.Errorf("output lacks %q:\n%s", w, out)
					}
				}
				for _, r := range c.reject {
					if r != "" && strings.Contains(out, r) {
						t.Errorf("output has host value %q:\n%s", r, out)
					}
				}
			})
		}
	}
}

func TestRuntimeLifecycle(t *testing.T) {
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			marks := filepath.Join(t.TempDir(), "hooks")
			hook := func(name string) specs.Hook {
				return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + name + " >> " + marks}}
			}
			b := bundle(t, func(s *specs.Spec) {
				s.Process.Args = []string{"sleep", "100"}
				mem := int64(64 << 20)
				s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &mem}
				s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{hook("createRuntime")}, CreateContainer: []specs.Hook{hook("createContainer")},
					StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo startContainer > /tmp/started"}}},
					Poststart:      []specs.Hook{hook("poststart")}, Poststop: []specs.Hook{hook("poststop")}}
			})
			id := containerID(t)
			pidFile := filepath.Join(t.TempDir(), "pid")
			if out, code := rt.run(t, "create", "--bundle", b, "--pid-file", pidFile, id); code != 0 {
				t.Fatalf("create: %d %s", code, out)
			}
			state := func() specs.State {
				out, code := rt.run(t, "state", id)
				var st specs.State
				if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
					t.Fatalf("state: %d %s", code, out)
				}
				return st
			}
			if st := state(); st.Status != "created" || st.Pid == 0 {
				t.Errorf("after create: %+v", st)
			}
			if pid, _ := os.ReadFile(pidFile); strings.TrimSpace(string(pid)) != fmt.Sprint(state().Pid) {
				t.Errorf("pid file %q, state pid %d", pid, state().Pid)
			}
			rt.run(t, "start", id)
			if st := state(); st.Status != "running" {
				t.Errorf("after start: %s", st.Status)
			}
			// startContainer ran inside the container, before the command.
			if got, _ := os.ReadFile(filepath.Join(b, "rootfs/tmp/started")); string(got) != "startContainer\n" {
				t.Errorf("startContainer hook: %q", got)
			}
			// exec joins the container's namespaces and cgroup.
			if out, code := rt.run(t, "exec", id, "sh", "-c", "echo pid=$$; hostname"); code != 0 || !strings.Contains(out, "berth") || strings.Contains(out, "pid=1\n") {
				t.Errorf("exec: %d %q", code, out)
			}
			if _, code := rt.run(t, "exec", id, "sh", "-c", "exit 3"); code != 3 {
				t.Errorf("exec exit status %d, want 3", code)
			}
			if out, code := rt.run(t, "exec", id, "nosuchcmd"); code == 0 || !strings.Contains(out, "nosuchcmd") {
				t.Errorf("exec of a missing command: %d %q", code, out)
			}
			cg := "/sys/fs/cgroup/memory" + "/berthtest/" + filepath.Base(b) + "/memory.limit_in_bytes"
			if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
				cg = "/sys/fs/cgroup/berthtest/" + filepath.Base(b) + "/memory.max"
			}
			if got, err := os.ReadFile(cg); err != nil || strings.TrimSpace(string(got)) != "67108864" {
				t.Errorf("memory limit %s = %q %v", cg, got, err)
			}
			if rt.name == "berth" {
				st, err := (&libcontainer.Runtime{Root: rt.argv[3]}).Stats(id)
				if err != nil || st.MemoryUsage == 0 || st.MemoryLimit != 64<<20 || st.PidsCurrent == 0 {
					t.Errorf("stats: %+v %v", st, err)
				}
			}
			if out, code := rt.run(t, "pause", id); code != 0 {
				t.Fatalf("pause: %s", out)
			}
			if st := state(); st.Status != "paused" {
				t.Errorf("after pause: %s", st.Status)
			}
			rt.run(t, "resume", id)
			if st := state(); st.Status != "running" {
				t.Errorf("after resume: %s", st.Status)
			}
			if out, _ := rt.run(t, "list", "-q"); !strings.Contains(out, id) {
				t.Errorf("list: %q", out)
			}
			if out, code := rt.run(t, "delete", id); code == 0 {
				t.Errorf("delete of a running container succeeded: %s", out)
			}
			rt.run(t, "kill", id, "KILL")
			for i := 0; i < 200 && state().Status != "stopped"; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			if out, code := rt.run(t, "delete", id); code != 0 {
				t.Fatalf("delete: %s", out)
			}
			if _, err := os.Stat(filepath.Dir(cg)); err == nil {
				t.Errorf("cgroup %s left behind", filepath.Dir(cg))
			}
			got, _ := os.ReadFile(marks)
			if string(got) != "createRuntime\ncreateContainer\npoststart\npoststop\n" {
				t.Errorf("hooks ran as %q", got)
			}
			if _, code := rt.run(t, "state", id); code == 0 {
				t.Error("state of a deleted container succeeded")
			}
		})
	}
}

func TestRuntimeErrors(t *testing.T) {
	rt := runtimes(t)[0]
	root := rt.argv[3]
	cases := []struct {
		name string
		edit func(s *specs.Spec)
		msg  string
	}{
		{"unknown namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, "linux.namespaces"},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = "/nonexistent-rootfs" }, "root.path"},
		{"relative mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "rel", Type: "tmpfs", Source: "tmpfs"})
		}, "mounts["},
		{"missing bind source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/nonexistent", Options: []string{"bind"}})
		}, "mounts["},
		{"unknown capability", func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_BOGUS"} }, "CAP_BOGUS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := rt.run(t, "create", "--bundle", bundle(t, c.edit), containerID(t))
			if code == 0 || !strings.Contains(out, c.msg) || strings.Count(strings.TrimSpace(out), "\n") > 0 {
				t.Errorf("exit %d, output %q, want one line naming %q", code, out, c.msg)
			}
			if ents, _ := os.ReadDir(root); len(ents) > 1 {
				t.Errorf("state left behind: %v", ents)
			}
		})
	}
	for cmd, want := range map[string]int{"nosuchcommand": 127, "/bin/notexec": 126} {
		id := containerID(t)
		b := bundle(t, func(s *specs.Spec) { s.Process.Args = []string{cmd} })
		// As with runc, create fails, with an exit code and message engines map to 127 or 126.
		out, code := rt.run(t, "create", "--bundle", b, id)
		if code != want || !strings.Contains(out, cmd) {
			t.Errorf("create of %s: exit %d (%q), want %d", cmd, code, out, want)
		}
		if ents, _ := os.ReadDir(root); len(ents) > 1 {
			t.Errorf("failed create left state: %v", ents)
		}
	}
}

func TestRuntimeJoinsPidNamespace(t *testing.T) {
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			a := bundle(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "100"} })
			ida := containerID(t)
			if out, code := rt.run(t, "run", "-d", "--bundle", a, ida); code != 0 {
				t.Fatalf("run -d: %s", out)
			}
			defer rt.run(t, "delete", "-f", ida)
			out, _ := rt.run(t, "state", ida)
			var st specs.State
			json.Unmarshal([]byte(out), &st)
			b := bundle(t, func(s *specs.Spec) {
				s.Process.Args = []string{"sh", "-c", "ps -o pid,comm"}
				for i, ns := range s.Linux.Namespaces {
					if ns.Type == specs.PIDNamespace {
						s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", st.Pid)
					}
				}
			})
			out, code := rt.run(t, "run", "--bundle", b, containerID(t))
			if code != 0 || !strings.Contains(out, "1 sleep") {
				t.Errorf("container in another's pid namespace: exit %d\n%s", code, out)
			}
		})
	}
}

func TestRuntimeTimeNamespaceOffsets(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("no time namespaces on this kernel")
	}
	rt := runtimes(t)[0]
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"cat", "/proc/uptime"}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 86400 * 365}}
	})
	out, code := rt.run(t, "run", "--bundle", b, containerID(t))
	var up float64
	fmt.Sscan(out, &up)
	if code != 0 || up < 86400*365 {
		t.Errorf("uptime in a time namespace a year ahead: exit %d %q", code, out)
	}
}

func TestRuntimeCreateKilledMidway(t *testing.T) {
	rt := runtimes(t)[0]
	root := rt.argv[3]
	b := bundle(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
	// What a create killed before writing its state leaves: a directory with only the fifo.
	id := containerID(t)
	os.MkdirAll(filepath.Join(root, id), 0o711)
	os.WriteFile(filepath.Join(root, id, "exec.fifo"), nil, 0o600)
	if out, code := rt.run(t, "list", "-q"); code != 0 || strings.Contains(out, id) {
		t.Errorf("list shows a half-created container: %q", out)
	}
	if out, code := rt.run(t, "run", "--bundle", b, id); code != 0 {
		t.Errorf("re-creating over the remains: %s", out)
	}
	os.MkdirAll(filepath.Join(root, id), 0o711)
	if out, code := rt.run(t, "delete", "-f", id); code != 0 {
		t.Errorf("delete -f of the remains: %s", out)
	}
	if _, err := os.Stat(filepath.Join(root, id)); err == nil {
		t.Error("remains not removed")
	}
	// And with real kills: kill -9 create at several moments; every id can then be deleted or reused.
	for i, delay := range []time.Duration{0, 2, 5, 10, 20} {
		id := fmt.Sprintf("%s-k%d", containerID(t), i)
		cmd := exec.Command(rt.argv[0], append(append([]string{}, rt.argv[1:]...), "create", "--bundle", b, id)...)
		cmd.Start()
		time.Sleep(delay * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		rt.run(t, "delete", "-f", id)
		if out, code := rt.run(t, "run", "--bundle", b, id); code != 0 {
			t.Errorf("run after a create killed at %dms: %s", delay, out)
		}
	}
}
