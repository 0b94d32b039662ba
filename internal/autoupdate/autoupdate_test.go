package autoupdate

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-project/berth/internal/config"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/paths"
)

func TestSystemctlArgs(t *testing.T) {
	tests := []struct {
		user bool
		want []string
	}{
		{false, []string{"restart", "web.service"}},
		{true, []string{"--user", "restart", "web.service"}},
	}
	for _, tc := range tests {
		var got []string
		o := Options{User: tc.user, Systemctl: func(_ context.Context, args ...string) error {
			got = args
			return nil
		}}
		if err := o.systemctl(context.Background(), "restart", "web.service"); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("user=%v: systemctl %q, want %q", tc.user, got, tc.want)
		}
	}
}

// With no container carrying the label, nothing is checked and systemctl never runs.
func TestRunNothingLabelled(t *testing.T) {
	d := t.TempDir()
	cfg := config.Default(paths.Env{UID: 0})
	cfg.Root, cfg.RunRoot = filepath.Join(d, "root"), filepath.Join(d, "run")
	e := engine.New(cfg)
	defer e.Close()
	o := Options{Systemctl: func(context.Context, ...string) error { return errors.New("systemctl must not run") }}
	reports, err := Run(context.Background(), e, o)
	if err != nil || len(reports) != 0 {
		t.Errorf("Run() = %v, %v; want no reports and no error", reports, err)
	}
}
