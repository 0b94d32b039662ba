package engine

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProcStartTime(t *testing.T) {
	// A child that has exited but is not waited for yet: a zombie, dead for the listing.
	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	for i := 0; i < 200; i++ {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(zombie.Process.Pid) + "/stat"); strings.Contains(string(b), ") Z ") {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	self := procStartTime(os.Getpid())
	for _, tc := range []struct {
		name string
		pid  int
		live bool
	}{
		{"this process", os.Getpid(), true},
		{"no such process", 1 << 30, false},
		{"zombie", zombie.Process.Pid, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := procStartTime(tc.pid); (got != 0) != tc.live {
				t.Errorf("procStartTime(%d) = %d, want live %v", tc.pid, got, tc.live)
			}
		})
	}
	if again := procStartTime(os.Getpid()); again != self {
		t.Errorf("procStartTime of this process changed: %d, then %d", self, again)
	}
}
