package engine

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/libcontainer"
)

// allowed says whether the profile has a rule allowing name (with or without conditions).
func allowed(sc *specs.LinuxSeccomp, name string) bool {
	for _, r := range sc.Syscalls {
		if r.Action == specs.ActAllow && slices.Contains(r.Names, name) {
			return true
		}
	}
	return false
}

func TestSeccompProfile(t *testing.T) {
	withCaps := func(caps ...string) *specs.Spec {
		s := libcontainer.DefaultSpec()
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
		return s
	}
	def, err := seccompProfile(withCaps(libcontainer.DefaultCaps...), false, "")
	if err != nil {
		t.Fatal(err)
	}
	if def.DefaultAction != specs.ActErrno || !allowed(def, "read") || !allowed(def, "clone") {
		t.Errorf("default profile is not Docker's allow-list: default %s, %d rules", def.DefaultAction, len(def.Syscalls))
	}
	for _, name := range []string{"unshare", "setns", "mount", "umount2", "bpf", "keyctl", "kexec_load", "init_module", "pivot_root", "open_by_handle_at"} {
		if allowed(def, name) {
			t.Errorf("default profile allows %s to a container without the capability", name)
		}
	}
	admin, err := seccompProfile(withCaps(append([]string{"CAP_SYS_ADMIN"}, libcontainer.DefaultCaps...)...), false, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"unshare", "setns", "mount", "umount2"} {
		if !allowed(admin, name) {
			t.Errorf("--cap-add SYS_ADMIN: %s is still refused", name)
		}
	}
	if sc, err := seccompProfile(withCaps(), true, ""); sc != nil || err != nil {
		t.Errorf("privileged: %v, %v; want no filter", sc, err)
	}
	if sc, err := seccompProfile(withCaps(), false, "unconfined"); sc != nil || err != nil {
		t.Errorf("unconfined: %v, %v; want no filter", sc, err)
	}
	file := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"},
		{"names":["chroot"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_SYS_ADMIN"]}}]}`
	sc, err := seccompProfile(withCaps(libcontainer.DefaultCaps...), false, file)
	if err != nil {
		t.Fatal(err)
	}
	if sc.DefaultAction != specs.ActAllow || len(sc.Syscalls) != 1 || sc.Syscalls[0].Names[0] != "mkdir" {
		t.Errorf("profile file: %+v", sc)
	}
	if _, err := seccompProfile(withCaps(), false, "{"); err == nil {
		t.Error("a broken profile was accepted")
	}
}
