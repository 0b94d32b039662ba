package image

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	units "github.com/docker/go-units"
	"golang.org/x/term"

	"github.com/berth-project/berth/libimage"
)

// progress prints per-layer pull progress: redrawn bars on a terminal, one line per
// finished step otherwise. A nil *progress prints nothing.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	order  []string
	lines  map[string]string
	drawn  int
	states map[string]string
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd())), lines: map[string]string{}, states: map[string]string{}}
}

var stateText = map[string]string{
	"exists": "Already exists", "downloaded": "Download complete", "extracting": "Extracting", "complete": "Pull complete",
}

func (p *progress) event(e libimage.ProgressEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := strings.TrimPrefix(e.Digest, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	if _, ok := p.lines[id]; !ok {
		p.order = append(p.order, id)
	}
	text := stateText[e.State]
	if e.State == "downloading" {
		text = "Downloading " + bar(e.Current, e.Total)
	}
	p.lines[id] = text
	if p.tty {
		p.redraw()
		return
	}
	// Plain output: one line per finished step, never the byte counts.
	if e.State == "downloading" || e.State == "extracting" || p.states[id] == e.State {
		return
	}
	p.states[id] = e.State
	fmt.Fprintf(p.w, "%s: %s\n", id, text)
}

func (p *progress) redraw() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA", p.drawn)
	}
	for _, id := range p.order {
		fmt.Fprintf(p.w, "\x1b[2K%s: %s\n", id, p.lines[id])
	}
	p.drawn = len(p.order)
}

// done stops drawing; later events are ignored.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.w = io.Discard
	p.mu.Unlock()
}

func bar(cur, total int64) string {
	const width = 40
	if total <= 0 {
		return units.HumanSize(float64(cur))
	}
	n := int(cur * width / total)
	if n > width {
		n = width
	}
	return fmt.Sprintf("[%s>%s] %s/%s", strings.Repeat("=", n), strings.Repeat(" ", width-n),
		units.HumanSize(float64(cur)), units.HumanSize(float64(total)))
}
