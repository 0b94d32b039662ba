package libcontainer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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

// TestSeccompProgramCache: the compiled program is kept under the runtime root and read back
// for an identical profile; a different profile or flags get their own.
func TestSeccompProgramCache(t *testing.T) {
	r := &Runtime{Root: t.TempDir()}
	eperm := uint(1)
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: &eperm}}}
	first, err := r.seccompProgram(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Filter) == 0 || len(first.Filter)%8 != 0 {
		t.Fatalf("program of %d bytes", len(first.Filter))
	}
	cached, _ := filepath.Glob(filepath.Join(r.Root, ".seccomp", "*.bpf"))
	if len(cached) != 1 {
		t.Fatalf("cache holds %v, want one program", cached)
	}
	// A forged cache entry is what a second start loads: proof that it reads the cache.
	// (Flags are part of the key, like the rules.)
	os.WriteFile(cached[0], make([]byte, 16), 0o600)
	again, err := r.seccompProgram(s)
	if err != nil || len(again.Filter) != 16 {
		t.Errorf("second compile: %d bytes, %v; want the cached 16", len(again.Filter), err)
	}
	s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}
	logged, err := r.seccompProgram(s)
	if err != nil || logged.Flags != unix.SECCOMP_FILTER_FLAG_LOG {
		t.Errorf("flags: %+v, %v", logged, err)
	}
	s.Syscalls[0].Names = []string{"rmdir"}
	other, err := r.seccompProgram(s)
	if err != nil || len(other.Filter) == 16 {
		t.Errorf("another profile: %d bytes, %v; want its own program", len(other.Filter), err)
	}
	if p, err := r.seccompProgram(nil); p != nil || err != nil {
		t.Errorf("no profile: %v, %v", p, err)
	}
	if _, err := r.seccompProgram(&specs.LinuxSeccomp{DefaultAction: "nope"}); err == nil {
		t.Error("a bad profile compiled")
	}
}
