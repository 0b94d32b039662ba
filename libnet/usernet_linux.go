package libnet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// DefaultUserNet picks the helper for a rootless container's default network: preferred
// ("" means pasta) when installed, else the other one.
func DefaultUserNet(preferred string) (string, error) {
	order := []string{Pasta, Slirp4netns}
	switch preferred {
	case "", Pasta:
	case Slirp4netns:
		order = []string{Slirp4netns, Pasta}
	default:
		return "", errdefs.Newf(errdefs.ErrInvalid, "default_rootless_network_cmd %q: want pasta or slirp4netns", preferred)
	}
	for _, m := range order {
		if _, err := exec.LookPath(m); err == nil {
			return m, nil
		}
	}
	return "", errdefs.Newf(errdefs.ErrNotSupported, "rootless networking needs pasta or slirp4netns: apt-get install passt (or slirp4netns), or run with --network none")
}

// CheckUserNet says, in one line naming the fix, why u cannot work here: its helper is
// missing or the user cannot open /dev/net/tun.
func CheckUserNet(u UserNet) error {
	if _, err := exec.LookPath(u.Mode); err != nil {
		pkg := "passt"
		if u.Mode == Slirp4netns {
			pkg = Slirp4netns
		}
		return errdefs.Newf(errdefs.ErrNotSupported, "--network %s: %s is not installed: apt-get install %s, or run with --network none", u.Mode, u.Mode, pkg)
	}
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return errdefs.Newf(errdefs.ErrNotSupported, "--network %s needs /dev/net/tun, which this user cannot open (%v): modprobe tun and chmod 0666 /dev/net/tun, or run with --network none", u.Mode, errors.Unwrap(err))
	}
	f.Close()
	return nil
}

// StartUserNet connects the network namespace at nsPath (such as /proc/PID/ns/net) to the
// host through u's helper, publishes ports and returns once the namespace is configured. The
// helper runs on, detached, until [StopUserNet]; its pid file under o.StateDir is written
// before it serves, so a berth killed at any point leaves something StopUserNet finds.
func StartUserNet(ctx context.Context, nsPath string, u UserNet, o UserNetOptions) (retErr error) {
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", o.StateDir, err)
	}
	ns, err := os.Open(nsPath)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()
	defer func() {
		if retErr != nil {
			_ = StopUserNet(o.StateDir, o.ID)
		}
	}()
	if u.Mode == Pasta {
		return startPasta(ctx, ns, u, o)
	}
	return startSlirp(ctx, ns, u, o)
}

// startPasta runs pasta, which configures the namespace, writes its pid file and goes to
// the background; its exit status says whether that worked.
func startPasta(ctx context.Context, ns *os.File, u UserNet, o UserNetOptions) error {
	pidFile := helperPidFile(o.StateDir, o.ID)
	cmd := exec.CommandContext(ctx, Pasta, pastaArgs(u, o.Ports, pidFile)...)
	cmd.ExtraFiles = []*os.File{ns}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("start pasta: %s", helperMessage(stderr.String(), err, true))
	}
	return nil
}

