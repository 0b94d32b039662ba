//go:build !linux

package dns

import (
	"context"
	"io/fs"
	"net"

	"github.com/berth-project/berth/internal/errdefs"
)

// Start needs Linux: the responder is a detached re-exec found again through /proc.
func Start(dir string, o Options) error { return errdefs.ErrNotSupported }

// Stop needs Linux.
func Stop(dir string) error { return errdefs.ErrNotSupported }

func listenUDP(ctx context.Context, addr string) (net.PacketConn, error) {
	var lc net.ListenConfig
	return lc.ListenPacket(ctx, "udp", addr)
}

func fileIno(fi fs.FileInfo) uint64 { return 0 }
