package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Append adds evs to the log as one write, stamping each with the time and filling its
// Cursor. The time is taken under the log's lock, so the log is in time order however many
// processes append at once.
//
// It costs one flock and one write of whole lines with O_APPEND, and no fsync: events must
// outlive the command, not a power cut.
func (l *Log) Append(evs ...*Event) error {
	if len(evs) == 0 {
		return nil
	}
	lk, err := l.lock()
	if err != nil {
		return err
	}
	defer lk.Close() // closing the only fd drops the flock
	segs, err := l.segments()
	if err != nil {
		return err
	}
	id := uint64(1)
	if len(segs) > 0 {
		id = segs[len(segs)-1]
	}
	f, size, err := openSegment(l.segmentPath(id))
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	now := l.now()
	lines := make([][]byte, len(evs))
	n := int64(0)
	for i, ev := range evs {
		ev.stamp(now)
		b, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode %s %s event: %w", ev.Type, ev.Action, err)
		}
		lines[i] = append(b, '\n')
		n += int64(len(lines[i]))
	}
	var buf []byte
	switch {
	case size > 0 && size+n > l.segmentSize:
		f.Close()
		id++
		if f, size, err = openSegment(l.segmentPath(id)); err != nil {
			return err
		}
		segs = append(segs, id)
		for len(segs) > l.maxSegments {
			// A reader holding the segment open keeps reading it: unlink only drops the name.
			if err := os.Remove(l.segmentPath(segs[0])); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("drop event segment: %w", err)
			}
			segs = segs[1:]
		}
	case size > 0:
		// A writer killed in the middle of a line (disk full) left it torn: end it, so that
		// only that line is lost.
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err == nil && last[0] != '\n' {
			buf = append(buf, '\n')
		}
	}
	off := size + int64(len(buf))
	for i, ev := range evs {
		ev.Cursor = Cursor{Segment: id, Offset: off}.String()
		off += int64(len(lines[i]))
		buf = append(buf, lines[i]...)
	}
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("append to event log: %w", err)
	}
	return nil
}

// lock takes the log's writer lock, making the directory on first use.
func (l *Log) lock() (*os.File, error) {
	p := filepath.Join(l.dir, lockName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(l.dir, 0o700); err != nil {
			return nil, fmt.Errorf("create event log %s: %w", l.dir, err)
		}
		f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("lock event log: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock event log: %w", err)
	}
	return f, nil
}

func openSegment(p string) (*os.File, int64, error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open event segment: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open event segment: %w", err)
	}
	return f, st.Size(), nil
}
