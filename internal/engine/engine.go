// Package engine composes berth's libraries with its state into container, image, network and
// volume operations. It is the only layer cmd/berth calls.
package engine

import (
	"context"
	"path/filepath"
	"sync"

	"github.com/berth-project/berth/internal/config"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/internal/state"
)

// Engine is one berth process's view of a root.
type Engine struct {
	Config config.Config

	dbOnce sync.Once
	db     *state.DB
	dbErr  error

	images imageStore
	cdi    cdiRegistry
}

// New returns an engine for cfg. It opens nothing until an operation needs it, so cheap
// commands stay cheap.
func New(cfg config.Config) *Engine { return &Engine{Config: cfg} }

// DB opens the state database on first use.
func (e *Engine) DB(ctx context.Context) (*state.DB, error) {
	e.dbOnce.Do(func() {
		e.db, e.dbErr = state.Open(ctx, filepath.Join(e.Config.Root, "berth.db"))
	})
	return e.db, e.dbErr
}

// Lock takes the exclusive lock for one object, e.g. Lock(ctx, "container", id).
func (e *Engine) Lock(ctx context.Context, kind, name string) (*lock.Lock, error) {
	return lock.Acquire(ctx, filepath.Join(e.Config.RunRoot, "locks", kind, name+".lock"))
}

// Close releases what the engine opened.
func (e *Engine) Close() error {
	if e.db != nil {
		db := e.db
		e.db = nil
		return db.Close()
	}
	return nil
}
