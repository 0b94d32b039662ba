package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const root = Root

// Manager owns one container's cgroup in every hierarchy the host uses.
type Manager struct {
	path string // the spec's cgroupsPath, e.g. /berth/<id>
	v2   bool
	v2at string // where the v2 hierarchy is mounted: /sys/fs/cgroup (tests use a hybrid host's unified one)
}

// v1Controllers are the hierarchies berth expects on v1 and hybrid hosts, used when the host's
// mounts cannot be read.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "devices", "freezer"}

// New returns the manager for cgroupsPath ("" is not allowed; callers default it).
func New(cgroupsPath string) (*Manager, error) {
	if !filepath.IsAbs(cgroupsPath) || strings.Contains(cgroupsPath, "..") {
		return nil, fmt.Errorf("linux.cgroupsPath %q: want an absolute path", cgroupsPath)
	}
	return &Manager{path: filepath.Clean(cgroupsPath), v2: DetectMode() == Unified, v2at: root}, nil
}

// dirs lists the cgroup directories of the container, one per hierarchy. On v1 and hybrid
// hosts that is every hierarchy mounted under /sys/fs/cgroup, the named (name=systemd) and
// hybrid's unified one included, as runc does: a container whose process stayed in its
// creator's cgroup of some hierarchy would see that cgroup, shared with others, as its own.
func (m *Manager) dirs() []string {
	if m.v2 {
		return []string{filepath.Join(m.v2at, m.path)}
	}
	var out []string
	if hs, err := hostHierarchies(); err == nil {
		for _, h := range hs {
			if h.Mountpoint != root {
				out = append(out, filepath.Join(h.Mountpoint, m.path))
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, c := range v1Controllers {
		if _, err := os.Stat(filepath.Join(root, c)); err == nil {
			out = append(out, filepath.Join(root, c, m.path))
		}
	}
	return out
}

func (m *Manager) dir(controller string) string {
	if m.v2 {
		return filepath.Join(m.v2at, m.path)
	}
	return filepath.Join(root, controller, m.path)
}

// Apply creates the cgroup and moves pid into it.
func (m *Manager) Apply(pid int) error {
	if m.v2 {
		if err := m.enableControllers(); err != nil {
			return err
		}
	}
	for _, d := range m.dirs() {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", d, err)
		}
		if strings.Contains(d, "/cpuset/") {
			if err := inheritCpuset(d); err != nil {
				return err
			}
		}
		if err := write(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// enableControllers turns on the v2 controllers in every ancestor of the cgroup.
func (m *Manager) enableControllers() error {
	avail, err := os.ReadFile(filepath.Join(m.v2at, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("read cgroup controllers: %w", err)
	}
	var enable []string
	for _, c := range strings.Fields(string(avail)) {
		enable = append(enable, "+"+c)
	}
	cur := m.v2at
	for _, part := range strings.Split(strings.Trim(filepath.Dir(m.path), "/"), "/") {
		if part == "" {
			break
		}
		cur = filepath.Join(cur, part)
		if err := os.MkdirAll(cur, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", cur, err)
		}
	}
	for d := m.v2at; ; {
		_ = write(d, "cgroup.subtree_control", strings.Join(enable, " "))
		if d == cur {
			break
		}
		rel, _ := filepath.Rel(d, cur)
		d = filepath.Join(d, strings.Split(rel, "/")[0])
	}
	return nil
}

// inheritCpuset copies cpus and mems from the parent into empty cpuset cgroups up the tree.
func inheritCpuset(d string) error {
	parent := filepath.Dir(d)
	if filepath.Base(parent) != "cpuset" && !strings.HasSuffix(parent, "/cpuset") {
		if err := inheritCpuset(parent); err != nil {
			return err
		}
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, _ := os.ReadFile(filepath.Join(d, f))
		if strings.TrimSpace(string(cur)) != "" {
			continue
		}
		p, err := os.ReadFile(filepath.Join(parent, f))
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(parent, f), err)
		}
		if err := write(d, f, strings.TrimSpace(string(p))); err != nil {
			return err
		}
	}
	return nil
}

// Set applies the resource limits of the spec.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	var ws []setting
	if m.v2 {
		ws = v2Settings(r)
	} else {
		ws = v1Settings(r)
	}
	for _, s := range ws {
		if err := write(m.dir(s.controller), s.file, s.value); err != nil {
			if errors.Is(err, os.ErrNotExist) && s.optional {
				continue
			}
			return err
		}
	}
	if !m.v2 {
		return m.setDevicesV1(r.Devices)
	}
	if len(r.Devices) > 0 {
		return attachDeviceFilter(m.dir(""), r.Devices)
	}
	return nil
}

type setting struct {
	controller, file, value string
	optional                bool
}

func v1Settings(r *specs.LinuxResources) []setting {
	var s []setting
	if mem := r.Memory; mem != nil {
		if mem.Limit != nil {
			s = append(s, setting{"memory", "memory.limit_in_bytes", strconv.FormatInt(*mem.Limit, 10), false})
		}
		if mem.Swap != nil {
			s = append(s, setting{"memory", "memory.memsw.limit_in_bytes", strconv.FormatInt(*mem.Swap, 10), false})
		}
		if mem.Reservation != nil {
			s = append(s, setting{"memory", "memory.soft_limit_in_bytes", strconv.FormatInt(*mem.Reservation, 10), false})
		}
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.Shares != nil && *cpu.Shares != 0 {
			s = append(s, setting{"cpu", "cpu.shares", strconv.FormatUint(*cpu.Shares, 10), false})
		}
		if cpu.Period != nil && *cpu.Period != 0 {
			s = append(s, setting{"cpu", "cpu.cfs_period_us", strconv.FormatUint(*cpu.Period, 10), false})
		}
		if cpu.Quota != nil && *cpu.Quota != 0 {
			s = append(s, setting{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(*cpu.Quota, 10), false})
		}
		if cpu.Cpus != "" {
			s = append(s, setting{"cpuset", "cpuset.cpus", cpu.Cpus, false})
		}
		if cpu.Mems != "" {
			s = append(s, setting{"cpuset", "cpuset.mems", cpu.Mems, false})
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		s = append(s, setting{"pids", "pids.max", pidsMax(*r.Pids.Limit), false})
	}
	if r.BlockIO != nil && r.BlockIO.Weight != nil {
		s = append(s, setting{"blkio", "blkio.weight", strconv.Itoa(int(*r.BlockIO.Weight)), false})
	}
	if b := r.BlockIO; b != nil { // one rule per write
		for _, t := range []struct {
			file string
			devs []specs.LinuxThrottleDevice
		}{{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice}, {"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
			{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice}, {"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice}} {
			for _, d := range t.devs {
				s = append(s, setting{"blkio", t.file, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate), false})
			}
		}
	}
	return s
}

func v2Settings(r *specs.LinuxResources) []setting {
	var s []setting
	if mem := r.Memory; mem != nil {
		if mem.Limit != nil {
			s = append(s, setting{"", "memory.max", limit(*mem.Limit), false})
			if mem.Swap != nil {
				sw := *mem.Swap
				if sw > 0 {
					sw -= *mem.Limit
				}
				s = append(s, setting{"", "memory.swap.max", limit(sw), true})
			}
		}
		if mem.Reservation != nil {
			s = append(s, setting{"", "memory.low", limit(*mem.Reservation), false})
		}
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.Shares != nil && *cpu.Shares != 0 {
			s = append(s, setting{"", "cpu.weight", strconv.FormatUint(SharesToWeight(*cpu.Shares), 10), false})
		}
		if cpu.Quota != nil && *cpu.Quota != 0 {
			period := uint64(100000)
			if cpu.Period != nil && *cpu.Period != 0 {
				period = *cpu.Period
			}
			s = append(s, setting{"", "cpu.max", fmt.Sprintf("%s %d", limit(*cpu.Quota), period), false})
		}
		if cpu.Cpus != "" {
			s = append(s, setting{"", "cpuset.cpus", cpu.Cpus, false})
		}
		if cpu.Mems != "" {
			s = append(s, setting{"", "cpuset.mems", cpu.Mems, false})
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		s = append(s, setting{"", "pids.max", pidsMax(*r.Pids.Limit), false})
	}
	if r.BlockIO != nil && r.BlockIO.Weight != nil {
		w := 1 + (uint64(*r.BlockIO.Weight)-10)*9999/990
		s = append(s, setting{"", "io.weight", strconv.FormatUint(w, 10), false})
	}
	if b := r.BlockIO; b != nil { // io.max takes one device's keys per write
		for _, t := range []struct {
			key  string
			devs []specs.LinuxThrottleDevice
		}{{"rbps", b.ThrottleReadBpsDevice}, {"wbps", b.ThrottleWriteBpsDevice}, {"riops", b.ThrottleReadIOPSDevice}, {"wiops", b.ThrottleWriteIOPSDevice}} {
			for _, d := range t.devs {
				s = append(s, setting{"", "io.max", fmt.Sprintf("%d:%d %s=%d", d.Major, d.Minor, t.key, d.Rate), false})
			}
		}
	}
	return s
}

// SharesToWeight converts cgroup v1 cpu shares (2..262144) to a v2 cpu.weight (1..10000).
func SharesToWeight(shares uint64) uint64 {
	if shares < 2 {
		shares = 2
	}
	return 1 + ((shares-2)*9999)/262142
}

func limit(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func pidsMax(v int64) string {
	if v <= 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// setDevicesV1 writes the device allow-list: deny everything, then the spec's rules in order.
func (m *Manager) setDevicesV1(rules []specs.LinuxDeviceCgroup) error {
	d := m.dir("devices")
	if _, err := os.Stat(d); err != nil || len(rules) == 0 {
		return nil
	}
	for _, r := range rules {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := write(d, file, DeviceRule(r)); err != nil {
			return err
		}
	}
	return nil
}

// DeviceRule formats a device cgroup rule as v1's devices.allow takes it: "c 1:3 rwm".
func DeviceRule(r specs.LinuxDeviceCgroup) string {
	typ := r.Type
	if typ == "" {
		typ = "a"
	}
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	if typ == "a" {
		return "a *:* " + access
	}
	return fmt.Sprintf("%s %s:%s %s", typ, num(r.Major), num(r.Minor), access)
}

// Freeze stops every process of the cgroup; Thaw resumes them.
func (m *Manager) Freeze() error { return m.freeze(true) }

// Thaw resumes a frozen cgroup.
func (m *Manager) Thaw() error { return m.freeze(false) }

func (m *Manager) freeze(on bool) error {
	file, val, want := "freezer.state", "THAWED", "THAWED"
	if m.v2 {
		file, val = "cgroup.freeze", "0"
	}
	if on {
		val, want = "FROZEN", "FROZEN"
		if m.v2 {
			val = "1"
		}
	}
	d := m.dir("freezer")
	if err := write(d, file, val); err != nil {
		return err
	}
	for i := 0; i < 1000; i++ {
		frozen, err := m.Frozen()
		if err != nil {
			return err
		}
		if frozen == on {
			return nil
		}
		if !m.v2 && i%50 == 49 {
			_ = write(d, file, val)
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("cgroup %s: freezer did not reach %s", m.path, want)
}

// Frozen reports whether the cgroup is frozen.
func (m *Manager) Frozen() (bool, error) {
	if m.v2 {
		b, err := os.ReadFile(filepath.Join(m.dir(""), "cgroup.events"))
		if err != nil {
			return false, err
		}
		return strings.Contains(string(b), "frozen 1"), nil
	}
	b, err := os.ReadFile(filepath.Join(m.dir("freezer"), "freezer.state"))
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(b)) == "FROZEN", nil
}

// Pids lists every process in the cgroup and its descendants.
func (m *Manager) Pids() ([]int, error) {
	d := m.dir("pids")
	if m.v2 {
		d = m.dir("")
	} else if _, err := os.Stat(d); err != nil {
		d = m.dir("memory")
	}
	var out []int
	err := filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || e.Name() != "cgroup.procs" {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				out = append(out, n)
			}
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

// Kill signals every process of the cgroup.
func (m *Manager) Kill(sig syscall.Signal) error {
	pids, err := m.Pids()
	if err != nil {
		return err
	}
	for _, p := range pids {
		_ = syscall.Kill(p, sig)
	}
	return nil
}

// Destroy kills what is left and removes the cgroup from every hierarchy. It is idempotent.
func (m *Manager) Destroy() error {
	if pids, _ := m.Pids(); len(pids) > 0 {
		if frozen, _ := m.Frozen(); frozen {
			_ = m.Thaw()
		}
		_ = m.Kill(syscall.SIGKILL)
	}
	var firstErr error
	for _, d := range m.dirs() {
		if err := removeCgroup(d); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// removeCgroup removes d and the cgroups a (privileged) container made below it, deepest first,
// retrying while the kernel still counts exiting processes in them.
func removeCgroup(d string) error {
	if ents, err := os.ReadDir(d); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				if err := removeCgroup(filepath.Join(d, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	var err error
	for i := 0; i < 200; i++ {
		if err = os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", d, err)
}

func write(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
		return fmt.Errorf("write %s to %s: %w", value, filepath.Join(dir, file), err)
	}
	return nil
}

// Join moves pid into the existing cgroup without creating anything.
func (m *Manager) Join(pid int) error {
	for _, d := range m.dirs() {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		if err := write(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Stats is a cgroup's resource usage, as `berth stats` shows it.
type Stats struct {
	CPUUsageNs               uint64
	MemoryUsage, MemoryLimit uint64
	PidsCurrent, PidsLimit   uint64
	BlkioRead, BlkioWrite    uint64
}

// Stats reads the cgroup's current usage.
func (m *Manager) Stats() (*Stats, error) {
	var s Stats
	num := func(controller, file string) uint64 {
		b, err := os.ReadFile(filepath.Join(m.dir(controller), file))
		if err != nil {
			return 0
		}
		n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return n // "max" reads as 0: no limit
	}
	if m.v2 {
		s.MemoryUsage, s.MemoryLimit = num("", "memory.current"), num("", "memory.max")
		s.PidsCurrent, s.PidsLimit = num("", "pids.current"), num("", "pids.max")
		kv := readKV(filepath.Join(m.dir(""), "cpu.stat"))
		s.CPUUsageNs = kv["usage_usec"] * 1000
		if b, err := os.ReadFile(filepath.Join(m.dir(""), "io.stat")); err == nil {
			for _, f := range strings.Fields(string(b)) {
				k, v, _ := strings.Cut(f, "=")
				n, _ := strconv.ParseUint(v, 10, 64)
				switch k {
				case "rbytes":
					s.BlkioRead += n
				case "wbytes":
					s.BlkioWrite += n
				}
			}
		}
	} else {
		s.MemoryUsage, s.MemoryLimit = num("memory", "memory.usage_in_bytes"), num("memory", "memory.limit_in_bytes")
		s.PidsCurrent, s.PidsLimit = num("pids", "pids.current"), num("pids", "pids.max")
		s.CPUUsageNs = num("cpuacct", "cpuacct.usage")
		if b, err := os.ReadFile(filepath.Join(m.dir("blkio"), "blkio.throttle.io_service_bytes")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Fields(line)
				if len(f) != 3 {
					continue
				}
				n, _ := strconv.ParseUint(f[2], 10, 64)
				switch f[1] {
				case "Read":
					s.BlkioRead += n
				case "Write":
					s.BlkioWrite += n
				}
			}
		}
	}
	if _, err := os.Stat(m.dir("memory")); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", m.path, err)
	}
	return &s, nil
}

func readKV(path string) map[string]uint64 {
	out := map[string]uint64{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			out[k], _ = strconv.ParseUint(v, 10, 64)
		}
	}
	return out
}
