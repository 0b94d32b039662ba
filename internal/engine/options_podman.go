package engine

import (
	"os"
	"path/filepath"
	"strings"

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
