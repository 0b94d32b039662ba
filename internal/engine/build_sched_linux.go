package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libcontainer"
	"github.com/berth-project/berth/libimage"
)

// buildID names a build step's container and layer after this process, so that what a
// killed build leaves can be told from what a running one uses.
func (e *Engine) buildID(kind string) string {
	return fmt.Sprintf("%s-%d-%s", kind, os.Getpid(), randomID()[:16])
}

// sweepBuilds removes what builds killed mid-step left: their containers, writable layers
// and run directories. A step's run directory is made before anything else and removed
// last, so it marks every leftover.
func (e *Engine) sweepBuilds(ctx context.Context, store *libimage.Store) {
	base := filepath.Join(e.Config.RunRoot, "build")
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	rt := &libcontainer.Runtime{Root: filepath.Join(e.Config.RunRoot, "runtime")}
	for _, en := range entries {
		parts := strings.SplitN(en.Name(), "-", 3)
		if len(parts) != 3 || (parts[0] != "build" && parts[0] != "buildmnt") {
			continue
		}
		pid, err := strconv.Atoi(parts[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // its build is still running
		}
		id := en.Name()
		if parts[0] == "build" {
			if err := rt.Delete(ctx, id, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
				continue
			}
		}
		if err := store.RemoveContainerLayer(ctx, id); err != nil {
			continue
		}
		os.RemoveAll(filepath.Join(base, id))
	}
}

// buildNice is the nice value builds run at.
const buildNice = 10

// lowerBuildPriority puts this build and the RUN containers it starts (they inherit it) in
// SCHED_BATCH at buildNice: a build never preempts others when it wakes and weighs a tenth
// of an interactive command, so `ps`, `images` and `exec` keep answering while many builds
// run, yet a build still progresses on a machine kept busy by other work (SCHED_IDLE would
// starve it). On Linux the policy belongs to a thread: each existing thread is set, and
// threads started later inherit it from their creator.
func lowerBuildPriority() {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_BATCH, Nice: buildNice}
		if unix.SchedSetAttr(tid, attr, 0) != nil {
			_ = unix.Setpriority(unix.PRIO_PROCESS, tid, buildNice)
		}
	}
}

// runSlots bounds how many RUN containers all builds on this root run at once: beyond a few
// per CPU, more containers only add processes, memory and scheduling delay, not throughput.
func runSlots() int { return max(8, 4*runtime.NumCPU()) }

// buildSlots bounds how many builds on this root work at once; the others wait asleep on a
// lock. Builds are CPU-bound between their RUN steps too (context hashing, layer compression),
// so fifty at once on two CPUs would only queue fifty runnable processes ahead of every
// interactive command. It stays below runSlots so a working build always finds a RUN slot.
func buildSlots() int { return max(4, 2*runtime.NumCPU()) }

// acquireSlot waits for one of the root's n slots of a kind (flock files, so a killed
// build's slot frees itself) and returns its release.
func (e *Engine) acquireSlot(ctx context.Context, kind string, n int) (func(), error) {
	dir := filepath.Join(e.Config.RunRoot, kind)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	start := os.Getpid() % n // spread the first tries
	for delay := 2 * time.Millisecond; ; {
		for i := 0; i < n; i++ {
			f, err := flockFile(ctx, filepath.Join(dir, strconv.Itoa((start+i)%n)), false)
			if err != nil {
				return nil, err
			}
			if f != nil {
				return func() { f.Close() }, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}
