package dockerapi

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Stream ids of Docker's multiplexed stream (stdcopy).
const (
	streamStdin  = 0
	streamStdout = 1
	streamStderr = 2
)

// muxWriter frames writes for one stream of a multiplexed connection.
type muxWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	stream byte
	flush  func()
}

func (m *muxWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := [8]byte{m.stream}
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	if _, err := m.w.Write(h[:]); err != nil {
		return 0, err
	}
	n, err := m.w.Write(p)
	if m.flush != nil {
		m.flush()
	}
	return n, err
}

// plainWriter serializes and flushes raw (TTY) output.
type plainWriter struct {
	mu    *sync.Mutex
	w     io.Writer
	flush func()
}

func (p *plainWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.w.Write(b)
	if p.flush != nil {
		p.flush()
	}
	return n, err
}

// outputs returns stdout and stderr writers over w: multiplexed unless tty.
func outputs(w io.Writer, tty bool, flush func()) (io.Writer, io.Writer) {
	mu := &sync.Mutex{}
	if tty {
		p := &plainWriter{mu: mu, w: w, flush: flush}
		return p, p
	}
	return &muxWriter{mu: mu, w: w, stream: streamStdout, flush: flush}, &muxWriter{mu: mu, w: w, stream: streamStderr, flush: flush}
}

func contentType(tty bool) string {
	if tty {
		return "application/vnd.docker.raw-stream"
	}
	return "application/vnd.docker.multiplexed-stream"
}

// hijack takes over the connection for a bidirectional stream: 101 UPGRADED when the
// client asked for an upgrade (docker attach, exec -it), else 200 with the raw stream.
func hijack(w http.ResponseWriter, r *http.Request, tty bool) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("hijack connection: not supported")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack connection: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	ct := contentType(tty)
	if r.Header.Get("Upgrade") != "" {
		fmt.Fprintf(rw, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: %s\r\n\r\n", ct, Version)
	} else {
		fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nApi-Version: %s\r\n\r\n", ct, Version)
	}
	if err := rw.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, rw, nil
}

// flusher returns w's Flush, or a no-op.
func flusher(w http.ResponseWriter) func() {
	if f, ok := w.(http.Flusher); ok {
		return f.Flush
	}
	return func() {}
}

// jsonStream writes a stream of JSON messages (pull, push, build, events), flushing each.
type jsonStream struct {
	mu    sync.Mutex
	enc   *json.Encoder
	flush func()
}

func newJSONStream(w http.ResponseWriter) *jsonStream {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	js := &jsonStream{enc: json.NewEncoder(w), flush: flusher(w)}
	js.flush()
	return js
}

func (j *jsonStream) send(v any) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.enc.Encode(v)
	j.flush()
	return err
}

// message is a line of the JSON progress stream (jsonmessage.JSONMessage's fields).
type message struct {
	Stream         string          `json:"stream,omitempty"`
	Status         string          `json:"status,omitempty"`
	ID             string          `json:"id,omitempty"`
	Progress       string          `json:"progress,omitempty"`
	ProgressDetail *progressDetail `json:"progressDetail,omitempty"`
	Error          *messageError   `json:"errorDetail,omitempty"`
	ErrorMessage   string          `json:"error,omitempty"`
	Aux            any             `json:"aux,omitempty"`
}

type progressDetail struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

type messageError struct {
	Message string `json:"message"`
}

func (j *jsonStream) fail(err error) {
	_ = j.send(message{Error: &messageError{Message: err.Error()}, ErrorMessage: err.Error()})
}

// boolQuery reads a Docker boolean query parameter (1/true/True).
func boolQuery(r *http.Request, k string) bool {
	v := r.URL.Query().Get(k)
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// filtersQuery decodes the filters parameter: {"key": ["v"]} or the older {"key": {"v": true}}.
func filtersQuery(r *http.Request) (map[string][]string, error) {
	raw := r.URL.Query().Get("filters")
	if raw == "" {
		return map[string][]string{}, nil
	}
	out := map[string][]string{}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, invalid("invalid filters %q: %v", raw, err)
	}
	for k, v := range m {
		var list []string
		if err := json.Unmarshal(v, &list); err == nil {
			out[k] = list
			continue
		}
		var set map[string]bool
		if err := json.Unmarshal(v, &set); err != nil {
			return nil, invalid("invalid filters %q: %v", raw, err)
		}
		for s, ok := range set {
			if ok {
				out[k] = append(out[k], s)
			}
		}
	}
	return out, nil
}
