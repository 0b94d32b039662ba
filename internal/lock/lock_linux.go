// Package lock provides flock-based file locks that serialize operations on one object
// (container, image, network, layer store) across berth processes. A lock dies with its
// process, so kill -9 never leaves one held.
package lock

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is a held file lock.
type Lock struct{ f *os.File }

// Acquire takes an exclusive lock on path, creating it, waiting until ctx is done.
func Acquire(ctx context.Context, path string) (*Lock, error) {
	return acquire(ctx, path, unix.LOCK_EX)
}

// AcquireShared takes a shared lock on path.
func AcquireShared(ctx context.Context, path string) (*Lock, error) {
	return acquire(ctx, path, unix.LOCK_SH)
}

func acquire(ctx context.Context, path string, how int) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	delay := time.Millisecond
	for {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// Release drops the lock. It is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last fd releases the flock
	l.f = nil
	return err
}
