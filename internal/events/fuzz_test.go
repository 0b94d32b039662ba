package events

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParseBound feeds --since/--until values: a result or an error, never a panic, and a
// cursor always prints back as it was read.
func FuzzParseBound(f *testing.F) {
	for _, s := range []string{"10m", "1700000000.5", "2026-03-04T09:00:00Z", "2026-03-04", "3:1024", "0:1", "-1m", "9999999999999999999:1"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBound(s, now)
		if err != nil || b.Cursor == nil {
			return
		}
		c, err := ParseCursor(b.Cursor.String())
		if err != nil || c != *b.Cursor {
			t.Errorf("cursor %q reads back as %v, %v", b.Cursor, c, err)
		}
	})
}

// FuzzReadSegment reads a segment of arbitrary bytes (a torn or corrupted log): every event
// it yields has a cursor inside the segment, in increasing order, and reading never panics.
func FuzzReadSegment(f *testing.F) {
	f.Add([]byte(`{"Type":"container","Action":"start","Actor":{"ID":"a","Attributes":{"name":"x"}},"scope":"local","time":1,"timeNano":1}` + "\n"))
	f.Add([]byte("{\n}\n\n{\"Type\":1}\n{\"Actor\":{\"Attributes\":null}}\ngarbage\n{\"Action\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		l := Open(dir, nil)
		if err := os.WriteFile(filepath.Join(dir, "events-00000000000000000001.log"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		evs, err := l.Window(context.Background(), Query{Filter: Filter{"label": {"x"}}})
		if err != nil {
			t.Fatalf("Window: %v", err)
		}
		evs, err = l.Window(context.Background(), Query{})
		if err != nil {
			t.Fatalf("Window: %v", err)
		}
		prev := int64(-1)
		for _, ev := range evs {
			c, err := ParseCursor(ev.Cursor)
			if err != nil || c.Segment != 1 || c.Offset <= prev || c.Offset >= int64(len(data)) {
				t.Fatalf("event cursor %q after offset %d in %d bytes", ev.Cursor, prev, len(data))
			}
			prev = c.Offset
			_ = ev.String()
		}
	})
}
