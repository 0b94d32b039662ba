package libnet

import (
	"errors"

	"github.com/vishvananda/netlink"
)

// dumpRetries bounds how often a netlink dump the kernel interrupted is asked again.
const dumpRetries = 10

// retryDump runs a netlink dump again while the kernel reports it interrupted: an address or
// link that changed anywhere on the host during the dump (any other container starting) sets
// NLM_F_DUMP_INTR, and vishvananda/netlink then returns ErrDumpInterrupted with results that
// may miss entries. On a busy host that is the common case, not a fault.
func retryDump[T any](dump func() (T, error)) (T, error) {
	var (
		out T
		err error
	)
	for i := 0; i < dumpRetries; i++ {
		if out, err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, err
}
