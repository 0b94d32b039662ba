package events

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the concurrency test run this binary as an appending process.
func TestMain(m *testing.M) {
	if dir := os.Getenv("BERTH_EVENTS_TEST_APPEND"); dir != "" {
		n, _ := strconv.Atoi(os.Getenv("BERTH_EVENTS_TEST_N"))
		l := Open(dir, &Options{SegmentSize: 4096, MaxSegments: 1000})
		for i := 0; i < n; i++ {
			if err := l.Append(New(Container, "start", os.Getenv("BERTH_EVENTS_TEST_ID"), map[string]string{"i": strconv.Itoa(i)})); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func appendN(t *testing.T, l *Log, from, n int) []*Event {
	t.Helper()
	var out []*Event
	for i := from; i < from+n; i++ {
		ev := New(Container, "create", fmt.Sprintf("c%03d", i), map[string]string{"name": fmt.Sprintf("n%03d", i)})
		if err := l.Append(ev); err != nil {
			t.Fatalf("Append: %v", err)
		}
		out = append(out, ev)
	}
	return out
}

func ids(evs []*Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Actor.ID)
	}
	return out
}

func window(t *testing.T, l *Log, q Query) []*Event {
	t.Helper()
	evs, err := l.Window(context.Background(), q)
	if err != nil {
		t.Fatalf("Window(%+v): %v", q, err)
	}
	return evs
}

func TestAppendAndWindow(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "events"), nil)
	if evs := window(t, l, Query{}); len(evs) != 0 {
		t.Fatalf("empty log: got %v", ids(evs))
	}
	written := appendN(t, l, 0, 5)
	got := window(t, l, Query{})
	if fmt.Sprint(ids(got)) != fmt.Sprint(ids(written)) {
		t.Fatalf("Window = %v, want %v", ids(got), ids(written))
	}
	for i, ev := range got {
		if ev.Cursor != written[i].Cursor || ev.Cursor == "" {
			t.Errorf("event %d cursor %q, Append said %q", i, ev.Cursor, written[i].Cursor)
		}
		if ev.Status != "create" || ev.ID != ev.Actor.ID || ev.Scope != "local" || ev.Time != ev.TimeNano/1e9 {
			t.Errorf("event %d lacks Docker's fields: %+v", i, ev)
		}
		if i > 0 && ev.TimeNano < got[i-1].TimeNano {
			t.Errorf("event %d is older than the one before it", i)
		}
	}
	// After a cursor: exactly the events that follow it.
	c, _ := ParseCursor(got[1].Cursor)
	if after := window(t, l, Query{After: &c}); fmt.Sprint(ids(after)) != fmt.Sprint(ids(written[2:])) {
		t.Errorf("After %s = %v, want %v", c, ids(after), ids(written[2:]))
	}
	// UntilCursor is inclusive.
	c3, _ := ParseCursor(got[3].Cursor)
	if w := window(t, l, Query{After: &c, UntilCursor: &c3}); fmt.Sprint(ids(w)) != "[c002 c003]" {
		t.Errorf("After %s until %s = %v", c, c3, ids(w))
	}
	// Since and Until by time are inclusive.
	since, until := time.Unix(0, got[1].TimeNano), time.Unix(0, got[3].TimeNano)
	if w := window(t, l, Query{Since: since, Until: until}); len(w) < 3 || w[0].TimeNano < since.UnixNano() || w[len(w)-1].TimeNano > until.UnixNano() {
		t.Errorf("Since/Until window = %v", ids(w))
	}
	if w := window(t, l, Query{Filter: Filter{"container": {"n003"}}}); fmt.Sprint(ids(w)) != "[c003]" {
		t.Errorf("filtered window = %v", ids(w))
	}
}

