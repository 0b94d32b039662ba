package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestParsePruneFilters(t *testing.T) {
	keys := []string{"until", "label", "label!", "all"}
	for _, c := range []struct {
		name    string
		filters []string
		wantErr bool
	}{
		{"none", nil, false},
		{"label", []string{"label=a", "label=b=c"}, false},
		{"not label", []string{"label!=a=1"}, false},
		{"until duration", []string{"until=24h"}, false},
		{"until date", []string{"until=2024-01-02"}, false},
		{"until time", []string{"until=2024-01-02T15:04:05"}, false},
		{"until unix", []string{"until=1700000000"}, false},
		{"all", []string{"all=true"}, false},
		{"bad until", []string{"until=yesterday"}, true},
		{"bad all", []string{"all=maybe"}, true},
		{"unknown key", []string{"colour=red"}, true},
		{"no value", []string{"label"}, true},
	} {
		_, err := ParsePruneFilters(c.filters, keys...)
		if (err != nil) != c.wantErr {
			t.Errorf("%s: ParsePruneFilters(%q) = %v, want error %v", c.name, c.filters, err, c.wantErr)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: error %v is not ErrInvalid", c.name, err)
		}
	}
	if _, err := ParsePruneFilters([]string{"all=1"}, "until", "label"); err == nil {
		t.Error("all= accepted by a prune that does not take it")
	}
}

func TestPruneFilterMatch(t *testing.T) {
	old := time.Now().Add(-48 * time.Hour)
	labels := map[string]string{"keep": "yes", "tier": "web"}
	for _, c := range []struct {
		name    string
		filters []string
		created time.Time
		want    bool
	}{
		{"no filter", nil, time.Now(), true},
		{"label present", []string{"label=keep"}, old, true},
		{"label value", []string{"label=keep=yes"}, old, true},
		{"label other value", []string{"label=keep=no"}, old, false},
		{"label absent", []string{"label=nope"}, old, false},
		{"labels ANDed", []string{"label=keep", "label=tier=db"}, old, false},
		{"not label present", []string{"label!=keep"}, old, false},
		{"not label other value", []string{"label!=keep=no"}, old, true},
		{"until keeps newer", []string{"until=24h"}, time.Now(), false},
		{"until takes older", []string{"until=24h"}, old, true},
	} {
		f, err := ParsePruneFilters(c.filters, "until", "label", "label!")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := f.Match(labels, c.created); got != c.want {
			t.Errorf("%s: Match(%q) = %v, want %v", c.name, c.filters, got, c.want)
		}
	}
}
