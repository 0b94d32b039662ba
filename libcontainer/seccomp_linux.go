package libcontainer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func seccompAction(a specs.LinuxSeccompAction, errno *uint) (libseccomp.ScmpAction, error) {
	ret := int16(1) // EPERM
	if errno != nil {
		ret = int16(*errno)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(ret), nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	}
	return 0, fmt.Errorf("linux.seccomp: unknown action %q", a)
}

var seccompOps = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual: libseccomp.CompareNotEqual, specs.OpLessThan: libseccomp.CompareLess,
	specs.OpLessEqual: libseccomp.CompareLessOrEqual, specs.OpEqualTo: libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual, specs.OpGreaterThan: libseccomp.CompareGreater,
	specs.OpMaskedEqual: libseccomp.CompareMaskedEqual,
}

// buildSeccomp turns the spec's filter into libseccomp's rules (seccompFlags holds what the
// kernel is told at load).
func buildSeccomp(s *specs.LinuxSeccomp) (*libseccomp.ScmpFilter, error) {
	def, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	for _, a := range s.Architectures {
		arch, err := libseccomp.GetArchFromString(archName(string(a)))
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.architectures: %q: %w", a, err)
		}
		if err := f.AddArch(arch); err != nil {
			return nil, fmt.Errorf("seccomp arch %s: %w", a, err)
		}
	}
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, err
	}
	if _, err := seccompFlags(s); err != nil {
		return nil, err
	}
	for i, rule := range s.Syscalls {
		act, err := seccompAction(rule.Action, rule.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err)
		}
		if act == def {
			continue
		}
		var conds []libseccomp.ScmpCondition
		for _, a := range rule.Args {
			op, ok := seccompOps[a.Op]
			if !ok {
				return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: unknown operator %q", i, a.Op)
			}
			c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
			if err != nil {
				return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err)
			}
			conds = append(conds, c)
		}
		for _, name := range rule.Names {
			sc, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // unknown on this kernel/arch: skip, as runc does
			}
			if len(conds) == 0 {
				err = f.AddRule(sc, act)
			} else if err = f.AddRuleConditional(sc, act, conds); err != nil && len(conds) > 1 {
				// libseccomp refuses several conditions on one argument: add them one by one.
				for _, c := range conds {
					if err = f.AddRuleConditional(sc, act, []libseccomp.ScmpCondition{c}); err != nil {
						break
					}
				}
			}
			if err != nil {
				return nil, fmt.Errorf("seccomp rule %s: %w", name, err)
			}
		}
	}
	return f, nil
}

func archName(a string) string {
	m := map[string]string{"SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_X32": "x32",
		"SCMP_ARCH_ARM": "arm", "SCMP_ARCH_AARCH64": "arm64", "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_S390X": "s390x",
		"SCMP_ARCH_RISCV64": "riscv64", "SCMP_ARCH_MIPS64": "mips64", "SCMP_ARCH_PPC64": "ppc64", "SCMP_ARCH_S390": "s390"}
	if n, ok := m[a]; ok {
		return n
	}
	return a
}

// seccompFlags are the seccomp(2) flags the spec asks for.
func seccompFlags(s *specs.LinuxSeccomp) (uint, error) {
	if s.ListenerPath != "" {
		return 0, fmt.Errorf("linux.seccomp.listenerPath: seccomp notification is not supported")
	}
	var flags uint
	for _, fl := range s.Flags {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv, "SECCOMP_FILTER_FLAG_TSYNC":
			// Without a listener there is nothing to wait for; every filter is loaded with TSYNC.
		default:
			return 0, fmt.Errorf("linux.seccomp.flags: unknown flag %q", fl)
		}
	}
	return flags, nil
}

// seccompProgram is a compiled filter: classic BPF as the kernel takes it, and the flags to
// load it with. The runtime compiles (or finds) it and hands it to the process that loads it.
type seccompProgram struct {
	Filter []byte `json:"filter"`
	Flags  uint   `json:"flags,omitempty"`
}

// seccompProgram compiles s, or reads the program compiled for an identical profile before
// from the runtime's cache: libseccomp takes tens of milliseconds for Docker's default profile,
// which every container start and exec would otherwise pay. The key covers the profile, the
// architecture and libseccomp's version; the file is written under a temporary name, then
// renamed, so a reader never sees half a program.
func (r *Runtime) seccompProgram(s *specs.LinuxSeccomp) (*seccompProgram, error) {
	if s == nil {
		return nil, nil
	}
	flags, err := seccompFlags(s)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	major, minor, micro := libseccomp.GetLibraryVersion()
	sum := sha256.Sum256(fmt.Appendf(js, "\x00%s libseccomp %d.%d.%d", goruntime.GOARCH, major, minor, micro))
	dir := filepath.Join(r.Root, ".seccomp")
	path := filepath.Join(dir, hex.EncodeToString(sum[:16])+".bpf")
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 && len(b)%8 == 0 {
		return &seccompProgram{Filter: b, Flags: flags}, nil
	}
	f, err := buildSeccomp(s)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		dir = "" // not cached: compile into a temporary file and drop it
	}
	tmp, err := os.CreateTemp(dir, ".bpf-")
	if err != nil {
		return nil, fmt.Errorf("compile seccomp filter: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := f.ExportBPF(tmp); err != nil {
		return nil, fmt.Errorf("compile seccomp filter: %w", err)
	}
	b, err := os.ReadFile(tmp.Name())
	if err != nil || len(b) == 0 || len(b)%8 != 0 {
		return nil, fmt.Errorf("compile seccomp filter: %d bytes, %v", len(b), err)
	}
	if dir != "" {
		_ = os.Rename(tmp.Name(), path)
	}
	return &seccompProgram{Filter: b, Flags: flags}, nil
}

// load installs the filter on every thread of the process (TSYNC: the Go runtime may run the
// exec that follows on another thread). Without no_new_privs it needs CAP_SYS_ADMIN.
func (p *seccompProgram) load() error {
	if p == nil {
		return nil
	}
	n := len(p.Filter) / 8
	if n == 0 || n > 0xffff {
		return fmt.Errorf("load seccomp: a filter of %d instructions", n)
	}
	insns := make([]unix.SockFilter, n)
	for i := range insns {
		b := p.Filter[i*8:]
		insns[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	prog := unix.SockFprog{Len: uint16(n), Filter: &insns[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(p.Flags|unix.SECCOMP_FILTER_FLAG_TSYNC),
		uintptr(unsafe.Pointer(&prog)))
	goruntime.KeepAlive(insns)
	if errno != 0 {
		return fmt.Errorf("load seccomp: %w", errno)
	}
	if r != 0 {
		return fmt.Errorf("load seccomp: thread %d could not take the filter", r)
	}
	return nil
}
