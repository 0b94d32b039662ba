package dockerapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"strconv"
	"sync"

	"github.com/creack/pty"
	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/container"
	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
)

// execSession is an exec instance: created by one request, run by the next, inspected
// for its exit status after. It lives as long as this service.
type execSession struct {
	id, container string
	req           container.ExecCreateRequest

	mu      sync.Mutex
	running bool
	started bool
	code    *int
	master  *os.File
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// postContainerExec is POST /containers/{id}/exec.
func (s *Server) postContainerExec(w http.ResponseWriter, r *http.Request) {
	var req container.ExecCreateRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	if len(req.Cmd) == 0 {
		fail(w, invalid("No exec command specified"))
		return
	}
	c, err := s.e.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if c.State != engine.StateRunning {
		fail(w, errdefs.Newf(errdefs.ErrConflict, "container %s is not running", c.ID))
		return
	}
	x := &execSession{id: newID(), container: c.ID, req: req}
	s.mu.Lock()
	s.execs[x.id] = x
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, common.IDResponse{ID: x.id})
}

func (s *Server) execSession(w http.ResponseWriter, r *http.Request) *execSession {
	s.mu.Lock()
	x := s.execs[r.PathValue("id")]
	s.mu.Unlock()
	if x == nil {
		fail(w, errdefs.Newf(errdefs.ErrNotFound, "No such exec instance: %s", r.PathValue("id")))
	}
	return x
}

// postExecStart is POST /exec/{id}/start: the process's streams over the hijacked
// connection (multiplexed unless it has a TTY), or none with Detach.
func (s *Server) postExecStart(w http.ResponseWriter, r *http.Request) {
	x := s.execSession(w, r)
	if x == nil {
		return
	}
	var req container.ExecStartRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	x.mu.Lock()
	if x.started {
		x.mu.Unlock()
		fail(w, errdefs.Newf(errdefs.ErrConflict, "exec %s has already been started", x.id))
		return
	}
	x.started, x.running = true, true
	x.mu.Unlock()
	o := engine.ExecOptions{Cmd: x.req.Cmd, Env: x.req.Env, Workdir: x.req.WorkingDir, User: x.req.User,
		TTY: x.req.Tty, Interactive: x.req.AttachStdin, Privileged: x.req.Privileged, Detach: req.Detach}
	finish := func(code int) {
		x.mu.Lock()
		x.running, x.code, x.master = false, &code, nil
		x.mu.Unlock()
	}
	if req.Detach {
		code, err := s.e.Exec(r.Context(), x.container, o, engine.ExecIO{})
		finish(code)
		if err != nil {
			fail(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	nc, rw, err := hijack(w, r, x.req.Tty)
	if err != nil {
		finish(-1)
		logrus.WithError(err).Warn("exec start")
		return
	}
	defer nc.Close()
	stdout, stderr := outputs(nc, x.req.Tty, nil)
	eio := engine.ExecIO{Stdout: discardUnless(stdout, x.req.AttachStdout), Stderr: discardUnless(stderr, x.req.AttachStderr),
		OnTerminal: func(m *os.File) {
			x.mu.Lock()
			x.master = m
			x.mu.Unlock()
			if cs := x.req.ConsoleSize; cs != nil {
				_ = pty.Setsize(m, &pty.Winsize{Rows: uint16(cs[0]), Cols: uint16(cs[1])})
			}
		}}
	if x.req.AttachStdin {
		eio.Stdin = rw.Reader
	}
	code, err := s.e.Exec(context.WithoutCancel(r.Context()), x.container, o, eio)
	if err != nil {
		_, _ = stderr.Write([]byte(err.Error() + "\n"))
		code = exitCodeOf(err)
	}
	finish(code)
}

// exitCodeOf is the status Docker reports for an exec that could not run.
func exitCodeOf(err error) int {
	switch {
	case errors.Is(err, errdefs.ErrCommandNotFound):
		return 127
	case errors.Is(err, errdefs.ErrCannotInvoke):
		return 126
	}
	return 126
}

// postExecResize is POST /exec/{id}/resize?h=&w=.
func (s *Server) postExecResize(w http.ResponseWriter, r *http.Request) {
	x := s.execSession(w, r)
	if x == nil {
		return
	}
	rows, err1 := strconv.ParseUint(r.URL.Query().Get("h"), 10, 16)
	cols, err2 := strconv.ParseUint(r.URL.Query().Get("w"), 10, 16)
	if err1 != nil || err2 != nil {
		fail(w, invalid("invalid resize: h and w must be numbers"))
		return
	}
	x.mu.Lock()
	m := x.master
	x.mu.Unlock()
	if m != nil {
		if err := pty.Setsize(m, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)}); err != nil {
			fail(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// getExecJSON is GET /exec/{id}/json.
func (s *Server) getExecJSON(w http.ResponseWriter, r *http.Request) {
	x := s.execSession(w, r)
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	resp := container.ExecInspectResponse{ID: x.id, Running: x.running, ExitCode: x.code, ContainerID: x.container,
		OpenStdin: x.req.AttachStdin, OpenStdout: x.req.AttachStdout, OpenStderr: x.req.AttachStderr, CanRemove: !x.running,
		ProcessConfig: &container.ExecProcessConfig{Tty: x.req.Tty, Entrypoint: x.req.Cmd[0], Arguments: x.req.Cmd[1:],
			Privileged: &x.req.Privileged, User: x.req.User}}
	writeJSON(w, http.StatusOK, resp)
}
