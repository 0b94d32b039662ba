package build

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// progress writes the build's lines to Options.Out, podman style: "STEP 1/4: FROM busybox",
// RUN output as it comes, "--> Using cache <id>", "--> <id>", and the image ID last. Lines
// of parallel stages are written whole, never interleaved mid-line, and step lines carry a
// "[stage] " prefix when more than one stage is built.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	quiet  bool
	prefix bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	if w == nil {
		w = io.Discard
	}
	return &progress{w: w, quiet: quiet}
}

func (p *progress) write(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.w.Write(b)
}

// linef prints one line of stage's progress (nothing when quiet).
func (p *progress) linef(stage, format string, args ...any) {
	if p.quiet {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if p.prefix && stage != "" {
		msg = "[" + stage + "] " + msg
	}
	p.write([]byte(msg + "\n"))
}

// result prints the final image ID, the last line of every build, quiet or not.
func (p *progress) result(id string) { p.write([]byte(id + "\n")) }

// output returns where a RUN step's output goes: straight through in whole lines, or,
// when quiet, into a bounded tail shown only if the step fails.
func (p *progress) output() *runOutput {
	return &runOutput{p: p}
}

// runOutput forwards complete lines to the progress writer; when quiet it keeps only the
// last tailMax bytes so a failure can still show what the step printed.
type runOutput struct {
	mu      sync.Mutex
	p       *progress
	partial []byte
	tail    []byte
}

const tailMax = 64 << 10

func (o *runOutput) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.p.quiet {
		o.tail = append(o.tail, b...)
		if len(o.tail) > tailMax {
			o.tail = append([]byte(nil), o.tail[len(o.tail)-tailMax:]...)
		}
		return len(b), nil
	}
	o.partial = append(o.partial, b...)
	if i := bytes.LastIndexByte(o.partial, '\n'); i >= 0 {
		o.p.write(o.partial[:i+1])
		o.partial = append(o.partial[:0], o.partial[i+1:]...)
	}
	// a line without end grows no further than tailMax before it is written
	if len(o.partial) > tailMax {
		o.p.write(o.partial)
		o.partial = o.partial[:0]
	}
	return len(b), nil
}

// flush writes a trailing partial line; on failure in quiet mode it writes the tail too.
func (o *runOutput) flush(failed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 {
		o.p.write(append(o.partial, '\n'))
		o.partial = nil
	}
	if failed && len(o.tail) > 0 {
		t := o.tail
		if t[len(t)-1] != '\n' {
			t = append(t, '\n')
		}
		o.p.write(t)
	}
	o.tail = nil
}

// shortID is the 12-character form of an image ID.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
