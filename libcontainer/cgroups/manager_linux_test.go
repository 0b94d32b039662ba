package cgroups

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000, 0: 1} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestDeviceRule(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	cases := map[string]specs.LinuxDeviceCgroup{
		"a *:* rwm":  {Allow: false},
		"c 1:3 rwm":  {Type: "c", Major: n(1), Minor: n(3), Access: "rwm"},
		"c 136:* rw": {Type: "c", Major: n(136), Minor: n(-1), Access: "rw"},
		"b *:* m":    {Type: "b", Access: "m"},
	}
	for want, r := range cases {
		if got := DeviceRule(r); got != want {
			t.Errorf("DeviceRule(%+v) = %q, want %q", r, got, want)
		}
	}
}

func TestNewRejectsRelativePaths(t *testing.T) {
	for _, p := range []string{"relative", "/a/../../etc"} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%q) accepted", p)
		}
	}
}
