package engine

import (
	"encoding/json"
	"strings"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// SecurityOpt is one --security-opt KEY[=VALUE] (Docker also takes KEY:VALUE).
type SecurityOpt struct {
	Key   string // no-new-privileges, seccomp, label, apparmor
	Value string // no-new-privileges: "true" or "false"; seccomp: "unconfined" or a profile's path
}

// ParseSecurityOpt parses one --security-opt. SELinux labels and AppArmor profiles are
// accepted and have no effect, as on a host without those LSMs.
func ParseSecurityOpt(spec string) (SecurityOpt, error) {
	bad := func(why string) (SecurityOpt, error) {
		return SecurityOpt{}, errdefs.Newf(errdefs.ErrInvalid, "invalid --security-opt %q: %s", spec, why)
	}
	sep := strings.IndexAny(spec, "=:")
	key, value, hasValue := spec, "", sep >= 0
	if hasValue {
		key, value = spec[:sep], spec[sep+1:]
	}
	switch key {
	case "no-new-privileges":
		switch {
		case !hasValue:
			value = "true"
		case value != "true" && value != "false":
			return bad("no-new-privileges takes true or false")
		}
	case "seccomp":
		if value == "" {
			return bad("want seccomp=unconfined or seccomp=PROFILE.json")
		}
	case "label", "apparmor":
		if value == "" {
			return bad(key + " needs a value")
		}
	default:
		return bad("want no-new-privileges, seccomp=unconfined, seccomp=PROFILE.json, label=... or apparmor=...")
	}
	return SecurityOpt{Key: key, Value: value}, nil
}

// seccompActions are the actions a profile may name.
var seccompActions = map[specs.LinuxSeccompAction]bool{specs.ActKill: true, specs.ActKillProcess: true,
	specs.ActKillThread: true, specs.ActTrap: true, specs.ActErrno: true, specs.ActTrace: true, specs.ActAllow: true,
	specs.ActLog: true}

var seccompOps = map[specs.LinuxSeccompOperator]bool{specs.OpNotEqual: true, specs.OpLessThan: true,
	specs.OpLessEqual: true, specs.OpEqualTo: true, specs.OpGreaterEqual: true, specs.OpGreaterThan: true,
	specs.OpMaskedEqual: true}

// ValidateSeccompProfile checks a --security-opt seccomp=FILE profile (Docker's JSON, or the
// OCI runtime-spec's linux.seccomp) before it is stored: the container then fails at create,
// not at each start.
func ValidateSeccompProfile(data []byte) error {
	var p seccomp.Seccomp
	if err := json.Unmarshal(data, &p); err != nil {
		return errdefs.Newf(errdefs.ErrInvalid, "decoding seccomp profile failed: %v", err)
	}
	bad := func(format string, args ...any) error {
		return errdefs.Newf(errdefs.ErrInvalid, "seccomp profile: "+format, args...)
	}
	if p.DefaultAction == "" {
		return bad("defaultAction is missing")
	}
	if !seccompActions[p.DefaultAction] {
		return bad("unknown defaultAction %q", p.DefaultAction)
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return bad("both architectures and archMap are given")
	}
	for i, sc := range p.Syscalls {
		if sc == nil {
			return bad("syscalls[%d] is null", i)
		}
		if sc.Name != "" && len(sc.Names) > 0 {
			return bad("syscalls[%d] has both name and names", i)
		}
		if sc.Name == "" && len(sc.Names) == 0 {
			return bad("syscalls[%d] names no system call", i)
		}
		if !seccompActions[sc.Action] {
			return bad("syscalls[%d]: unknown action %q", i, sc.Action)
		}
		for _, a := range sc.Args {
			if !seccompOps[a.Op] {
				return bad("syscalls[%d]: unknown operator %q", i, a.Op)
			}
			if a.Index > 5 {
				return bad("syscalls[%d]: argument index %d is past the sixth", i, a.Index)
			}
		}
	}
	return nil
}

// ParseCgroupNS checks --cgroupns: "" (berth's default, private), private or host.
func ParseCgroupNS(mode string) (string, error) {
	switch mode {
	case "", "private", "host":
		return mode, nil
	}
	return "", errdefs.Newf(errdefs.ErrInvalid, "invalid --cgroupns %q: want host or private", mode)
}
