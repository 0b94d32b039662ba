package engine

import (
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// PruneFilter is a prune's --filter set, as Docker's daemon reads it: until= keeps what was
// made at or after a time, label= keeps only objects with the label (KEY or KEY=VALUE), and
// label!= only objects without it. Volume prune also takes all=.
type PruneFilter struct {
	Until     time.Time
	Labels    []string
	NotLabels []string
	// All is volume prune's all=true|false (nil when not given).
	All *bool
}

// ParsePruneFilters reads KEY=VALUE filters; keys lists those the prune accepts (of until,
// label, label! and all).
func ParsePruneFilters(filters []string, keys ...string) (PruneFilter, error) {
	var f PruneFilter
	allowed := map[string]bool{}
	for _, k := range keys {
		allowed[k] = true
	}
	for _, s := range filters {
		k, v, ok := strings.Cut(s, "=")
		if !ok || !allowed[k] {
			return f, errdefs.Newf(errdefs.ErrInvalid, "invalid filter %q: want %s", s, strings.Join(keys, "=, ")+"=")
		}
		switch k {
		case "until":
			t, err := parseUntil(v)
			if err != nil {
				return f, err
			}
			f.Until = t
		case "label":
			f.Labels = append(f.Labels, v)
		case "label!":
			f.NotLabels = append(f.NotLabels, v)
		case "all":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, errdefs.Newf(errdefs.ErrInvalid, "invalid filter %q: all takes true or false", s)
			}
			f.All = &b
		}
	}
	return f, nil
}

// parseUntil reads a Unix timestamp, an RFC 3339 time or date, or a duration before now.
func parseUntil(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Unix(0, int64(secs*1e9)), nil
	}
	return time.Time{}, errdefs.Newf(errdefs.ErrInvalid, "invalid filter \"until=%s\": want a timestamp or a duration like 24h", v)
}

// Match says whether an object with labels, made at created, is one the prune may remove.
func (f PruneFilter) Match(labels map[string]string, created time.Time) bool {
	if !f.Until.IsZero() && !created.Before(f.Until) {
		return false
	}
	for _, l := range f.Labels {
		if !hasLabel(labels, l) {
			return false
		}
	}
	for _, l := range f.NotLabels {
		if hasLabel(labels, l) {
			return false
		}
	}
	return true
}

// hasLabel matches KEY (present) or KEY=VALUE (present with that value).
func hasLabel(labels map[string]string, l string) bool {
	k, v, withValue := strings.Cut(l, "=")
	got, ok := labels[k]
	return ok && (!withValue || got == v)
}
