package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/errdefs"
)

// ErrStop, returned by a [Log.Read] callback, ends the read without an error.
var ErrStop = errors.New("stop reading events")

// ErrRemoved ends a follow whose log directory was removed (system reset).
var ErrRemoved = errors.New("the event log was removed")

// Query selects the events [Log.Read] delivers. With no bound at all and Follow, only events
// appended from now on are delivered (Docker's `events`); with any bound, or without Follow,
// the stored events from the bound (or the oldest) come first.
type Query struct {
	// Since and Until bound the events' times, both inclusive; zero means unbounded.
	Since, Until time.Time
	// After resumes after the event at this cursor; it takes the place of Since. When its
	// segment was rotated away, reading starts at the oldest event, with a warning.
	After *Cursor
	// UntilCursor ends the read after the event at this cursor.
	UntilCursor *Cursor
	// Filter selects events; nil passes every one.
	Filter Filter
	// Follow waits for new events at the end of the log, until ctx ends or Until passes.
	Follow bool
}

// Read delivers the events q selects to fn, oldest first, each with its Cursor. It returns
// nil when the window is done, fn returned [ErrStop], or Until passed while following; and
// ctx's error when ctx ended first. Following waits on inotify: a new event reaches fn as
// soon as its writer's write returns.
func (l *Log) Read(ctx context.Context, q Query, fn func(*Event) error) error {
	var w *watcher
	if q.Follow {
		// Watch before reading, so that nothing appended meanwhile goes unnoticed.
		if err := os.MkdirAll(l.dir, 0o700); err != nil {
			return fmt.Errorf("create event log %s: %w", l.dir, err)
		}
		var err error
		if w, err = newWatcher(l.dir); err != nil {
			return err
		}
		defer w.close()
	}
	r := &segReader{l: l}
	defer r.close()
	var err error
	switch {
	case q.Follow && q.Since.IsZero() && q.After == nil && q.Until.IsZero() && q.UntilCursor == nil:
		err = r.openEnd()
	case q.After != nil:
		err = r.openAfter(*q.After)
	case !q.Since.IsZero():
		err = r.openSince(q.Since)
	default:
		err = r.openAt(0, 0)
	}
	if err != nil {
		return err
	}
	done := errors.New("done")
	emit := func(line []byte, c Cursor) error {
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			logrus.WithField("cursor", c).Debugf("skip unreadable event: %v", err)
			return nil
		}
		ev.Cursor = c.String()
		if q.UntilCursor != nil && q.UntilCursor.Less(c) {
			return done
		}
		t := ev.TimeNano
		inWindow := (q.Since.IsZero() || t >= q.Since.UnixNano()) && (q.Until.IsZero() || t <= q.Until.UnixNano())
		if inWindow && q.Filter.Match(&ev) {
			if err := fn(&ev); err != nil {
				return err
			}
		}
		if q.UntilCursor != nil && *q.UntilCursor == c {
			return done
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.drain(emit); err != nil {
			if errors.Is(err, done) || errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
		moved, err := r.advance(emit)
		if errors.Is(err, done) || errors.Is(err, ErrStop) {
			return nil
		}
		if err != nil {
			return err
		}
		if moved {
			continue
		}
		if !q.Follow || (!q.Until.IsZero() && !time.Now().Before(q.Until)) {
			return nil
		}
		if err := w.wait(ctx, q.Until); err != nil {
			if errors.Is(err, errDeadline) {
				continue // read what came before the deadline, then stop above
			}
			return err
		}
	}
}

// Window returns the stored events q selects (q.Follow is ignored).
func (l *Log) Window(ctx context.Context, q Query) ([]*Event, error) {
	q.Follow = false
	var out []*Event
	err := l.Read(ctx, q, func(ev *Event) error {
		out = append(out, ev)
		return nil
	})
	return out, err
}

// segReader reads the log's segments in order from one position. It holds the segment it
// reads open, so a writer's rotation never takes it away.
type segReader struct {
	l   *Log
	id  uint64   // segment open in f; 0 before any exists
	f   *os.File // nil when no segment exists yet
	off int64    // offset in the segment of pending[0]
	// pending holds bytes read but not yet delivered: a line its writer has not finished.
	pending []byte
	chunk   []byte
}

func (r *segReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// openAt opens the first segment present with an id of at least id, at off (off applies
// only when that segment is id itself). With no segment, the reader waits before segment 1.
func (r *segReader) openAt(id uint64, off int64) error {
	for {
		segs, err := r.l.segments()
		if err != nil {
			return err
		}
		next := uint64(0)
		for _, s := range segs {
			if s >= id {
				next = s
				break
			}
		}
		if next == 0 {
			r.close()
			if len(segs) > 0 {
				r.id = segs[len(segs)-1] // behind the newest: wait for a newer one
			}
			return nil
		}
		if next != id {
			off = 0
		}
		f, err := os.Open(r.l.segmentPath(next))
		if errors.Is(err, fs.ErrNotExist) {
			continue // rotated away between listing and opening
		}
		if err != nil {
			return fmt.Errorf("open event segment: %w", err)
		}
		if off > 0 {
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				f.Close()
				return fmt.Errorf("seek event segment: %w", err)
			}
		}
		r.close()
		r.f, r.id, r.off, r.pending = f, next, off, r.pending[:0]
		return nil
	}
}

// openEnd positions the reader after the last event.
func (r *segReader) openEnd() error {
	segs, err := r.l.segments()
	if err != nil || len(segs) == 0 {
		return err
	}
	if err := r.openAt(segs[len(segs)-1], 0); err != nil || r.f == nil {
		return err
	}
	end, err := r.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("seek event segment: %w", err)
	}
	r.off = end
	// A line in the middle of being written belongs to the past too: skip to its end.
	return r.drain(func([]byte, Cursor) error { return nil })
}

