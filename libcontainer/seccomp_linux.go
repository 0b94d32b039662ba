package libcontainer

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
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

// buildSeccomp compiles the spec's filter; loading it is the last step before exec.
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
	if s.ListenerPath != "" {
		return nil, fmt.Errorf("linux.seccomp.listenerPath: seccomp notification is not supported")
	}
	for _, fl := range s.Flags {
		var err error
		switch fl {
		case specs.LinuxSeccompFlagLog:
			err = f.SetLogBit(true)
		case specs.LinuxSeccompFlagSpecAllow:
			err = f.SetSSB(true)
		case specs.LinuxSeccompFlagWaitKillableRecv:
			err = f.SetWaitKill(true)
		case "SECCOMP_FILTER_FLAG_TSYNC":
			// libseccomp synchronises every thread whenever it loads a filter.
		default:
			return nil, fmt.Errorf("linux.seccomp.flags: unknown flag %q", fl)
		}
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.flags %s: %w", fl, err)
		}
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
