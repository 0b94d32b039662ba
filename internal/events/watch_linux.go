package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

var errDeadline = errors.New("deadline reached")

// watcher wakes a follower when a writer appends to or creates a segment: one inotify watch
// on the log's directory, read through the Go poller so that ctx and deadlines end the wait.
type watcher struct {
	f   *os.File
	buf []byte
}

func newWatcher(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch event log: inotify_init1: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_DELETE|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch event log %s: %w", dir, err)
	}
	return &watcher{f: os.NewFile(uintptr(fd), "inotify"), buf: make([]byte, 64<<10)}, nil
}

// wait blocks until something changed in the directory, ctx ends (its error) or the deadline
// passes (errDeadline); a zero deadline is none.
func (w *watcher) wait(ctx context.Context, deadline time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.f.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("watch event log: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = w.f.SetReadDeadline(time.Now()) })
	defer stop()
	// Any event will do: the caller reads the segments again. One read drains what queued.
	n, err := w.f.Read(w.buf)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errDeadline
	case err != nil:
		return fmt.Errorf("watch event log: %w", err)
	}
	// The directory itself went (system reset, rm -rf of the root): nothing more will come
	// through this watch. Its own IN_DELETE_SELF waits for the segment we hold open to be
	// closed, so the deletion of the lock file, which nothing else ever removes, tells.
	for off := 0; off+unix.SizeofInotifyEvent <= n; {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&w.buf[off]))
		name := string(bytes.TrimRight(w.buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)], "\x00"))
		if ev.Mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 || ev.Mask&unix.IN_DELETE != 0 && name == lockName {
			return ErrRemoved
		}
		off += unix.SizeofInotifyEvent + int(ev.Len)
	}
	return nil
}

func (w *watcher) close() { w.f.Close() }
