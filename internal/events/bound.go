package events

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// Bound is a --since or --until value: a point in time, or an event's cursor.
type Bound struct {
	Time   time.Time
	Cursor *Cursor
}

// ParseBound reads a --since/--until value as Docker does (a duration before now such as
// "10m", an RFC 3339 date or time, local when it names no zone, or unix seconds with an
// optional fraction), or a cursor (SEGMENT:OFFSET) from an event berth printed.
func ParseBound(s string, now time.Time) (Bound, error) {
	s = strings.TrimSpace(s)
	if IsCursor(s) {
		c, err := ParseCursor(s)
		return Bound{Cursor: &c}, err
	}
	if d, err := time.ParseDuration(s); err == nil && s != "0" {
		return Bound{Time: now.Add(-d)}, nil
	}
	if t, ok := parseUnix(s); ok {
		return Bound{Time: t}, nil
	}
	zoned := strings.ContainsAny(s, "zZ+") || strings.Count(s, "-") == 3
	layouts := []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02T15", "2006-01-02"}
	for _, l := range layouts {
		var t time.Time
		var err error
		if zoned {
			t, err = time.Parse(l+"Z07:00", s)
		} else {
			t, err = time.ParseInLocation(l, s, now.Location())
		}
		if err == nil {
			return Bound{Time: t}, nil
		}
	}
	return Bound{}, errdefs.Newf(errdefs.ErrInvalid, "failed to parse value as time or duration: %q", s)
}

// parseUnix reads SECONDS[.FRACTION].
func parseUnix(s string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(s, ".")
	if !isDigits(sec) || (frac != "" && !isDigits(frac)) {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		f, _ := strconv.ParseInt(frac, 10, 64)
		ns = f * int64(math.Pow10(9-len(frac)))
	}
	return time.Unix(n, ns), true
}
