package libcontainer

import (
	"fmt"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

var capNames = map[string]uintptr{
	"CAP_CHOWN": unix.CAP_CHOWN, "CAP_DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE, "CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH,
	"CAP_FOWNER": unix.CAP_FOWNER, "CAP_FSETID": unix.CAP_FSETID, "CAP_KILL": unix.CAP_KILL, "CAP_SETGID": unix.CAP_SETGID,
	"CAP_SETUID": unix.CAP_SETUID, "CAP_SETPCAP": unix.CAP_SETPCAP, "CAP_LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE,
	"CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE, "CAP_NET_BROADCAST": unix.CAP_NET_BROADCAST, "CAP_NET_ADMIN": unix.CAP_NET_ADMIN,
	"CAP_NET_RAW": unix.CAP_NET_RAW, "CAP_IPC_LOCK": unix.CAP_IPC_LOCK, "CAP_IPC_OWNER": unix.CAP_IPC_OWNER,
	"CAP_SYS_MODULE": unix.CAP_SYS_MODULE, "CAP_SYS_RAWIO": unix.CAP_SYS_RAWIO, "CAP_SYS_CHROOT": unix.CAP_SYS_CHROOT,
	"CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE, "CAP_SYS_PACCT": unix.CAP_SYS_PACCT, "CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN,
	"CAP_SYS_BOOT": unix.CAP_SYS_BOOT, "CAP_SYS_NICE": unix.CAP_SYS_NICE, "CAP_SYS_RESOURCE": unix.CAP_SYS_RESOURCE,
	"CAP_SYS_TIME": unix.CAP_SYS_TIME, "CAP_SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG, "CAP_MKNOD": unix.CAP_MKNOD,
	"CAP_LEASE": unix.CAP_LEASE, "CAP_AUDIT_WRITE": unix.CAP_AUDIT_WRITE, "CAP_AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL,
	"CAP_SETFCAP": unix.CAP_SETFCAP, "CAP_MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE, "CAP_MAC_ADMIN": unix.CAP_MAC_ADMIN,
	"CAP_SYSLOG": unix.CAP_SYSLOG, "CAP_WAKE_ALARM": unix.CAP_WAKE_ALARM, "CAP_BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND,
	"CAP_AUDIT_READ": unix.CAP_AUDIT_READ, "CAP_PERFMON": unix.CAP_PERFMON, "CAP_BPF": unix.CAP_BPF,
	"CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// DefaultCaps is Docker's default capability set.
var DefaultCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

// capSet is a 64-bit mask of capabilities.
type capSet uint64

func parseCaps(field string, names []string) (capSet, error) {
	var s capSet
	for _, n := range names {
		c, ok := capNames[strings.ToUpper(n)]
		if !ok {
			return 0, fmt.Errorf("process.capabilities.%s: unknown capability %q", field, n)
		}
		s |= 1 << c
	}
	return s, nil
}

type caps struct{ bounding, effective, permitted, inheritable, ambient capSet }

func specCaps(c *specs.LinuxCapabilities) (*caps, error) {
	if c == nil {
		return &caps{}, nil
	}
	var out caps
	var err error
	for _, f := range []struct {
		name string
		list []string
		dst  *capSet
	}{{"bounding", c.Bounding, &out.bounding}, {"effective", c.Effective, &out.effective}, {"permitted", c.Permitted, &out.permitted},
		{"inheritable", c.Inheritable, &out.inheritable}, {"ambient", c.Ambient, &out.ambient}} {
		if *f.dst, err = parseCaps(f.name, f.list); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

func lastCap() uintptr {
	last := uintptr(unix.CAP_LAST_CAP)
	for c := last + 1; c < 64; c++ {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, c, 0, 0, 0); err != nil {
			break
		}
		last = c
	}
	return last
}

// dropBounding removes every capability outside the bounding set.
func (c *caps) dropBounding() error {
	for i := uintptr(0); i <= lastCap(); i++ {
		if c.bounding&(1<<i) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, i, 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop bounding capability %d: %w", i, err)
		}
	}
	return nil
}

// apply sets the effective, permitted and inheritable sets, then the ambient set.
func (c *caps) apply() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(c.effective), Permitted: uint32(c.permitted), Inheritable: uint32(c.inheritable)},
		{Effective: uint32(c.effective >> 32), Permitted: uint32(c.permitted >> 32), Inheritable: uint32(c.inheritable >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	_ = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	for i := uintptr(0); i < 64; i++ {
		if c.ambient&(1<<i) != 0 {
			// The kernel raises an ambient capability only when it is permitted and
			// inheritable. `runc spec` lists ambient capabilities without inheritable ones
			// (CVE-2022-29162 emptied that set): like runc, go on without them, with a warning.
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, i, 0, 0); err != nil {
				logrus.Warnf("unable to raise ambient capability %s: %v", capName(i), err)
			}
		}
	}
	return nil
}

// capName names capability number c, as the spec does.
func capName(c uintptr) string {
	for n, v := range capNames {
		if v == c {
			return n
		}
	}
	return fmt.Sprintf("capability %d", c)
}

// AllCaps lists every capability this process may grant (the kernel knows it and it is in our
// bounding set), sorted, for --privileged and ALL.
func AllCaps() []string {
	out := make([]string, 0, len(capNames))
	for n, c := range capNames {
		if in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, c, 0, 0, 0); c <= lastCap() && err == nil && in == 1 {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// ValidCap says whether name (with or without CAP_) is a known capability.
func ValidCap(name string) bool {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	_, ok := capNames[n]
	return ok
}
