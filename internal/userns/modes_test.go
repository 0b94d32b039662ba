package userns

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMode(t *testing.T) {
	for _, c := range []struct {
		in       string
		want     Mode
		wantFail bool
	}{
		{in: "", want: Mode{UID: -1, GID: -1}},
		{in: "host", want: Mode{Kind: ModeHost, UID: -1, GID: -1}},
		{in: "keep-id", want: Mode{Kind: ModeKeepID, UID: -1, GID: -1}},
		{in: "keep-id:uid=1000,gid=100", want: Mode{Kind: ModeKeepID, UID: 1000, GID: 100}},
		{in: "nomap", want: Mode{Kind: ModeNoMap, UID: -1, GID: -1}},
		{in: "auto", want: Mode{Kind: ModeAuto, UID: -1, GID: -1, Size: DefaultAutoSize}},
		{in: "auto:size=500", want: Mode{Kind: ModeAuto, UID: -1, GID: -1, Size: 500}},
		{in: "keep-id:size=5", wantFail: true},
		{in: "keep-id:uid=x", wantFail: true},
		{in: "auto:size=0", wantFail: true},
		{in: "auto:uid=1", wantFail: true},
		{in: "nomap:x=1", wantFail: true},
		{in: "private", wantFail: true},
	} {
		got, err := ParseMode(c.in)
		if (err != nil) != c.wantFail || (!c.wantFail && got != c.want) {
			t.Errorf("ParseMode(%q) = %+v, %v", c.in, got, err)
		}
	}
}

func TestParseIDMap(t *testing.T) {
	if got, err := ParseIDMap("0:100000:65536"); err != nil || got != (IDMap{0, 100000, 65536}) {
		t.Errorf("ParseIDMap = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "0:1", "0:1:0", "a:1:2", "0:-1:2", "0:1:2:3"} {
		if _, err := ParseIDMap(bad); err == nil {
			t.Errorf("ParseIDMap(%q): no error", bad)
		}
	}
	if err := CheckMaps([]IDMap{{0, 1, 10}, {10, 11, 5}}); err != nil {
		t.Errorf("CheckMaps of disjoint maps: %v", err)
	}
	if err := CheckMaps([]IDMap{{0, 1, 10}, {5, 100, 5}}); err == nil {
		t.Error("CheckMaps: container ranges overlap, no error")
	}
	if err := CheckMaps([]IDMap{{0, 1, 10}, {20, 5, 5}}); err == nil {
		t.Error("CheckMaps: host ranges overlap, no error")
	}
}

func TestKeepIDAndNoMap(t *testing.T) {
	for _, c := range []struct {
		id, n int
		want  []IDMap
	}{
		{1000, 65537, []IDMap{{0, 1, 1000}, {1000, 0, 1}, {1001, 1001, 64536}}},
		{0, 65537, []IDMap{{0, 0, 1}, {1, 1, 65536}}},
		{65536, 65537, []IDMap{{0, 1, 65536}, {65536, 0, 1}}},
	} {
		if got := KeepIDMaps(c.id, c.n); !cmp.Equal(got, c.want) {
			t.Errorf("KeepIDMaps(%d, %d) = %v, want %v", c.id, c.n, got, c.want)
		}
	}
	if got := NoMapMaps(65537); !cmp.Equal(got, []IDMap{{0, 1, 65536}}) {
		t.Errorf("NoMapMaps = %v", got)
	}
}

func TestAutoRange(t *testing.T) {
	space := Range{Start: 1, Count: 4096}
	for _, c := range []struct {
		name     string
		size     int
		used     []IDMap
		want     IDMap
		wantFail bool
	}{
		{"empty", 1024, nil, IDMap{0, 1, 1024}, false},
		{"after one", 1024, []IDMap{{0, 1, 1024}}, IDMap{0, 1025, 1024}, false},
		{"a hole", 1024, []IDMap{{0, 2049, 1024}, {0, 1, 1024}}, IDMap{0, 1025, 1024}, false},
		{"hole too small", 1024, []IDMap{{0, 1, 1024}, {0, 1500, 1024}}, IDMap{0, 2524, 1024}, false},
		{"full", 1024, []IDMap{{0, 1, 4000}}, IDMap{}, true},
	} {
		got, err := AutoRange(c.size, space, c.used)
		if (err != nil) != c.wantFail || got != c.want {
			t.Errorf("%s: AutoRange = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}
