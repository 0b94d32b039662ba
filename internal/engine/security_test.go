package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestParseSecurityOpt(t *testing.T) {
	cases := []struct {
		in      string
		want    SecurityOpt
		wantErr string
	}{
		{in: "no-new-privileges", want: SecurityOpt{"no-new-privileges", "true"}},
		{in: "no-new-privileges:true", want: SecurityOpt{"no-new-privileges", "true"}},
		{in: "no-new-privileges=false", want: SecurityOpt{"no-new-privileges", "false"}},
		{in: "seccomp=unconfined", want: SecurityOpt{"seccomp", "unconfined"}},
		{in: "seccomp:/etc/p.json", want: SecurityOpt{"seccomp", "/etc/p.json"}},
		{in: "seccomp=./a=b.json", want: SecurityOpt{"seccomp", "./a=b.json"}},
		{in: "label=disable", want: SecurityOpt{"label", "disable"}},
		{in: "apparmor=unconfined", want: SecurityOpt{"apparmor", "unconfined"}},
		{in: "no-new-privileges=yes", wantErr: `invalid --security-opt "no-new-privileges=yes": no-new-privileges takes true or false`},
		{in: "seccomp", wantErr: `invalid --security-opt "seccomp": want seccomp=unconfined or seccomp=PROFILE.json`},
		{in: "seccomp=", wantErr: "want seccomp=unconfined"},
		{in: "label", wantErr: "label needs a value"},
		{in: "privileged", wantErr: `invalid --security-opt "privileged": want no-new-privileges`},
		{in: "", wantErr: `invalid --security-opt ""`},
	}
	for _, c := range cases {
		got, err := ParseSecurityOpt(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("ParseSecurityOpt(%q) = %v, %v; want an invalid-input error with %q", c.in, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseSecurityOpt(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestValidateSeccompProfile(t *testing.T) {
	cases := []struct {
		name, profile, wantErr string
	}{
		{"oci profile", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}`, ""},
		{"docker profile with conditions", `{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],
			"syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}],
			"excludes":{"caps":["CAP_SYS_ADMIN"]}},{"name":"read","action":"SCMP_ACT_ALLOW"}]}`, ""},
		{"not json", `{"defaultAction":`, "decoding seccomp profile failed"},
		{"no default action", `{"syscalls":[]}`, "defaultAction is missing"},
		{"bad default action", `{"defaultAction":"SCMP_ACT_MAYBE"}`, `unknown defaultAction "SCMP_ACT_MAYBE"`},
		{"bad action", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"ALLOW"}]}`, `syscalls[0]: unknown action "ALLOW"`},
		{"bad operator", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"op":"EQ"}]}]}`, `unknown operator "EQ"`},
		{"argument past the sixth", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"op":"SCMP_CMP_EQ"}]}]}`, "argument index 6"},
		{"name and names", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ERRNO"}]}`, "both name and names"},
		{"no names", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}`, "names no system call"},
		{"null rule", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[null]}`, "syscalls[0] is null"},
		{"both arch lists", `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}`, "both architectures and archMap"},
	}
	for _, c := range cases {
		err := ValidateSeccompProfile([]byte(c.profile))
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: ValidateSeccompProfile = %v, want nil", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: ValidateSeccompProfile = %v, want %q", c.name, err, c.wantErr)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("%s: multi-line error %q", c.name, err)
		}
	}
}

func TestParseCgroupNS(t *testing.T) {
	for in, ok := range map[string]bool{"": true, "private": true, "host": true, "container:x": false, "Host": false} {
		if _, err := ParseCgroupNS(in); (err == nil) != ok {
			t.Errorf("ParseCgroupNS(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

// FuzzParseSecurityOpt: any --security-opt is accepted with a known key or refused with one
// line naming it.
func FuzzParseSecurityOpt(f *testing.F) {
	for _, s := range []string{"no-new-privileges", "seccomp=unconfined", "seccomp:/p.json", "label=disable", "x=y", ":", "=", "seccomp=\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		opt, err := ParseSecurityOpt(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.HasPrefix(err.Error(), "invalid --security-opt ") {
				t.Errorf("ParseSecurityOpt(%q): error %q", s, err)
			}
			return
		}
		switch opt.Key {
		case "no-new-privileges":
			if opt.Value != "true" && opt.Value != "false" {
				t.Errorf("ParseSecurityOpt(%q) = %+v", s, opt)
			}
		case "seccomp", "label", "apparmor":
			if opt.Value == "" {
				t.Errorf("ParseSecurityOpt(%q) = %+v: empty value", s, opt)
			}
		default:
			t.Errorf("ParseSecurityOpt(%q) = unknown key %q", s, opt.Key)
		}
	})
}

// FuzzValidateSeccompProfile: any bytes are a valid profile or an invalid-input error, never a
// panic.
func FuzzValidateSeccompProfile(f *testing.F) {
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"clone","action":"SCMP_ACT_ALLOW","args":[{"index":0,"op":"SCMP_CMP_MASKED_EQ"}],"includes":{"minKernel":"4.8"}}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[null]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := ValidateSeccompProfile(data); err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ValidateSeccompProfile(%q): %v is not an invalid-input error", data, err)
		}
	})
}

// FuzzParseDevice: a --device is a host path, a container path and rwm permissions, or an
// invalid-input error.
func FuzzParseDevice(f *testing.F) {
	for _, s := range []string{"/dev/fuse", "/dev/sda:/dev/xvda:rwm", "/dev/a:r", "/dev/a:/b", "a:b:c:d", "", ":::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDevice(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("ParseDevice(%q): %v is not an invalid-input error", s, err)
			}
			return
		}
		if !strings.HasPrefix(d.PathOnHost, "/") || !strings.HasPrefix(d.PathInContainer, "/") || d.CgroupPermissions == "" ||
			strings.Trim(d.CgroupPermissions, "rwm") != "" {
			t.Errorf("ParseDevice(%q) = %+v", s, d)
		}
	})
}
