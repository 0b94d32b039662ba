package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// LogOptions are `logs`' flags.
type LogOptions struct {
	Follow     bool
	Timestamps bool
	Tail       int // -1: all
	Since      time.Time
	Until      time.Time
}

// logEntry is one record of a k8s-file or json-file log.
type logEntry struct {
	time   time.Time
	stderr bool
	text   string // with its newline when the line is complete
}

// parseLogLine reads one record of either format.
func parseLogLine(line string) (logEntry, bool) {
	line = strings.TrimSuffix(line, "\n")
	if strings.HasPrefix(line, "{") {
		var j struct{ Log, Stream, Time string }
		if json.Unmarshal([]byte(line), &j) != nil {
			return logEntry{}, false
		}
		t, _ := time.Parse(time.RFC3339Nano, j.Time)
		return logEntry{time: t, stderr: j.Stream == "stderr", text: j.Log}, true
	}
	f := strings.SplitN(line, " ", 4)
	if len(f) < 3 {
		return logEntry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, f[0])
	if err != nil {
		return logEntry{}, false
	}
	e := logEntry{time: t, stderr: f[1] == "stderr"}
	if len(f) == 4 {
		e.text = f[3]
	}
	if f[2] == "F" {
		e.text += "\n"
	}
	return e, true
}

// Logs writes a container's log to stdout and stderr; with Follow, it keeps writing until the
// container's monitor is gone.
func (e *Engine) Logs(ctx context.Context, c *Container, o LogOptions, stdout, stderr io.Writer) error {
	if c.Options.LogDriver == "none" {
		return errdefs.Newf(errdefs.ErrNotSupported, "configured logging driver does not support reading")
	}
	path := e.LogPath(c)
	keep := o.keep
	entries, offset := collectLog(path, o)
	write := func(le logEntry) {
		w := stdout
		if le.stderr {
			w = stderr
		}
		if o.Timestamps {
			io.WriteString(w, le.time.Format(time.RFC3339Nano)+" ")
		}
		io.WriteString(w, le.text)
	}
	for _, le := range entries {
		write(le)
	}
	if !o.Follow || !c.Active() {
		return nil
	}
	ino := inode(path)
	for {
		alive := e.monitorAlive(c)
		if n := inode(path); n != ino { // rotated: the rest of the old file is in path.1
			offset, ino = 0, n
		}
		offset = readLogFile(path, offset, func(le logEntry) {
			if keep(le) {
				write(le)
			}
		})
		if !alive || (!o.Until.IsZero() && time.Now().After(o.Until)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (o LogOptions) keep(le logEntry) bool {
	return (o.Since.IsZero() || !le.time.Before(o.Since)) && (o.Until.IsZero() || le.time.Before(o.Until))
}

// collectLog reads the records of a log and its rotated files that o keeps, the last o.Tail
// lines of them, and returns them with the offset after the last one.
func collectLog(path string, o LogOptions) ([]logEntry, int64) {
	var entries []logEntry
	collect := func(le logEntry) {
		if o.keep(le) {
			entries = append(entries, le)
		}
	}
	for i := 9; i >= 1; i-- { // rotated files first, oldest first
		readLogFile(fmt.Sprintf("%s.%d", path, i), 0, collect)
	}
	offset := readLogFile(path, 0, collect)
	if o.Tail >= 0 {
		entries = tailLines(entries, o.Tail)
	}
	return entries, offset
}

// readLogFile calls fn for each complete record from offset and returns the offset after them.
func readLogFile(path string, offset int64, fn func(logEntry)) int64 {
	f, err := os.Open(path)
	if err != nil {
		return offset
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset
	}
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if err != nil { // an incomplete record is read again next time
			return offset
		}
		offset += int64(len(line))
		if le, ok := parseLogLine(line); ok {
			fn(le)
		}
	}
}

// tailLines keeps the records of the last n lines.
func tailLines(es []logEntry, n int) []logEntry {
	lines := 0
	for i := len(es) - 1; i >= 0; i-- {
		if strings.HasSuffix(es[i].text, "\n") {
			if lines == n {
				return es[i+1:]
			}
			lines++
		}
	}
	return es
}

func inode(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
