//go:build !linux

package lock

import (
	"context"

	"github.com/berth-project/berth/internal/errdefs"
)

// Lock is a held file lock.
type Lock struct{}

func Acquire(ctx context.Context, path string) (*Lock, error) { return nil, errdefs.ErrNotSupported }
func AcquireShared(ctx context.Context, path string) (*Lock, error) {
	return nil, errdefs.ErrNotSupported
}
func (l *Lock) Release() error { return nil }
