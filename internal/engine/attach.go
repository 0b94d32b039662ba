package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-project/berth/internal/errdefs"
)

// Frame kinds of the monitor's attach socket (see cmd/berth-monitor/monitor.c).
const (
	frameStdin      = 0
	frameStdout     = 1
	frameStderr     = 2
	frameExit       = 3
	frameCloseStdin = 4
	frameResize     = 5
)

// ErrDetached is returned by Stream when the user typed the detach keys.
var ErrDetached = errors.New("detached from the container")

// AttachConn is a connection to a container's monitor.
type AttachConn struct {
	c  *Container
	e  *Engine
	mu sync.Mutex
	nc net.Conn
}

// AttachIO says what to connect to the container.
type AttachIO struct {
	Stdin          io.Reader // nil: none
	Stdout, Stderr io.Writer
	DetachKeys     []byte // nil: none
	// RemoveAfter says the caller removes the container once it exits (run --rm): the
	// monitor then leaves the removal to it instead of running its cleanup.
	RemoveAfter bool
}

// Attach connects to a running container's monitor.
func (e *Engine) Attach(ctx context.Context, c *Container) (*AttachConn, error) {
	if c.State != StateRunning && c.State != StateCreated && c.State != StatePaused {
		return nil, errdefs.Newf(errdefs.ErrConflict, "you cannot attach to a stopped container, start it first")
	}
	p := e.runFile(c, "attach")
	if len(p) >= 108 { // sun_path: go through the directory's file descriptor
		d, err := os.Open(filepath.Dir(p))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		p = fmt.Sprintf("/proc/self/fd/%d/attach", d.Fd())
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", p)
	if err != nil {
		return nil, fmt.Errorf("attach to %s: %w", c.Name, err)
	}
	e.containerEvent(c, "attach")
	return &AttachConn{c: c, e: e, nc: nc}, nil
}

func (a *AttachConn) send(kind byte, data []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := make([]byte, 5, 5+len(data))
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:], uint32(len(data)))
	_, err := a.nc.Write(append(h, data...))
	return err
}

// Resize sets the container's terminal size.
func (a *AttachConn) Resize(rows, cols uint16) error {
	b := make([]byte, 4)
	binary.BigEndian.PutUint16(b, rows)
	binary.BigEndian.PutUint16(b[2:], cols)
	return a.send(frameResize, b)
}

// Close drops the connection; the container keeps running.
func (a *AttachConn) Close() error { return a.nc.Close() }

// Stream copies stdin to the container and its output to stdout/stderr until it exits
// (returning its status), the user detaches (ErrDetached), or ctx ends.
func (a *AttachConn) Stream(ctx context.Context, aio AttachIO) (int, error) {
	defer a.nc.Close()
	detached := make(chan struct{})
	if aio.Stdin != nil {
		go func() {
			if a.copyStdin(aio.Stdin, aio.DetachKeys) {
				close(detached)
				a.nc.Close()
			}
		}()
	}
	go func() {
		<-ctx.Done()
		a.nc.Close()
	}()
	code, err := a.readOutput(aio.Stdout, aio.Stderr)
	if err == nil && aio.RemoveAfter {
		a.e.markRemoving(a.c)
	}
	select {
	case <-detached:
		return 0, ErrDetached
	default:
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		// The monitor went away without a status: ask the state, which reconciles.
		return a.e.WaitContainer(context.WithoutCancel(ctx), a.c.ID)
	}
	return code, nil
}

func (a *AttachConn) readOutput(stdout, stderr io.Writer) (int, error) {
	h := make([]byte, 5)
	buf := make([]byte, 64<<10)
	for {
		if _, err := io.ReadFull(a.nc, h); err != nil {
			return 0, err
		}
		n := int(binary.BigEndian.Uint32(h[1:]))
		if n > len(buf) {
			buf = make([]byte, n)
		}
		if _, err := io.ReadFull(a.nc, buf[:n]); err != nil {
			return 0, err
		}
		switch h[0] {
		case frameStdout:
			stdout.Write(buf[:n])
		case frameStderr:
			stderr.Write(buf[:n])
		case frameExit:
			return strconv.Atoi(strings.TrimSpace(string(buf[:n])))
		}
	}
}

// copyStdin forwards input, watching for the detach keys; it reports whether they were typed.
// At end of input it closes the container's stdin.
func (a *AttachConn) copyStdin(r io.Reader, keys []byte) bool {
	buf := make([]byte, 32<<10)
	matched := 0 // how many detach key bytes the input has matched so far
	for {
		n, err := r.Read(buf)
		if n > 0 {
			out := make([]byte, 0, n+len(keys))
			for _, b := range buf[:n] {
				if len(keys) > 0 && b == keys[matched] {
					matched++
					if matched == len(keys) {
						if len(out) > 0 {
							_ = a.send(frameStdin, out)
						}
						return true
					}
					continue
				}
				if matched > 0 { // a partial match was input after all
					out = append(out, keys[:matched]...)
					matched = 0
					if len(keys) > 0 && b == keys[0] {
						matched = 1
						continue
					}
				}
				out = append(out, b)
			}
			if len(out) > 0 && a.send(frameStdin, out) != nil {
				return false
			}
		}
		if err != nil {
			_ = a.send(frameCloseStdin, nil)
			return false
		}
	}
}

// ParseDetachKeys parses Docker's --detach-keys: comma-separated "ctrl-X" or single characters.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	var out bytes.Buffer
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out.WriteByte(k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out.WriteByte(c - 'a' + 1)
			case c == '@':
				out.WriteByte(0)
			case c >= '[' && c <= '_':
				out.WriteByte(c - '[' + 27)
			default:
				return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid detach keys %q: unknown key %q", s, k)
			}
		default:
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid detach keys %q: unknown key %q", s, k)
		}
	}
	return out.Bytes(), nil
}
