package dockerapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
)

// pendingAttach is an attach to a created container, connected by the start that follows
// (the docker CLI attaches before it starts, so that no output is missed).
type pendingAttach struct {
	ready chan attachResult
}

type attachResult struct {
	conn *engine.AttachConn
	err  error
}

// connectAttaches is the start's BeforeStart: it connects every attach waiting for c.
func (s *Server) connectAttaches(c *engine.Container) error {
	s.mu.Lock()
	pending := s.attaches[c.ID]
	delete(s.attaches, c.ID)
	s.mu.Unlock()
	var firstErr error
	for _, p := range pending {
		conn, err := s.e.Attach(context.Background(), c)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		p.ready <- attachResult{conn, err}
	}
	return firstErr
}

// dropAttaches fails the attaches waiting for a container whose start failed.
func (s *Server) dropAttaches(id string, err error) {
	s.mu.Lock()
	pending := s.attaches[id]
	delete(s.attaches, id)
	s.mu.Unlock()
	for _, p := range pending {
		p.ready <- attachResult{nil, err}
	}
}

func (s *Server) recordExit(id string, code int) {
	s.mu.Lock()
	s.exitCode[id] = code
	s.mu.Unlock()
}

// seenExit is the exit status an attach stream saw for a container now removed.
func (s *Server) seenExit(id string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.exitCode[id]
	return v, ok
}

// postContainerAttach is POST /containers/{id}/attach?stream=1&stdin=&stdout=&stderr=,
// served over the hijacked connection.
func (s *Server) postContainerAttach(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	keys := "ctrl-p,ctrl-q"
	if v := r.URL.Query().Get("detachKeys"); v != "" {
		keys = v
	}
	dk, err := engine.ParseDetachKeys(keys)
	if err != nil {
		fail(w, err)
		return
	}
	var conn *engine.AttachConn
	var pending *pendingAttach
	switch {
	case c.State == engine.StateCreated:
		pending = &pendingAttach{ready: make(chan attachResult, 1)}
		s.mu.Lock()
		s.attaches[c.ID] = append(s.attaches[c.ID], pending)
		s.mu.Unlock()
	case c.Active():
		if conn, err = s.e.Attach(r.Context(), c); err != nil {
			fail(w, err)
			return
		}
	default:
		fail(w, errdefs.Newf(errdefs.ErrConflict, "You cannot attach to a stopped container, start it first"))
		return
	}
	nc, rw, err := hijack(w, r, c.Options.TTY)
	if err != nil {
		logrus.WithError(err).Warn("attach")
		return
	}
	defer nc.Close()
	if pending != nil {
		select {
		case res := <-pending.ready:
			if res.err != nil {
				return
			}
			conn = res.conn
		case <-r.Context().Done():
			return
		}
	}
	s.trackConn(c.ID, conn)
	defer s.untrackConn(c.ID, conn)
	stdout, stderr := outputs(nc, c.Options.TTY, nil)
	aio := engine.AttachIO{Stdout: discardUnless(stdout, boolQuery(r, "stdout")), Stderr: discardUnless(stderr, boolQuery(r, "stderr")),
		RemoveAfter: c.Options.Rm}
	if boolQuery(r, "stdin") {
		aio.Stdin, aio.DetachKeys = rw.Reader, dk
	}
	code, err := conn.Stream(context.Background(), aio)
	if errors.Is(err, engine.ErrDetached) {
		return
	}
	if err == nil {
		s.recordExit(c.ID, code)
	}
	if c.Options.Rm {
		if err := s.e.RemoveContainer(context.Background(), c.ID, engine.RemoveOptions{Force: true, Volumes: true}); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			logrus.WithError(err).Warnf("remove container %s", c.Name)
		}
	}
}

// discardUnless is w, or a sink when the client did not ask for that stream.
func discardUnless(w io.Writer, keep bool) io.Writer {
	if keep {
		return w
	}
	return io.Discard
}

func (s *Server) trackConn(id string, c *engine.AttachConn) {
	s.mu.Lock()
	s.conns[id] = c
	s.mu.Unlock()
}

func (s *Server) untrackConn(id string, c *engine.AttachConn) {
	s.mu.Lock()
	if s.conns[id] == c {
		delete(s.conns, id)
	}
	s.mu.Unlock()
}

// postContainerResize is POST /containers/{id}/resize?h=&w=: through the attach stream
// this service holds, else a short connection to the monitor.
func (s *Server) postContainerResize(w http.ResponseWriter, r *http.Request) {
	rows, err1 := strconv.ParseUint(r.URL.Query().Get("h"), 10, 16)
	cols, err2 := strconv.ParseUint(r.URL.Query().Get("w"), 10, 16)
	if err1 != nil || err2 != nil {
		fail(w, invalid("invalid resize: h and w must be numbers"))
		return
	}
	c, err := s.e.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	conn := s.conns[c.ID]
	s.mu.Unlock()
	if conn == nil {
		if !c.Active() {
			fail(w, errdefs.Newf(errdefs.ErrConflict, "container %s is not running", c.Name))
			return
		}
		if conn, err = s.e.Attach(r.Context(), c); err != nil {
			fail(w, err)
			return
		}
		defer conn.Close()
	}
	if err := conn.Resize(uint16(rows), uint16(cols)); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// getContainerLogs is GET /containers/{id}/logs, multiplexed unless the container has a TTY.
func (s *Server) getContainerLogs(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	q := r.URL.Query()
	if !boolQuery(r, "stdout") && !boolQuery(r, "stderr") {
		fail(w, invalid("Bad parameters: you must choose at least one stream"))
		return
	}
	o := engine.LogOptions{Follow: boolQuery(r, "follow"), Timestamps: boolQuery(r, "timestamps"), Tail: -1}
	if t := q.Get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil {
			fail(w, invalid("invalid tail %q", t))
			return
		}
		o.Tail = n
	}
	if o.Since, err = unixQuery(q.Get("since")); err != nil {
		fail(w, err)
		return
	}
	if o.Until, err = unixQuery(q.Get("until")); err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", contentType(c.Options.TTY))
	w.WriteHeader(http.StatusOK)
	fl := flusher(w)
	fl()
	stdout, stderr := outputs(w, c.Options.TTY, fl)
	err = s.e.Logs(r.Context(), c, o, discardUnless(stdout, boolQuery(r, "stdout")), discardUnless(stderr, boolQuery(r, "stderr")))
	if err != nil && r.Context().Err() == nil {
		logrus.WithError(err).Warnf("logs of %s", c.Name)
	}
}

// unixQuery reads Docker's SECONDS[.NANOS] time parameter ("" or 0: none).
func unixQuery(v string) (time.Time, error) {
	if v == "" || v == "0" {
		return time.Time{}, nil
	}
	whole, frac, _ := strings.Cut(v, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, invalid("invalid time %q: want seconds since the epoch", v)
	}
	var ns int64
	if frac != "" {
		for len(frac) < 9 {
			frac += "0"
		}
		if ns, err = strconv.ParseInt(frac[:9], 10, 64); err != nil {
			return time.Time{}, invalid("invalid time %q: want seconds since the epoch", v)
		}
	}
	return time.Unix(n, ns), nil
}
