package libnet

import (
	"errors"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestRetryDump(t *testing.T) {
	other := errors.New("permission denied")
	for _, tc := range []struct {
		name        string
		interrupted int   // dumps the kernel interrupts before one completes
		final       error // what the completing dump returns
		wantCalls   int
		wantErr     error
	}{
		{"first dump whole", 0, nil, 1, nil},
		{"interrupted twice then whole", 2, nil, 3, nil},
		{"other error not retried", 0, other, 1, other},
		{"always interrupted gives up", 100, nil, dumpRetries, netlink.ErrDumpInterrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got, err := retryDump(func() (int, error) {
				calls++
				if calls <= tc.interrupted {
					return -1, netlink.ErrDumpInterrupted
				}
				return 7, tc.final
			})
			if calls != tc.wantCalls || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && got != 7) {
				t.Errorf("retryDump: %d calls, (%d, %v), want %d calls, err %v", calls, got, err, tc.wantCalls, tc.wantErr)
			}
		})
	}
}
