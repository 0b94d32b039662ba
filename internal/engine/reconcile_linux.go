package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
)

// reconcileListed is [Engine.reconcile] for a listing (ps, rm -a, prune), whose cost must
// not grow with every running container: an active container whose recorded monitor still
// runs, with no exit recorded and no restart policy, is as its record says (running or
// paused, both recorded by the commands that make them so). That costs a stat, a read of
// /proc and a missing health file per container instead of the runtime's state, its cgroup
// and five files. Anything else, and every container a command acts on (Container), gets
// the full reconcile.
func (e *Engine) reconcileListed(ctx context.Context, c *Container) error {
	if !c.Active() {
		return nil
	}
	if c.State == StateRestarting || c.MonitorPid <= 0 || c.MonitorStart == 0 ||
		(c.Options.Restart.Name != "" && c.Options.Restart.Name != "no") {
		return e.reconcile(ctx, c)
	}
	if _, err := os.Lstat(e.runFile(c, "exit")); !os.IsNotExist(err) {
		return e.reconcile(ctx, c)
	}
	if procStartTime(c.MonitorPid) != c.MonitorStart {
		return e.reconcile(ctx, c) // its monitor is gone (or its pid is another process's)
	}
	if b, err := os.ReadFile(e.runFile(c, "health.json")); err == nil {
		var h HealthState
		if json.Unmarshal(b, &h) == nil {
			c.Health = &h
		}
	}
	return nil
}

// procStartTime returns when process pid started, in clock ticks after boot (field 22 of
// /proc/PID/stat), or 0 if it does not exist or is dead (a zombie its parent has not reaped
// yet: a killed monitor's parent may be an init that never reaps).
func procStartTime(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces and parentheses: fields resume after the
	// last ')', with the state (field 3) first.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || f[0][0] == 'Z' || f[0][0] == 'X' {
		return 0
	}
	n, _ := strconv.ParseUint(string(f[19]), 10, 64)
	return n
}
