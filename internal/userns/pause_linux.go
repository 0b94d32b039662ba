package userns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Every rootless command of one user shares one user namespace, as podman's do: a pause
// process created on demand holds it, and each command joins it (a C constructor, package
// join, does the setns before Go starts) in a mount namespace of its own. Commands can then
// reach what earlier ones made: a container's namespaces for exec and --network
// container:NAME. The pause exits once nothing else runs in the namespace.
//
// <dir>/userns.pid names the pause; <dir>/userns.lock is taken shared by each joiner until
// it has joined, exclusively to create a pause and by a pause that exits, so a pause never
// leaves while a command is joining it.

const (
	pauseName = "berth-userns-pause"
	envJoinFD = "_BERTH_USERNS_JOIN_FD"
	envLockFD = "_BERTH_USERNS_LOCK_FD"
	envPause  = "_BERTH_USERNS_PAUSE" // the pause itself runs in C (package join): a few hundred KB
)

// join starts the current command inside the user's shared namespace (creating its pause
// first when there is none) and returns it running.
func join(dir string) (*exec.Cmd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	lockPath := filepath.Join(dir, "userns.lock")
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := flock(lock, unix.LOCK_SH); err != nil {
		return nil, err
	}
	ns, err := openPause(dir)
	if err != nil {
		// None alive: create one under the exclusive lock, then hold it shared again.
		if err := flock(lock, unix.LOCK_EX); err != nil {
			return nil, err
		}
		if ns, err = openPause(dir); err != nil {
			if err := startPause(dir); err != nil {
				return nil, err
			}
			if ns, err = openPause(dir); err != nil {
				return nil, err
			}
		}
		if err := flock(lock, unix.LOCK_SH); err != nil {
			ns.Close()
			return nil, err
		}
	}
	defer ns.Close()
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), envUID+"="+strconv.Itoa(os.Getuid()), envJoinFD+"=3", envLockFD+"=4")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{ns, lock}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("user namespace: %w", err)
	}
	return cmd, nil
}

// openPause opens the user namespace of the live pause <dir>/userns.pid names.
func openPause(dir string) (*os.File, error) {
	b, err := os.ReadFile(filepath.Join(dir, "userns.pid"))
	if err != nil {
		return nil, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("bad pause pid file")
	}
	// A reused pid is not ours: the pause's argv[0] names it.
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if name, _, _ := bytes.Cut(cmdline, []byte{0}); string(name) != pauseName {
		return nil, fmt.Errorf("pause %d is gone", pid)
	}
	return os.Open(fmt.Sprintf("/proc/%d/ns/user", pid))
}

// startPause starts a pause in a new user namespace with the user's subordinate ids mapped
// and records its pid.
func startPause(dir string) error {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd, err := start([]string{pauseName, dir}, append(os.Environ(), envPause+"="+dir), devnull)
	if err != nil {
		return err
	}
	// The pause outlives us; its parent becomes init, which reaps it.
	defer cmd.Process.Release()
	tmp := filepath.Join(dir, "userns.pid.tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "userns.pid"))
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
