package libcontainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/reexec"
	"github.com/berth-project/berth/libcontainer/cgroups"
)

const execName = "berth-exec"

func init() {
	reexec.Register(execName, execMain)
}

// ExecOptions tunes Exec.
type ExecOptions struct {
	PidFile       string
	ConsoleSocket string
	Stdin         io.Reader
	Stdout        io.Writer
	Stderr        io.Writer
}

// Exec starts proc inside a running container and returns its pid. The process is a child of
// the caller (which is made a subreaper), so the caller can wait for it.
func (r *Runtime) Exec(ctx context.Context, id string, proc *specs.Process, opts *ExecOptions) (int, error) {
	if opts == nil {
		opts = &ExecOptions{}
	}
	st, err := r.loadState(id)
	if err != nil {
		return 0, err
	}
	if s := r.status(st); s != Running && s != Created {
		return 0, errdefs.Newf(errdefs.ErrInvalid, "cannot exec in a container that is %s", s)
	}
	if len(proc.Args) == 0 {
		return 0, errdefs.Newf(errdefs.ErrInvalid, "process.args: empty")
	}
	if _, err := specCaps(proc.Capabilities); err != nil {
		return 0, errdefs.Newf(errdefs.ErrInvalid, "%v", err)
	}
	var join []string
	for _, ns := range []string{"user", "cgroup", "ipc", "uts", "net", "pid", "time", "mnt"} {
		mine, _ := os.Readlink("/proc/self/ns/" + ns)
		theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", st.Pid, ns))
		if err == nil && theirs != mine {
			join = append(join, ns)
		}
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("become subreaper: %w", err)
	}
	parentSock, childSock, err := socketPair()
	if err != nil {
		return 0, err
	}
	defer parentSock.Close()
	pidR, pidW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer pidR.Close()
	cmd := reexec.Command(execName)
	cmd.ExtraFiles = []*os.File{childSock, pidW} // fds 3 and 4
	cmd.Env = []string{"_BERTH_NSENTER_PID=" + strconv.Itoa(st.Pid), "_BERTH_NSENTER_NS=" + strings.Join(join, ","), "_BERTH_NSENTER_PIDFD=4"}
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if proc.Terminal {
		// The process makes its terminal from the container's /dev/ptmx (prepareExec), so
		// that tty names the container's /dev/pts/N, and sends us the master.
		if opts.ConsoleSocket == "" {
			return 0, errdefs.Newf(errdefs.ErrInvalid, "process.terminal is set: --console-socket is required")
		}
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio(opts.Stdin, os.Stdin), stdioW(opts.Stdout, os.Stdout), stdioW(opts.Stderr, os.Stderr)
	}
	err = cmd.Start()
	childSock.Close()
	pidW.Close()
	if err != nil {
		return 0, fmt.Errorf("start exec: %w", err)
	}
	_ = cmd.Wait() // the intermediate exits once it has forked into the pid namespace
	var pid int
	if _, err := fmt.Fscan(pidR, &pid); err != nil {
		return 0, fmt.Errorf("exec in %s: joining its namespaces failed", id)
	}
	kill := func() { _ = unix.Kill(pid, unix.SIGKILL); var ws unix.WaitStatus; _, _ = unix.Wait4(pid, &ws, 0, nil) }
	cg, err := cgroups.New(st.CgroupPath)
	if err == nil {
		err = cg.Join(pid)
	}
	if err != nil {
		kill()
		return 0, err
	}
	req := execRequest{Process: proc}
	if st.Config != nil && st.Config.Linux != nil {
		if req.Seccomp, err = r.seccompProgram(st.Config.Linux.Seccomp); err != nil {
			kill()
			return 0, err
		}
	}
	if err := json.NewEncoder(parentSock).Encode(req); err != nil {
		kill()
		return 0, err
	}
	var reply io.Reader = parentSock
	if proc.Terminal {
		// One byte with the pty master attached, or the start of an error report.
		first, master, err := RecvFd(int(parentSock.Fd()), 1)
		if err != nil || len(first) == 0 {
			kill()
			return 0, fmt.Errorf("exec in %s: the process died while making its terminal", id)
		}
		if master == nil {
			reply = io.MultiReader(bytes.NewReader(first), parentSock)
		} else {
			err := sendConsole(opts.ConsoleSocket, master)
			master.Close()
			if err != nil {
				kill()
				return 0, err
			}
		}
	}
	var msg syncMsg
	if err := json.NewDecoder(reply).Decode(&msg); err == nil && msg.Type == "error" {
		kill()
		return 0, execError(msg.Msg)
	}
	if opts.PidFile != "" {
		if err := writeFileAtomic(opts.PidFile, strconv.Itoa(pid)); err != nil {
			return pid, fmt.Errorf("pid file: %w", err)
		}
	}
	return pid, nil
}

// execMain runs inside the container's namespaces (joined by the nsenter constructor).
func execMain() {
	runtime.LockOSThread() // the process's setup is the thread's: keep it on the one that execs
	sock := os.NewFile(3, "sync")
	var req execRequest
	err := json.NewDecoder(sock).Decode(&req)
	if err == nil && req.Process == nil {
		err = errors.New("exec: no process")
	}
	if err == nil {
		// Nothing but stdio crosses into the process: the sync socket closes when the exec
		// succeeds (the runtime reads EOF and returns at once, which exec --detach needs),
		// and so does any descriptor the caller left open for us.
		closeExtraFilesOnExec()
		err = prepareExec(sock, req.Process, req.Seccomp)
	}
	if err != nil {
		_ = json.NewEncoder(sock).Encode(syncMsg{Type: "error", Msg: err.Error()})
		os.Exit(exitCodeFor(err))
	}
}

// closeExtraFilesOnExec marks every descriptor above stderr close-on-exec.
func closeExtraFilesOnExec() {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	var lim unix.Rlimit
	max := uint64(1024)
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur < 1<<20 {
		max = lim.Cur
	}
	for fd := 3; uint64(fd) < max; fd++ { // kernels before 5.11
		unix.CloseOnExec(fd)
	}
}

// execRequest is what the runtime sends the exec'd process: what to run and the container's
// seccomp filter, which applies to it too.
type execRequest struct {
	Process *specs.Process  `json:"process"`
	Seccomp *seccompProgram `json:"seccomp,omitempty"`
}

func prepareExec(sock *os.File, proc *specs.Process, filter *seccompProgram) error {
	if proc.Terminal {
		if err := setupConsole(sock, proc); err != nil {
			return err
		}
	}
	if err := finishProcess(proc, filter); err != nil {
		return err
	}
	path, err := lookPath(proc)
	if err != nil {
		return err
	}
	if proc.NoNewPrivileges {
		if err := filter.load(); err != nil {
			return err
		}
	}
	return execDefaultSignals(path, proc)
}

// WaitPid waits for a process started by Exec and returns its exit code (128+N on a signal).
func WaitPid(pid int) (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}
