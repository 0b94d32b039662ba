package cdi

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseGPUs(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		err      string
	}{
		{"all", "all", []string{"nvidia.com/gpu=all"}, ""},
		{"count", "2", []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}, ""},
		{"count key", `count=1,"capabilities=compute,utility"`, []string{"nvidia.com/gpu=0"}, ""},
		{"count all", "count=all", []string{"nvidia.com/gpu=all"}, ""},
		{"quoted devices", `"device=0,2"`, []string{"nvidia.com/gpu=0", "nvidia.com/gpu=2"}, ""},
		{"uuid", "device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a", []string{"nvidia.com/gpu=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a"}, ""},
		{"driver", "driver=nvidia,all", []string{"nvidia.com/gpu=all"}, ""},
		{"other driver", "driver=amd,all", nil, "only the nvidia driver"},
		{"zero", "0", nil, "not all or a positive number"},
		{"word", "lots", nil, "not all or a positive number"},
		{"both", `count=1,"device=0"`, nil, "both count and device"},
		{"unknown key", "colour=red", nil, `unknown option "colour"`},
		{"empty", "", nil, "invalid --gpus"},
		{"bare among keys", "driver=nvidia,foo", nil, "is not key=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseGPUs(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseGPUs(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseGPUs(%q): %v", tc.in, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ParseGPUs(%q) mismatch (-want +got):\n%s", tc.in, d)
			}
		})
	}
}

func FuzzParseGPUs(f *testing.F) {
	for _, s := range []string{"all", "2", `"device=0,1"`, "count=1,capabilities=compute"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		devs, err := ParseGPUs(s)
		if err == nil && len(devs) == 0 {
			t.Fatalf("ParseGPUs(%q) gave no devices and no error", s)
		}
	})
}