// openAfter positions the reader after the event at c.
func (r *segReader) openAfter(c Cursor) error {
	segs, err := r.l.segments()
	if err != nil {
		return err
	}
	if len(segs) > 0 && c.Segment > segs[len(segs)-1] {
		return errdefs.Newf(errdefs.ErrInvalid, "event cursor %s is beyond the end of the log", c)
	}
	if err := r.openAt(c.Segment, c.Offset); err != nil || r.f == nil {
		return err
	}
	if r.id != c.Segment {
		logrus.Warnf("events from %s up to %s were dropped by rotation before they were read", c, Cursor{r.id, 0})
		return nil
	}
	if st, err := r.f.Stat(); err == nil && c.Offset >= st.Size() {
		return errdefs.Newf(errdefs.ErrInvalid, "event cursor %s is beyond the end of the log", c)
	}
	// Skip the event at the cursor itself.
	skipped := false
	return r.drainUntil(func([]byte, Cursor) error { skipped = true; return nil }, func() bool { return skipped })
}

// openSince positions the reader at the first segment that may hold events at or after t:
// the log is in time order, so a segment whose successor starts before t is skipped whole.
func (r *segReader) openSince(t time.Time) error {
	segs, err := r.l.segments()
	if err != nil {
		return err
	}
	start := uint64(0)
	for i, s := range segs {
		start = s
		if i+1 < len(segs) {
			if first, ok := r.l.firstTime(segs[i+1]); ok && first < t.UnixNano() {
				continue
			}
		}
		break
	}
	return r.openAt(start, 0)
}

// firstTime reads the time of a segment's first event.
func (l *Log) firstTime(id uint64) (int64, bool) {
	f, err := os.Open(l.segmentPath(id))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 4096).ReadBytes('\n')
	if err != nil {
		return 0, false
	}
	var ev struct{ TimeNano int64 }
	if json.Unmarshal(line, &ev) != nil {
		return 0, false
	}
	return ev.TimeNano, true
}

// drain delivers every complete line up to the end of the open segment.
func (r *segReader) drain(fn func(line []byte, c Cursor) error) error {
	return r.drainUntil(fn, func() bool { return false })
}

// drainUntil delivers complete lines until the end of the segment, or until stop says so.
func (r *segReader) drainUntil(fn func(line []byte, c Cursor) error, stop func() bool) error {
	if r.f == nil {
		return nil
	}
	if r.chunk == nil {
		r.chunk = make([]byte, 64<<10)
	}
	for {
		for {
			i := bytes.IndexByte(r.pending, '\n')
			if i < 0 {
				break
			}
			line, c := r.pending[:i], Cursor{Segment: r.id, Offset: r.off}
			r.pending = r.pending[i+1:]
			r.off += int64(i + 1)
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if err := fn(line, c); err != nil {
				return err
			}
			if stop() {
				return nil
			}
		}
		n, err := r.f.Read(r.chunk)
		if n > 0 {
			// Keep pending at the front of its array so it does not grow without bound.
			r.pending = append(append(make([]byte, 0, len(r.pending)+n), r.pending...), r.chunk[:n]...)
			continue
		}
		if err == nil || errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("read event segment: %w", err)
	}
}

// advance moves to the next segment once a newer one exists: a writer starts a segment only
// after its last write to the previous one, so that one is complete. It reads what is left
// of the current segment first, and says whether it moved.
func (r *segReader) advance(fn func(line []byte, c Cursor) error) (bool, error) {
	segs, err := r.l.segments()
	if err != nil {
		return false, err
	}
	next := uint64(0)
	for _, s := range segs {
		if s > r.id {
			next = s
			break
		}
	}
	if next == 0 {
		return false, nil
	}
	if err := r.drain(fn); err != nil {
		return false, err
	}
	prev := r.id
	if err := r.openAt(next, 0); err != nil {
		return false, err
	}
	if r.f != nil && r.id != prev+1 && prev != 0 {
		logrus.Warnf("events from %s up to %s were dropped by rotation before they were read", Cursor{prev + 1, 0}, Cursor{r.id, 0})
	}
	return r.f != nil && r.id != prev, nil
}
