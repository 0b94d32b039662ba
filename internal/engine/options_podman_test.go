package engine

import (
	"reflect"
	"testing"
)

func TestParseVolumeMountFlags(t *testing.T) {
	tests := []struct {
		name, spec string
		want       Mount
		wantErr    bool
	}{
		{"noexec", "v:/vol:noexec,z", Mount{Type: "volume", Source: "v", Target: "/vol", Options: []string{"noexec"}}, false},
		{"ro and nodev", "/h:/c:ro,nodev,nosuid", Mount{Type: "bind", Source: "/h", Target: "/c", ReadOnly: true, Options: []string{"nodev", "nosuid"}}, false},
		{"unknown", "v:/vol:sometimes", Mount{}, true},
	}
	for _, tc := range tests {
		got, err := ParseVolume(tc.spec)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: ParseVolume(%q) = %+v, want an error", tc.name, tc.spec, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: ParseVolume(%q) = %+v, %v, want %+v", tc.name, tc.spec, got, err, tc.want)
		}
	}
}

func TestParseThrottle(t *testing.T) {
	tests := []struct {
		kind, v string
		want    ThrottleDevice
		wantErr bool
	}{
		{"rbps", "/dev/sda:1M", ThrottleDevice{Path: "/dev/sda", Kind: "rbps", Rate: 1 << 20}, false},
		{"wiops", "/dev/sda:100", ThrottleDevice{Path: "/dev/sda", Kind: "wiops", Rate: 100}, false},
		{"riops", "/dev/sda:1M", ThrottleDevice{}, true},
		{"rbps", "/dev/sda", ThrottleDevice{}, true},
		{"rbps", "sda:1M", ThrottleDevice{}, true},
	}
	for _, tc := range tests {
		got, err := ParseThrottle(tc.kind, tc.v)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("ParseThrottle(%q, %q) = %+v, %v; want %+v (error %v)", tc.kind, tc.v, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestSystemdMode(t *testing.T) {
	tests := []struct {
		mode string
		args []string
		want bool
	}{
		{"true", []string{"/sbin/init"}, true},
		{"true", []string{"/usr/lib/systemd/systemd"}, true},
		{"true", []string{"sh"}, false},
		{"always", []string{"sh"}, true},
		{"false", []string{"/sbin/init"}, false},
		{"", nil, false},
	}
	for _, tc := range tests {
		if got := SystemdMode(tc.mode, tc.args); got != tc.want {
			t.Errorf("SystemdMode(%q, %q) = %v, want %v", tc.mode, tc.args, got, tc.want)
		}
	}
}
