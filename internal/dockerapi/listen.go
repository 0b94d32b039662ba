package dockerapi

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/berth-project/berth/internal/errdefs"
)

// Listen returns the socket to serve: the one systemd passed (LISTEN_FDS, socket
// activation) if any, else a new Unix socket at uri (unix:///path) that only its owner
// (rootless: mode 0600) or root's group (rootful: 0660, root:root) can reach. A stale
// socket file left by a killed service is replaced; a live one is an error.
func Listen(uri string, rootless bool) (net.Listener, error) {
	ls, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	for _, l := range ls {
		if l != nil {
			return l, nil
		}
	}
	p, ok := strings.CutPrefix(uri, "unix://")
	if !ok || p == "" || !filepath.IsAbs(p) {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid URI %q: want unix:///absolute/path", uri)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if fi, err := os.Lstat(p); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, errdefs.Newf(errdefs.ErrExists, "%s exists and is not a socket", p)
		}
		if c, err := net.DialTimeout("unix", p, time.Second); err == nil {
			c.Close()
			return nil, errdefs.Newf(errdefs.ErrInUse, "a service is already listening on %s", p)
		}
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	mode := os.FileMode(0o660)
	if rootless {
		mode = 0o600
	}
	// The socket is born with the umask's mode: make it no wider than mode from the start,
	// so there is no moment where someone else could connect.
	old := syscall.Umask(0o777 &^ int(mode))
	l, err := net.Listen("unix", p)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", p, err)
	}
	if err := os.Chmod(p, mode); err != nil {
		l.Close()
		return nil, fmt.Errorf("set mode of %s: %w", p, err)
	}
	return l, nil
}
