package events

import (
	"sort"
	"strings"
	"time"
)

// timeLayout is Docker's RFC3339NanoFixed: fixed-width nanoseconds, so columns line up.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// String renders ev as `docker events` prints it:
// TIME TYPE ACTION ID (KEY=VALUE, ...), attributes sorted by key.
func (e *Event) String() string {
	var b strings.Builder
	b.WriteString(time.Unix(0, e.TimeNano).Format(timeLayout))
	b.WriteString(" ")
	b.WriteString(string(e.Type))
	b.WriteString(" ")
	b.WriteString(e.Action)
	b.WriteString(" ")
	b.WriteString(e.Actor.ID)
	if len(e.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(e.Actor.Attributes))
		for k := range e.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k + "=" + e.Actor.Attributes[k])
		}
		b.WriteString(")")
	}
	return b.String()
}
