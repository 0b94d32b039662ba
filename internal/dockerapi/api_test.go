package dockerapi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"1.43", "1.44", true},
		{"1.44", "1.44", false},
		{"1.51", "1.44", false},
		{"1.9", "1.44", true},
		{"2.0", "1.44", false},
		{"0.99", "1.44", true},
	}
	for _, tt := range tests {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("versionLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{errdefs.Newf(errdefs.ErrNotFound, "no such container"), 404},
		{fmt.Errorf("start: %w", errdefs.Newf(errdefs.ErrConflict, "running")), 409},
		{errdefs.Newf(errdefs.ErrExists, "name in use"), 409},
		{errdefs.Newf(errdefs.ErrInUse, "volume in use"), 409},
		{errdefs.Newf(errdefs.ErrInvalid, "bad"), 400},
		{errdefs.Newf(errdefs.ErrNotSupported, "no"), 501},
		{errors.New("disk on fire"), 500},
	}
	for _, tt := range tests {
		if got := statusOf(tt.err); got != tt.want {
			t.Errorf("statusOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestFiltersQuery(t *testing.T) {
	tests := []struct {
		name, raw string
		want      map[string][]string
		wantErr   bool
	}{
		{"none", "", map[string][]string{}, false},
		{"lists", `{"label":["a=b","c"],"status":["running"]}`, map[string][]string{"label": {"a=b", "c"}, "status": {"running"}}, false},
		{"old map form", `{"name":{"web":true,"db":false}}`, map[string][]string{"name": {"web"}}, false},
		{"not JSON", `{label}`, nil, true},
		{"wrong shape", `{"label":"x"}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/containers/json?filters="+url.QueryEscape(tt.raw), nil)
			got, err := filtersQuery(r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("filtersQuery(%q) error %v, want error %v", tt.raw, err, tt.wantErr)
			}
			if err == nil {
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("filtersQuery(%q) (-want +got):\n%s", tt.raw, d)
				}
			}
		})
	}
}

// TestMuxFrames checks the multiplexed stream's framing: [stream 0 0 0 size(BE32)] payload.
func TestMuxFrames(t *testing.T) {
	var buf bytes.Buffer
	stdout, stderr := outputs(&buf, false, nil)
	stdout.Write([]byte("out\n"))
	stderr.Write([]byte("error!\n"))
	stdout.Write(nil) // no empty frame
	var got []string
	b := buf.Bytes()
	for len(b) > 0 {
		if len(b) < 8 {
			t.Fatalf("short header: %v", b)
		}
		n := binary.BigEndian.Uint32(b[4:8])
		got = append(got, fmt.Sprintf("%d:%s", b[0], b[8:8+n]))
		b = b[8+n:]
	}
	if d := cmp.Diff([]string{"1:out\n", "2:error!\n"}, got); d != "" {
		t.Errorf("frames (-want +got):\n%s", d)
	}
	buf.Reset()
	stdout, stderr = outputs(&buf, true, nil)
	stdout.Write([]byte("a"))
	stderr.Write([]byte("b"))
	if buf.String() != "ab" {
		t.Errorf("tty output %q, want raw \"ab\"", buf.String())
	}
}

func TestUnixQuery(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"0", time.Time{}, false},
		{"1700000000", time.Unix(1700000000, 0), false},
		{"1700000000.5", time.Unix(1700000000, 500000000), false},
		{"1700000000.000000001", time.Unix(1700000000, 1), false},
		{"yesterday", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := unixQuery(tt.in)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("unixQuery(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSplitVerb(t *testing.T) {
	tests := []struct{ in, name, verb string }{
		{"busybox/json", "busybox", "json"},
		{"127.0.0.1:5000/a/b:1/push", "127.0.0.1:5000/a/b:1", "push"},
		{"sha256:abc/history", "sha256:abc", "history"},
		{"busybox", "busybox", ""},
	}
	for _, tt := range tests {
		if n, v := splitVerb(tt.in); n != tt.name || v != tt.verb {
			t.Errorf("splitVerb(%q) = %q, %q; want %q, %q", tt.in, n, v, tt.name, tt.verb)
		}
	}
}

// TestUnservedAnswers501 checks the router without an engine: unknown paths and methods get
// Docker's JSON error with 501, and a version prefix below the minimum a 400.
func TestUnservedAnswers501(t *testing.T) {
	s := New(nil)
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/v1.51/swarm", 501},
		{"POST", "/plugins/pull", 501},
		{"PUT", "/containers/create", 501},
		{"GET", "/v1.12/containers/json", 400},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.want || w.Header().Get("Content-Type") != "application/json" || !bytes.Contains(w.Body.Bytes(), []byte(`"message"`)) {
			t.Errorf("%s %s: %d %q %s, want %d with a JSON message", tt.method, tt.path, w.Code, w.Header().Get("Content-Type"), w.Body, tt.want)
		}
		if tt.want == 501 && w.Header().Get("Api-Version") != Version {
			t.Errorf("%s %s: Api-Version %q", tt.method, tt.path, w.Header().Get("Api-Version"))
		}
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/v1.44/_ping", nil))
	if w.Code != http.StatusOK || w.Body.String() != "OK" {
		t.Errorf("GET /v1.44/_ping: %d %q", w.Code, w.Body)
	}
}
