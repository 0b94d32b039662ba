package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	units "github.com/docker/go-units"

	"github.com/berth-project/berth/internal/errdefs"
)

// PodmanOptions are the run/create flags Podman has beyond Docker's, stored with the
// container like the rest of CreateOptions.
type PodmanOptions struct {
	// PidMode is --pid: "" or private (a new namespace), host, or container:ID.
	PidMode string `json:",omitempty"`
	// Requires are --requires: containers started before this one (ids).
	Requires []string `json:",omitempty"`
	// TZ is --tz: a zone name under /usr/share/zoneinfo, or local (the host's /etc/localtime).
	TZ string `json:",omitempty"`
	// Timeout is --timeout: seconds after which the monitor kills the container (0: none).
	Timeout uint `json:",omitempty"`
	// ConmonPidFile is --conmon-pidfile: where the monitor's pid is written at each start.
	ConmonPidFile string `json:",omitempty"`
	// InitPath is --init-path: the init binary --init runs instead of berth's own.
	InitPath string `json:",omitempty"`
	// Throttle are --device-read-bps, --device-write-bps, --device-read-iops and
	// --device-write-iops.
	Throttle []ThrottleDevice `json:",omitempty"`
	// Systemd is --systemd: true (systemd mode when the command is an init), false, always.
	Systemd string `json:",omitempty"`
	// Passwd is --passwd: give a --user uid that the image's /etc/passwd lacks an entry there.
	Passwd bool `json:",omitempty"`
}

// SystemdMode says whether a container running args gets systemd's environment under
// --systemd=mode: always, or true ("" too) when the command is systemd or an init.
func SystemdMode(mode string, args []string) bool {
	switch mode {
	case "always":
		return true
	case "false":
		return false
	}
	if len(args) == 0 {
		return false
	}
	switch filepath.Base(args[0]) {
	case "init", "systemd":
		return true
	}
	return false
}

// ThrottleDevice is one I/O limit on a block device.
type ThrottleDevice struct {
	Path string
	Kind string // rbps, wbps, riops, wiops
	Rate uint64
}

// ParseThrottle parses one --device-{read,write}-{bps,iops} value, PATH:RATE (bps rates take
// units: 1M, 10kb), for kind rbps, wbps, riops or wiops.
func ParseThrottle(kind, v string) (ThrottleDevice, error) {
	p, rate, ok := strings.Cut(v, ":")
	t := ThrottleDevice{Path: p, Kind: kind}
	if !ok || p == "" || rate == "" {
		return t, errdefs.Newf(errdefs.ErrInvalid, "invalid throttle %q: want PATH:RATE", v)
	}
	if !strings.HasPrefix(p, "/dev/") {
		return t, errdefs.Newf(errdefs.ErrInvalid, "invalid throttle %q: %s is not a device path", v, p)
	}
	if strings.HasSuffix(kind, "bps") {
		n, err := units.RAMInBytes(rate)
		if err != nil || n < 0 {
			return t, errdefs.Newf(errdefs.ErrInvalid, "invalid throttle %q: bad rate %q", v, rate)
		}
		t.Rate = uint64(n)
		return t, nil
	}
	n, err := strconv.ParseUint(rate, 10, 64)
	if err != nil {
		return t, errdefs.Newf(errdefs.ErrInvalid, "invalid throttle %q: the rate is a number of operations per second", v)
	}
	t.Rate = n
	return t, nil
}

// zoneinfo is where --tz finds zones.
const zoneinfo = "/usr/share/zoneinfo"

// ValidTimezone checks a --tz value: local, or a zone file under /usr/share/zoneinfo.
func ValidTimezone(tz string) error {
	if tz == "local" {
		return nil
	}
	if strings.HasPrefix(tz, "/") || strings.Contains(tz, "..") {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid --tz %q: want a zone name such as Europe/Berlin, or local", tz)
	}
	if fi, err := os.Stat(filepath.Join(zoneinfo, tz)); err != nil || fi.IsDir() {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid --tz %q: no such zone in %s", tz, zoneinfo)
	}
	return nil
}

// timezoneFile is the host file --tz mounts as the container's /etc/localtime.
func timezoneFile(tz string) (string, error) {
	if tz == "local" {
		p, err := filepath.EvalSymlinks("/etc/localtime")
		if err != nil {
			return "", errdefs.Newf(errdefs.ErrInvalid, "--tz local: the host's /etc/localtime: %v", err)
		}
		return p, nil
	}
	if err := ValidTimezone(tz); err != nil {
		return "", err
	}
	return filepath.Join(zoneinfo, tz), nil
}
