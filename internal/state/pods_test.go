package state

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

type rec struct{ Name string }

func TestPodInsertIsAtomicWithItsInfra(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Containers().Insert(ctx, "c1", "taken", 1, rec{"taken"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		pod       Row
		infra     Row
		wantErr   error
		wantPod   bool
		wantInfra bool
	}{
		{"both stored", Row{"p1", "web", 2, rec{"web"}}, Row{"i1", "p1-infra", 2, rec{"p1-infra"}}, nil, true, true},
		{"pod name taken", Row{"p2", "web", 3, rec{"web"}}, Row{"i2", "p2-infra", 3, rec{"p2-infra"}}, errdefs.ErrExists, false, false},
		{"infra name taken", Row{"p3", "db", 4, rec{"db"}}, Row{"i3", "taken", 4, rec{"taken"}}, errdefs.ErrExists, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := d.Pods().Insert(ctx, tc.pod, tc.infra)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Insert(%s) = %v, want %v", tc.pod.ID, err, tc.wantErr)
			}
			var r rec
			_, perr := d.Pods().Get(ctx, tc.pod.ID, &r)
			if got := perr == nil; got != tc.wantPod {
				t.Errorf("pod %s stored = %v, want %v (%v)", tc.pod.ID, got, tc.wantPod, perr)
			}
			_, cerr := d.Containers().Get(ctx, tc.infra.ID, &r)
			if got := cerr == nil; got != tc.wantInfra {
				t.Errorf("infra %s stored = %v, want %v (%v)", tc.infra.ID, got, tc.wantInfra, cerr)
			}
		})
	}
	if err := d.Pods().Delete(ctx, "p1", "i1"); err != nil {
		t.Fatal(err)
	}
	var r rec
	if _, err := d.Pods().Get(ctx, "web", &r); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get(web) after Delete = %v, want not found", err)
	}
	if _, err := d.Containers().Get(ctx, "i1", &r); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("infra after Delete = %v, want not found", err)
	}
	if _, err := d.Containers().Get(ctx, "c1", &r); err != nil {
		t.Errorf("other container after Delete: %v", err)
	}
}
