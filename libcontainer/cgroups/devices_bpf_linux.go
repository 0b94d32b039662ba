package cgroups

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// On cgroup v2 the device allow-list is an eBPF program of type CGROUP_DEVICE attached to
// the cgroup. Its context is struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32
// minor; }, access_type being access<<16 | type. The program below checks the rules from
// last to first, so the last matching rule wins, and denies what no rule matches.

type insn struct {
	code uint8
	regs uint8 // src<<4 | dst
	off  int16
	imm  int32
}

const (
	opLdxW   = 0x61 // BPF_LDX | BPF_MEM | BPF_W
	opAndK   = 0x57 // BPF_ALU64 | BPF_AND | BPF_K
	opRshK   = 0x77 // BPF_ALU64 | BPF_RSH | BPF_K
	opMovX   = 0xbf // BPF_ALU64 | BPF_MOV | BPF_X
	opMovK   = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K
	opJneK   = 0x55 // BPF_JMP | BPF_JNE | BPF_K
	opExit   = 0x95
	devBlock = 1
	devChar  = 2
)

func ins(code, dst, src uint8, off int16, imm int32) insn {
	return insn{code: code, regs: src<<4 | dst, off: off, imm: imm}
}

// DeviceFilter assembles the program for rules.
func DeviceFilter(rules []specs.LinuxDeviceCgroup) ([]insn, error) {
	prog := []insn{
		ins(opLdxW, 2, 1, 0, 0), ins(opAndK, 2, 0, 0, 0xffff), // r2 = type
		ins(opLdxW, 3, 1, 0, 0), ins(opRshK, 3, 0, 0, 16), // r3 = access
		ins(opLdxW, 4, 1, 4, 0), // r4 = major
		ins(opLdxW, 5, 1, 8, 0), // r5 = minor
	}
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		var block []insn
		var jumps []int // indexes of "skip to the next rule" jumps
		switch r.Type {
		case "", "a":
		case "c", "b":
			t := int32(devChar)
			if r.Type == "b" {
				t = devBlock
			}
			jumps = append(jumps, len(block))
			block = append(block, ins(opJneK, 2, 0, 0, t))
		default:
			return nil, fmt.Errorf("linux.resources.devices[%d]: unknown type %q", i, r.Type)
		}
		var mask int32
		for _, c := range r.Access {
			switch c {
			case 'm':
				mask |= 1
			case 'r':
				mask |= 2
			case 'w':
				mask |= 4
			default:
				return nil, fmt.Errorf("linux.resources.devices[%d]: bad access %q", i, r.Access)
			}
		}
		if r.Access == "" {
			mask = 7
		}
		if mask != 7 { // the requested access must lie within the rule's
			block = append(block, ins(opMovX, 1, 3, 0, 0), ins(opAndK, 1, 0, 0, ^mask&7))
			jumps = append(jumps, len(block))
			block = append(block, ins(opJneK, 1, 0, 0, 0))
		}
		for _, dev := range []struct {
			reg uint8
			n   *int64
		}{{4, r.Major}, {5, r.Minor}} {
			if dev.n != nil && *dev.n >= 0 {
				jumps = append(jumps, len(block))
				block = append(block, ins(opJneK, dev.reg, 0, 0, int32(*dev.n)))
			}
		}
		allow := int32(0)
		if r.Allow {
			allow = 1
		}
		block = append(block, ins(opMovK, 0, 0, 0, allow), ins(opExit, 0, 0, 0, 0))
		for _, j := range jumps {
			block[j].off = int16(len(block) - j - 1)
		}
		prog = append(prog, block...)
		if len(jumps) == 0 {
			return prog, nil // matches everything: earlier rules and the default are unreachable
		}
	}
	return append(prog, ins(opMovK, 0, 0, 0, 0), ins(opExit, 0, 0, 0, 0)), nil
}

// loadDeviceFilter loads prog into the kernel and returns its fd. The verifier's log is asked
// for only when a load fails: with a log on, a program it accepts still fails with ENOSPC once
// its trace outgrows the buffer (a few --device rules were enough), so the first try runs
// without one, and the retry gets a buffer large enough for any program we assemble.
func loadDeviceFilter(prog []insn) (int, error) {
	code := make([]byte, 8*len(prog))
	for i, p := range prog {
		b := code[i*8:]
		b[0], b[1] = p.code, p.regs
		binary.LittleEndian.PutUint16(b[2:], uint16(p.off))
		binary.LittleEndian.PutUint32(b[4:], uint32(p.imm))
	}
	fd, errno := bpfProgLoad(code, nil)
	if errno == 0 {
		return fd, nil
	}
	logBuf := make([]byte, 1<<20)
	if fd, errno2 := bpfProgLoad(code, logBuf); errno2 == 0 {
		return fd, nil // a transient failure: the second load went through
	}
	n := 0
	for n < len(logBuf) && logBuf[n] != 0 {
		n++
	}
	return -1, fmt.Errorf("load device filter: %w: %s", errno, verifierSummary(string(logBuf[:n])))
}

// bpfProgLoad runs BPF_PROG_LOAD for a CGROUP_DEVICE program, with the verifier's log in logBuf
// when it is not nil.
func bpfProgLoad(code, logBuf []byte) (int, unix.Errno) {
	license := []byte("Apache\x00")
	attr := struct {
		progType, insnCnt uint32
		insns, license    uint64
		logLevel, logSize uint32
		logBuf            uint64
		kernVersion       uint32
		progFlags         uint32
	}{progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE, insnCnt: uint32(len(code) / 8),
		insns: uint64(uintptr(unsafe.Pointer(&code[0]))), license: uint64(uintptr(unsafe.Pointer(&license[0])))}
	if logBuf != nil {
		attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(logBuf)), uint64(uintptr(unsafe.Pointer(&logBuf[0])))
	}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	return int(fd), errno
}

// verifierSummary keeps the last lines of a verifier log, where it says what it refused.
func verifierSummary(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, "; ")
}

// attachDeviceFilter puts the program for rules on the v2 cgroup directory dir.
func attachDeviceFilter(dir string, rules []specs.LinuxDeviceCgroup) error {
	prog, err := DeviceFilter(rules)
	if err != nil {
		return err
	}
	pfd, err := loadDeviceFilter(prog)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("device filter: %w", err)
	}
	defer d.Close()
	attr := struct{ targetFd, attachBpfFd, attachType, attachFlags uint32 }{
		uint32(d.Fd()), uint32(pfd), unix.BPF_CGROUP_DEVICE, unix.BPF_F_ALLOW_MULTI}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)); errno != 0 {
		return fmt.Errorf("attach device filter to %s: %w", dir, errno)
	}
	return nil
}
