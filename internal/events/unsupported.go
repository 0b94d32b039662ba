//go:build !linux

package events

import (
	"context"
	"errors"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

var errDeadline = errors.New("deadline reached")

type watcher struct{}

func newWatcher(string) (*watcher, error)                { return nil, errdefs.ErrNotSupported }
func (w *watcher) wait(context.Context, time.Time) error { return errdefs.ErrNotSupported }
func (w *watcher) close()                                {}
func (l *Log) Append(evs ...*Event) error                { return errdefs.ErrNotSupported }
