//go:build linux

package lock

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "x.lock")
	a, err := Acquire(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := Acquire(ctx, p); err == nil {
		t.Fatal("second exclusive lock succeeded while first held")
	}
	a.Release()
	a.Release()
	b, err := Acquire(context.Background(), p)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	b.Release()
}
