package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

// TestNetworkAllocateConcurrent opens one handle per goroutine, as separate berth processes
// would, and checks that 20 concurrent allocations on one network never hand out an address twice.
func TestNetworkAllocateConcurrent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "berth.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Networks().Create(ctx, "net1", "id1", 1, func(existing [][]byte) (any, error) {
		return map[string]string{"name": "net1"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ips := make(chan string, 20)
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h, err := Open(ctx, path)
			if err != nil {
				errs <- err
				return
			}
			defer h.Close()
			ip, err := h.Networks().Allocate(ctx, "net1", "10.0.0.0/24", fmt.Sprintf("c%d", i), func(_ string, used func(string) bool) (string, error) {
				for n := 2; n < 255; n++ {
					if ip := fmt.Sprintf("10.0.0.%d", n); !used(ip) {
						return ip, nil
					}
				}
				return "", errors.New("full")
			})
			if err != nil {
				errs <- err
				return
			}
			ips <- ip
		}(i)
	}
	wg.Wait()
	close(ips)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for ip := range ips {
		if seen[ip] {
			t.Errorf("address %s handed out twice", ip)
		}
		seen[ip] = true
	}
	if len(seen) != 20 {
		t.Errorf("got %d distinct addresses, want 20", len(seen))
	}
	_, err = d.Networks().Allocate(ctx, "net1", "10.0.0.0/24", "other", func(string, func(string) bool) (string, error) { return "10.0.0.2", nil })
	if !errors.Is(err, errdefs.ErrInUse) {
		t.Errorf("Allocate(taken address) = %v, want ErrInUse", err)
	}
	// The cursor names the last address handed out, whichever goroutine got it.
	last := ""
	if _, err := d.Networks().Allocate(ctx, "net1", "10.0.0.0/24", "c20", func(l string, used func(string) bool) (string, error) {
		last = l
		return "10.0.0.100", nil
	}); err != nil || !seen[last] {
		t.Errorf("cursor before a 21st allocation: %q (%v), want one of the 20 handed out", last, err)
	}
	if err := d.Networks().Release(ctx, "c3", ""); err != nil {
		t.Fatal(err)
	}
	if a, _ := d.Networks().Allocations(ctx, "net1"); len(a) != 20 {
		t.Errorf("after release: %d allocations, want 20", len(a))
	}
	var rec map[string]string
	if name, err := d.Networks().Get(ctx, "id", &rec); err != nil || name != "net1" {
		t.Errorf("Get(id prefix) = %q, %v", name, err)
	}
	if err := d.Networks().Create(ctx, "net1", "id2", 2, func([][]byte) (any, error) { return 1, nil }); !errors.Is(err, errdefs.ErrExists) {
		t.Errorf("Create(duplicate) = %v, want ErrExists", err)
	}
	if err := d.Networks().Delete(ctx, "net1"); err != nil {
		t.Fatal(err)
	}
	if a, _ := d.Networks().Allocations(ctx, ""); len(a) != 0 {
		t.Errorf("after delete: %d allocations", len(a))
	}
	if _, err := d.Networks().Get(ctx, "net1", &rec); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrNotFound", err)
	}
}

func TestNetworkIdleHolders(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	records := map[string]string{"run": "running", "pause": "paused", "made": "created", "done": "exited"}
	for id, st := range records {
		if err := d.Containers().Insert(ctx, id, id, 1, map[string]string{"State": st}); err != nil {
			t.Fatal(err)
		}
	}
	// "gone" holds an address but has no record (a berth killed between the two deletions);
	// "idle" has a record and no address.
	if err := d.Containers().Insert(ctx, "idle", "idle", 1, map[string]string{"State": "exited"}); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"run", "pause", "made", "done", "gone"} {
		if _, err := d.Networks().Allocate(ctx, "net1", "10.0.0.0/24", id, func(string, func(string) bool) (string, error) {
			return fmt.Sprintf("10.0.0.%d", i+2), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		active []string
		want   string
	}{
		{"running and paused active", []string{"running", "paused"}, "done gone made"},
		{"only running active", []string{"running"}, "done gone made pause"},
		{"none active", nil, "done gone made pause run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Networks().IdleHolders(ctx, tc.active...)
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(got)
			if strings.Join(got, " ") != tc.want {
				t.Errorf("IdleHolders(%q) = %q, want %q", tc.active, got, tc.want)
			}
		})
	}
}
