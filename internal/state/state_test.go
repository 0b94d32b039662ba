package state

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

func TestOpenMigratesOnceAndConcurrently(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db", "berth.db")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d, err := Open(ctx, path)
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			for j := 0; j < 20; j++ {
				if err := d.Set(ctx, fmt.Sprintf("k%d", i), fmt.Sprint(j)); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if v, _ := d.Get(ctx, "k3"); v != "19" {
		t.Errorf("Get(k3) = %q, want 19", v)
	}
	if v, _ := d.Get(ctx, "nope"); v != "" {
		t.Errorf("Get(nope) = %q", v)
	}
}