func TestRotationBoundsStorage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "events")
	l := Open(dir, &Options{SegmentSize: 600, MaxSegments: 3})
	written := appendN(t, l, 0, 60)
	segs, err := l.segments()
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 3 {
		t.Fatalf("segments after 60 events = %v, want 3 of them", segs)
	}
	var total int64
	for _, s := range segs {
		st, err := os.Stat(l.segmentPath(s))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 600 {
			t.Errorf("segment %d holds %d bytes, over the 600 limit", s, st.Size())
		}
		total += st.Size()
	}
	got := window(t, l, Query{})
	if len(got) == 0 || got[len(got)-1].Actor.ID != "c059" {
		t.Fatalf("window after rotation ends with %v", ids(got))
	}
	// What is left is the newest events, contiguous.
	first := len(written) - len(got)
	if fmt.Sprint(ids(got)) != fmt.Sprint(ids(written[first:])) {
		t.Errorf("window after rotation = %v, want the last %d written", ids(got), len(got))
	}
}

func TestCursorResumesAcrossRotation(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "events"), &Options{SegmentSize: 600, MaxSegments: 4})
	written := appendN(t, l, 0, 3)
	c, _ := ParseCursor(written[1].Cursor)
	more := appendN(t, l, 3, 6) // rotates: the cursor's segment is no longer the newest
	segs, _ := l.segments()
	if len(segs) < 2 || segs[0] != c.Segment {
		t.Fatalf("want a rotation that keeps segment %d, have %v", c.Segment, segs)
	}
	want := append([]*Event{written[2]}, more...)
	if got := window(t, l, Query{After: &c}); fmt.Sprint(ids(got)) != fmt.Sprint(ids(want)) {
		t.Errorf("After %s across rotation = %v, want %v", c, ids(got), ids(want))
	}
	// Once the cursor's segment is dropped, reading resumes at the oldest event left.
	appendN(t, l, 9, 40)
	got := window(t, l, Query{After: &c})
	all := window(t, l, Query{})
	if len(got) == 0 || fmt.Sprint(ids(got)) != fmt.Sprint(ids(all)) {
		t.Errorf("After a dropped cursor = %v, want every event left %v", ids(got), ids(all))
	}
	// A cursor beyond the log is refused, in a later segment or past the end of one.
	segs, _ = l.segments()
	for _, c := range []Cursor{{Segment: 999, Offset: 0}, {Segment: segs[len(segs)-1], Offset: 1 << 30}} {
		if _, err := l.Window(context.Background(), Query{After: &c}); err == nil {
			t.Errorf("cursor %s beyond the log was accepted", c)
		}
	}
}

// A reader positioned in a segment keeps reading it after a writer unlinks it.
func TestReaderKeepsRotatedSegment(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "events"), &Options{SegmentSize: 600, MaxSegments: 2})
	written := appendN(t, l, 0, 3)
	r := &segReader{l: l}
	defer r.close()
	if err := r.openAt(0, 0); err != nil || r.f == nil {
		t.Fatalf("open: %v", err)
	}
	var got []string
	collect := func(line []byte, c Cursor) error {
		got = append(got, c.String())
		return nil
	}
	// Read one event, then rotate segment 1 away entirely, then read on.
	if err := r.drainUntil(collect, func() bool { return len(got) == 1 }); err != nil {
		t.Fatal(err)
	}
	more := appendN(t, l, 3, 30)
	if _, err := os.Stat(l.segmentPath(1)); !os.IsNotExist(err) {
		t.Fatalf("segment 1 still exists: %v", err)
	}
	if err := r.drain(collect); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ev := range append(written, more...) {
		if strings.HasPrefix(ev.Cursor, "1:") {
			want = append(want, ev.Cursor)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read %v from the unlinked segment, want %v", got, want)
	}
}

func TestConcurrentAppendersFromProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "events")
	const procs, each = 6, 60
	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "BERTH_EVENTS_TEST_APPEND="+dir, "BERTH_EVENTS_TEST_N="+strconv.Itoa(each),
			"BERTH_EVENTS_TEST_ID=p"+strconv.Itoa(p))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("appender: %v", err)
		}
	}
	l := Open(dir, &Options{SegmentSize: 4096, MaxSegments: 1000})
	got := window(t, l, Query{})
	if len(got) != procs*each {
		t.Fatalf("read %d events, want %d", len(got), procs*each)
	}
	next := map[string]int{}
	seen := map[string]bool{}
	for i, ev := range got {
		// Each process's events arrive whole and in its order; cursors are unique; the log
		// is in time order.
		if want := strconv.Itoa(next[ev.Actor.ID]); ev.Actor.Attributes["i"] != want {
			t.Fatalf("event %d of %s is #%s, want #%s", i, ev.Actor.ID, ev.Actor.Attributes["i"], want)
		}
		next[ev.Actor.ID]++
		if seen[ev.Cursor] {
			t.Fatalf("cursor %s twice", ev.Cursor)
		}
		seen[ev.Cursor] = true
		if i > 0 && ev.TimeNano < got[i-1].TimeNano {
			t.Errorf("event %d is older than event %d", i, i-1)
		}
	}
	if segs, _ := l.segments(); len(segs) < 2 {
		t.Errorf("appenders never rotated: %v", segs)
	}
}

func TestFollow(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "events"), &Options{SegmentSize: 700, MaxSegments: 50})
	appendN(t, l, 0, 2) // history: not delivered to a live follower
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan *Event, 100)
	errc := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		close(ready)
		errc <- l.Read(ctx, Query{Follow: true, Filter: Filter{"event": {"create"}}}, func(ev *Event) error {
			got <- ev
			return nil
		})
	}()
	<-ready
	time.Sleep(100 * time.Millisecond) // let the follower reach the end of the log
	written := appendN(t, l, 2, 12)    // crosses segments
	for i, w := range written {
		select {
		case ev := <-got:
			if ev.Actor.ID != w.Actor.ID || ev.Cursor != w.Cursor {
				t.Fatalf("followed event %d = %s at %s, want %s at %s", i, ev.Actor.ID, ev.Cursor, w.Actor.ID, w.Cursor)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("followed event %d (%s) never came", i, w.Actor.ID)
		}
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Read after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after cancel")
	}
}

func TestFollowStopsAtUntilAndOnErrStop(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "events"), nil)
	start := time.Now()
	err := l.Read(context.Background(), Query{Follow: true, Until: start.Add(300 * time.Millisecond)}, func(*Event) error { return nil })
	if err != nil || time.Since(start) < 300*time.Millisecond || time.Since(start) > 3*time.Second {
		t.Errorf("Read until +300ms returned %v after %v", err, time.Since(start))
	}
	// A callback's ErrStop ends a follow without error: --until-match.
	done := make(chan error, 1)
	go func() {
		done <- l.Read(context.Background(), Query{Follow: true, Filter: Filter{"event": {"die"}}}, func(*Event) error { return ErrStop })
	}()
	time.Sleep(100 * time.Millisecond)
	appendN(t, l, 0, 1)
	if err := l.Append(New(Container, "die", "x", map[string]string{"exitCode": "0"})); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Read with ErrStop = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not stop at the matching event")
	}
}

func TestTornLineIsSkipped(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "events"), nil)
	appendN(t, l, 0, 1)
	f, err := os.OpenFile(l.segmentPath(1), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"Type":"container","Act`) // a writer killed mid-line
	f.Close()
	appendN(t, l, 1, 1)
	if got := window(t, l, Query{}); fmt.Sprint(ids(got)) != "[c000 c001]" {
		t.Errorf("window around a torn line = %v", ids(got))
	}
}

// BenchmarkAppend is the cost one event adds to a command: lock, list, append, unlock.
func BenchmarkAppend(b *testing.B) {
	l := Open(filepath.Join(b.TempDir(), "events"), nil)
	attrs := map[string]string{"name": "web", "image": "docker.io/library/busybox:latest", "app": "shop"}
	for b.Loop() {
		if err := l.Append(New(Container, "start", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", attrs)); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFollowEndsWhenLogRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "events")
	l := Open(dir, nil)
	appendN(t, l, 0, 1)
	errc := make(chan error, 1)
	go func() { errc <- l.Read(context.Background(), Query{Follow: true}, func(*Event) error { return nil }) }()
	time.Sleep(100 * time.Millisecond)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrRemoved) {
			t.Errorf("follow of a removed log = %v, want ErrRemoved", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow of a removed log never ended")
	}
}
