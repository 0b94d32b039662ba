package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libcontainer"
)

// ExecOptions are `exec`'s flags.
type ExecOptions struct {
	Cmd         []string
	Env         []string
	Workdir     string
	User        string
	TTY         bool
	Interactive bool
	Detach      bool
	Privileged  bool
	// Rows and Cols size the terminal before the process starts (resizes follow through
	// [ExecIO.OnTerminal]); a process that reads its size at once sees them.
	Rows, Cols uint16
}

// ExecIO connects an exec'd process. With a terminal, OnTerminal is called with the pty
// master before any I/O (to size it and follow resizes).
type ExecIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	OnTerminal     func(master *os.File)
}

// Exec runs a process in a running container and returns its status.
func (e *Engine) Exec(ctx context.Context, ref string, o ExecOptions, eio ExecIO) (int, error) {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return 0, err
	}
	switch c.State {
	case StateRunning:
	case StatePaused:
		return 0, errdefs.Newf(errdefs.ErrConflict, "container %s is paused, unpause the container before exec", c.Name)
	default:
		return 0, errdefs.Newf(errdefs.ErrConflict, "container %s is not running", c.Name)
	}
	rt, err := e.runtimeFor(c.Options.Runtime)
	if err != nil {
		return 0, err
	}
	run := e.containerRunDir(c.ID)
	spec, err := libcontainer.LoadSpec(filepath.Join(run, "bundle"))
	if err != nil {
		return 0, err
	}
	p := *spec.Process
	p.Args, p.Terminal = o.Cmd, o.TTY
	p.Env = mergeEnv(p.Env, o.Env)
	if o.TTY {
		p.Env = mergeEnv(p.Env, []string{"TERM=xterm"})
		p.ConsoleSize = nil
		if o.Rows > 0 && o.Cols > 0 {
			p.ConsoleSize = &specs.Box{Height: uint(o.Rows), Width: uint(o.Cols)}
		}
	}
	if o.Workdir != "" {
		p.Cwd = o.Workdir
	}
	if o.User != "" {
		if p.User, err = resolveUser(spec.Root.Path, o.User); err != nil {
			return 0, err
		}
	}
	if o.Privileged {
		all := libcontainer.AllCaps()
		p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	pf, err := os.CreateTemp(run, "exec-*.json")
	if err != nil {
		return 0, err
	}
	defer os.Remove(pf.Name())
	if err := json.NewEncoder(pf).Encode(&p); err != nil {
		pf.Close()
		return 0, err
	}
	pf.Close()
	args := []string{"--root", rt.Root(), "exec", "--process", pf.Name()}
	if o.Detach {
		args = append(args, "--detach")
	}
	var console net.Listener
	if o.TTY {
		dir, err := os.MkdirTemp("", "berth-exec-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		sock := filepath.Join(dir, "console.sock")
		if console, err = net.Listen("unix", sock); err != nil {
			return 0, fmt.Errorf("console socket: %w", err)
		}
		defer console.Close()
		args = append(args, "--tty", "--console-socket", sock)
	}
	cmd := exec.CommandContext(ctx, rt.Binary(), append(args, c.ID)...)
	cmd.Stdout, cmd.Stderr = eio.Stdout, eio.Stderr
	if o.Interactive && !o.TTY {
		cmd.Stdin = eio.Stdin
	}
	if o.Detach && !o.TTY {
		// The runtime hands its stdio to the detached process, which outlives us: it gets
		// /dev/null, as in Docker, so `out=$(berth exec -d ...)` returns at once instead of
		// waiting for the process to close the caller's pipe.
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	}
	execID := randomID()
	e.execEvents(c, execID, o.Cmd)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("exec in %s: %w", c.Name, err)
	}
	var wg sync.WaitGroup
	if console != nil {
		master, err := receiveConsole(console)
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 0, err
		}
		defer master.Close()
		if eio.OnTerminal != nil {
			eio.OnTerminal(master)
		}
		if o.Interactive && eio.Stdin != nil {
			go io.Copy(master, eio.Stdin)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			io.Copy(eio.Stdout, master) // ends with EIO once the process and the runtime have closed the pty
		}()
	}
	err = cmd.Wait()
	wg.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if o.Detach { // the process did not start (the runtime's message went to /dev/null)
			switch ee.ExitCode() {
			case 127:
				return 0, errdefs.Newf(errdefs.ErrCommandNotFound, "exec %s in %s: executable file not found", o.Cmd[0], c.Name)
			case 126:
				return 0, errdefs.Newf(errdefs.ErrCannotInvoke, "exec %s in %s: cannot invoke it", o.Cmd[0], c.Name)
			}
			return 0, fmt.Errorf("exec in %s: runtime %s exited with status %d", c.Name, filepath.Base(rt.Binary()), ee.ExitCode())
		}
		code, err = ee.ExitCode(), nil
	}
	if err == nil && !o.Detach {
		e.containerEvent(c, "exec_die", "execID", execID, "exitCode", strconv.Itoa(code))
	}
	return code, err
}

// receiveConsole accepts the runtime's connection on a console socket and returns the pty
// master it sends.
func receiveConsole(l net.Listener) (*os.File, error) {
	conn, err := l.Accept()
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	_, master, err := libcontainer.RecvFd(int(f.Fd()), 256)
	if err == nil && master == nil {
		err = fmt.Errorf("receive console: no file descriptor")
	}
	return master, err
}