// startSlirp runs slirp4netns (which stays in the foreground, so berth writes its pid file),
// waits for it to report the namespace configured, then adds each port through its API.
func startSlirp(ctx context.Context, ns *os.File, u UserNet, o UserNetOptions) error {
	// The API socket's path is relative to the state directory, which slirp4netns runs in:
	// a sun_path holds 107 bytes, less than a runtime root and a container ID may need.
	sock := filepath.Base(slirpSocket(o.StateDir, o.ID))
	_ = os.Remove(slirpSocket(o.StateDir, o.ID))
	dir, err := os.Open(o.StateDir)
	if err != nil {
		return err
	}
	defer dir.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	cmd := exec.Command(Slirp4netns, slirpArgs(u, sock)...)
	cmd.ExtraFiles = []*os.File{ns, readyW} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = o.StateDir
	logf, err := os.CreateTemp(o.StateDir, o.ID+".log")
	if err != nil {
		readyW.Close()
		return err
	}
	defer os.Remove(logf.Name())
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return fmt.Errorf("start slirp4netns: %w", err)
	}
	if err := os.WriteFile(helperPidFile(o.StateDir, o.ID), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ready := make(chan bool, 1)
	go func() {
		var b [1]byte
		n, _ := readyR.Read(b[:])
		ready <- n == 1 && b[0] == '1'
	}()
	select {
	case ok := <-ready:
		if !ok {
			<-exited
			out, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("start slirp4netns: %s", helperMessage(string(out), errors.New("exited"), false))
		}
	case err := <-exited:
		out, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("start slirp4netns: %s", helperMessage(string(out), err, false))
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return fmt.Errorf("start slirp4netns: not ready after 10s")
	}
	for _, p := range o.Ports {
		for i := uint16(0); i < max(p.Range, 1); i++ {
			if err := slirpForward(fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), sock), p, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// slirpForward asks slirp4netns's API to forward one host port (the i-th of p's range).
func slirpForward(sock string, p PortMapping, i uint16) error {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	host := p.HostIP
	if host == "" {
		host = "0.0.0.0"
	}
	req := map[string]any{"execute": "add_hostfwd", "arguments": map[string]any{
		"proto": p.Protocol, "host_addr": host, "host_port": int(p.HostPort + i), "guest_port": int(p.ContainerPort + i)}}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	var resp struct {
		Error *struct{ Desc string } `json:"error"`
	}
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	if resp.Error != nil {
		return errdefs.Newf(errdefs.ErrInUse, "publish %s: slirp4netns: %s", PortName(p.Protocol, p.HostIP, p.HostPort+i), resp.Error.Desc)
	}
	return nil
}

// helperMessage is the line of the helper's output that says what went wrong: pasta's
// first (a usage text may follow), slirp4netns's last (it logs its progress first); else err.
func helperMessage(out string, err error, first bool) string {
	var msg string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		// pasta also reports each line it could not send to syslog.
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "Failed to send") {
			msg = l
			if first {
				break
			}
		}
	}
	if msg == "" {
		return err.Error()
	}
	return msg
}

// StopUserNet ends the helper of container id, if its pid file names a live helper of that
// container (its command line names the pid file or API socket: a reused pid is left alone),
// and removes its files. It is idempotent.
func StopUserNet(dir, id string) error {
	pidFile, sock := helperPidFile(dir, id), slirpSocket(dir, id)
	b, err := os.ReadFile(pidFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", pidFile, err)
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.Contains(cmdline, []byte(pidFile)) || bytes.Contains(cmdline, []byte(filepath.Base(sock))) {
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("stop network helper %d of %s: %w", pid, id, err)
			}
		}
	}
	for _, p := range []string{pidFile, sock} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// UserNetIDs lists the containers that have helper files in dir.
func UserNetIDs(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".pid"); ok {
			out = append(out, id)
		}
	}
	return out
}

// HostGateway is the address at which a container on u reaches the host: for pasta the
// host's default gateway, which pasta maps to the host itself; for slirp4netns its host
// address when allow_host_loopback is set, else the host's own outbound address.
func (u UserNet) HostGateway() string {
	gw := defaultGateway4()
	if u.Mode == Pasta {
		return gw
	}
	if b, _ := strconv.ParseBool(u.slirpOpt("allow_host_loopback", "false")); b {
		return u.slirpHost(2)
	}
	if gw == "" {
		return ""
	}
	// Connecting a UDP socket sends nothing; it only picks the route's source address.
	c, err := net.Dial("udp4", net.JoinHostPort(gw, "9"))
	if err != nil {
		return ""
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

// defaultGateway4 reads the first IPv4 default route's gateway from /proc/net/route.
func defaultGateway4() string {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 8 || fl[1] != "00000000" || fl[7] != "00000000" {
			continue
		}
		v, err := strconv.ParseUint(fl[2], 16, 32)
		if err != nil || v == 0 {
			continue
		}
		return net.IPv4(byte(v), byte(v>>8), byte(v>>16), byte(v>>24)).String()
	}
	return ""
}
