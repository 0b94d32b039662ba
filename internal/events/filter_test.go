package events

import (
	"testing"
	"time"
)

func TestFilterMatch(t *testing.T) {
	ctr := New(Container, "start", "abc123", map[string]string{"name": "web", "image": "busybox:1.36", "app": "shop"})
	health := New(Container, "health_status: healthy", "abc123", map[string]string{"name": "web", "image": "busybox"})
	exec := New(Container, "exec_start: sh -c true", "abc123", map[string]string{"name": "web", "execID": "e1"})
	img := New(Image, "tag", "sha256:ffee", map[string]string{"name": "registry:5000/app:v1"})
	vol := New(Volume, "create", "data", map[string]string{"driver": "local"})
	net := New(Network, "connect", "n0123", map[string]string{"name": "front", "container": "abc123"})
	pod := New(Pod, "create", "p999", map[string]string{"name": "mypod"})
	inPod := New(Container, "create", "c777", map[string]string{"name": "side", "pod": "p999"})
	tests := []struct {
		name   string
		filter []string
		ev     *Event
		want   bool
	}{
		{"no filter", nil, ctr, true},
		{"type", []string{"type=container"}, ctr, true},
		{"other type", []string{"type=image"}, ctr, false},
		{"same key ORs", []string{"type=image", "type=container"}, ctr, true},
		{"keys AND", []string{"type=container", "event=stop"}, ctr, false},
		{"event", []string{"event=start"}, ctr, true},
		{"event prefix is not a match", []string{"event=sta"}, ctr, false},
		{"health_status fuzzy", []string{"event=health_status"}, health, true},
		{"health_status exact", []string{"event=health_status: healthy"}, health, true},
		{"exec_start fuzzy", []string{"event=exec_start"}, exec, true},
		{"health_status key", []string{"health_status=healthy"}, health, true},
		{"health_status key other", []string{"health_status=unhealthy"}, health, false},
		{"health_status key on start", []string{"health_status=healthy"}, ctr, false},
		{"container by name", []string{"container=web"}, ctr, true},
		{"container by id prefix", []string{"container=abc"}, ctr, true},
		{"container other", []string{"container=db"}, ctr, false},
		{"container filter drops image events", []string{"container=web"}, img, false},
		{"image of a container", []string{"image=busybox:1.36"}, ctr, true},
		{"image of a container untagged", []string{"image=busybox"}, ctr, true},
		{"image event by name", []string{"image=registry:5000/app"}, img, true},
		{"image event by id", []string{"image=sha256:ffee"}, img, true},
		{"image sha256 is not a name", []string{"image=sha256"}, img, false},
		{"image other", []string{"image=alpine"}, ctr, false},
		{"volume", []string{"volume=data"}, vol, true},
		{"volume drops containers", []string{"volume=data"}, ctr, false},
		{"network by name", []string{"network=front"}, net, true},
		{"pod event", []string{"pod=mypod"}, pod, true},
		{"pod's container", []string{"pod=p999"}, inPod, true},
		{"pod drops others", []string{"pod=p999"}, ctr, false},
		{"label key", []string{"label=app"}, ctr, true},
		{"label value", []string{"label=app=shop"}, ctr, true},
		{"label wrong value", []string{"label=app=bank"}, ctr, false},
		{"labels AND", []string{"label=app=shop", "label=tier"}, ctr, false},
		{"scope", []string{"scope=local"}, ctr, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tt.filter, err)
			}
			if got := f.Match(tt.ev); got != tt.want {
				t.Errorf("Filter %q Match(%s) = %v, want %v", tt.filter, tt.ev, got, tt.want)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, in := range []string{"container", "=x", "colour=red"} {
		if _, err := ParseFilter([]string{in}); err == nil {
			t.Errorf("ParseFilter(%q) accepted it", in)
		}
	}
}

func TestNewFilter(t *testing.T) {
	f, err := NewFilter(map[string][]string{"type": {"container"}, "event": {"die", "stop"}})
	if err != nil {
		t.Fatalf("NewFilter: %v", err)
	}
	if got := f.String(); got != "event=die,event=stop,type=container" {
		t.Errorf("NewFilter(...).String() = %q", got)
	}
	if _, err := NewFilter(map[string][]string{"colour": {"red"}}); err == nil {
		t.Errorf("NewFilter accepted an unknown key")
	}
}

func TestParseBound(t *testing.T) {
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Time
		cursor string
		bad    bool
	}{
		{in: "10m", want: now.Add(-10 * time.Minute)},
		{in: "1h30m", want: now.Add(-90 * time.Minute)},
		{in: "1700000000", want: time.Unix(1700000000, 0)},
		{in: "1700000000.5", want: time.Unix(1700000000, 500000000)},
		{in: "2026-03-04T09:00:00Z", want: now.Add(-time.Hour)},
		{in: "2026-03-04T09:00:00.25Z", want: now.Add(-time.Hour + 250*time.Millisecond)},
		{in: "2026-03-04T11:00:00+02:00", want: now.Add(-time.Hour)},
		{in: "2026-03-04T09:00", want: now.Add(-time.Hour)},
		{in: "2026-03-04", want: now.Add(-10 * time.Hour)},
		{in: "3:1024", cursor: "3:1024"},
		{in: "yesterday", bad: true},
		{in: "0:5", bad: true},
		{in: "2026-13-01", bad: true},
	}
	for _, tt := range tests {
		b, err := ParseBound(tt.in, now)
		switch {
		case tt.bad:
			if err == nil {
				t.Errorf("ParseBound(%q) = %+v, want an error", tt.in, b)
			}
		case err != nil:
			t.Errorf("ParseBound(%q): %v", tt.in, err)
		case tt.cursor != "":
			if b.Cursor == nil || b.Cursor.String() != tt.cursor {
				t.Errorf("ParseBound(%q) = %+v, want cursor %s", tt.in, b, tt.cursor)
			}
		case !b.Time.Equal(tt.want):
			t.Errorf("ParseBound(%q) = %v, want %v", tt.in, b.Time, tt.want)
		}
	}
}

func TestEventString(t *testing.T) {
	ev := New(Container, "die", "abc", map[string]string{"name": "web", "exitCode": "3"})
	ev.TimeNano = time.Date(2026, 1, 2, 3, 4, 5, 6, time.Local).UnixNano()
	want := time.Unix(0, ev.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00") + " container die abc (exitCode=3, name=web)"
	if got := ev.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
