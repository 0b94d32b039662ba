package libcontainer

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestBuildSeccomp(t *testing.T) {
	eperm := uint(1)
	rule := []specs.LinuxSyscall{{Names: []string{"mkdir", "no_such_syscall"}, Action: specs.ActErrno, ErrnoRet: &eperm},
		{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}}}
	cases := []struct {
		name    string
		s       specs.LinuxSeccomp
		wantErr string
	}{
		{"allow-list with conditions", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86}, Syscalls: rule}, ""},
		{"flags", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rule,
			Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC"}}, ""},
		{"unknown flag", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_X"}},
			`linux.seccomp.flags: unknown flag "SECCOMP_FILTER_FLAG_X"`},
		{"listener", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/x.sock"}, "seccomp notification is not supported"},
		{"unknown action", specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, `unknown action "SCMP_ACT_NOPE"`},
		{"unknown operator", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"},
			Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: "EQ"}}}}}, `unknown operator "EQ"`},
	}
	for _, c := range cases {
		f, err := buildSeccomp(&c.s)
		if f != nil {
			f.Release()
		}
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: buildSeccomp = %v, want error %q", c.name, err, c.wantErr)
		}
	}
}
