package dns

import (
	"os"
	"testing"

	"github.com/berth-project/berth/internal/reexec"
)

// TestMain dispatches the berth-dns mode, so Start can re-exec this test binary.
func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}
