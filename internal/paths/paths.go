// Package paths decides where berth keeps its state, for rootful and rootless users alike.
// It is the one place that knows which mode berth runs in (DESIGN.md, "Where things live on disk").
package paths

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/userns"
)

// Env is what the defaults are computed from; tests fill it in by hand.
type Env struct {
	UID           int
	Home          string
	XDGDataHome   string
	XDGRuntimeDir string
	XDGConfigHome string
}

// FromOS reads Env from the running process.
func FromOS() Env {
	home, _ := os.UserHomeDir()
	return Env{
		UID:           userns.HostUID(), // inside berth's user namespace we are root, but rootless
		Home:          home,
		XDGDataHome:   os.Getenv("XDG_DATA_HOME"),
		XDGRuntimeDir: os.Getenv("XDG_RUNTIME_DIR"),
		XDGConfigHome: os.Getenv("XDG_CONFIG_HOME"),
	}
}

// Rootless reports whether defaults are those of an unprivileged user.
func (e Env) Rootless() bool { return e.UID != 0 }

// Defaults are the built-in locations for one user.
type Defaults struct {
	Root         string // persistent: images, layers, database
	RunRoot      string // runtime: locks, container runtime state; empty after reboot
	SystemConfig string
	UserConfig   string // empty for root
	Rootless     bool
}

// For computes the built-in defaults for e.
func For(e Env) Defaults {
	if !e.Rootless() {
		return Defaults{
			Root:         "/var/lib/berth",
			RunRoot:      "/run/berth",
			SystemConfig: "/etc/berth/berth.conf",
		}
	}
	data := e.XDGDataHome
	if data == "" {
		data = filepath.Join(e.Home, ".local", "share")
	}
	cfg := e.XDGConfigHome
	if cfg == "" {
		cfg = filepath.Join(e.Home, ".config")
	}
	run := filepath.Join(e.XDGRuntimeDir, "berth")
	if e.XDGRuntimeDir == "" || !writableDir(e.XDGRuntimeDir) {
		run = fmt.Sprintf("/tmp/berth-%d", e.UID)
	}
	return Defaults{
		Root:         filepath.Join(data, "berth"),
		RunRoot:      run,
		SystemConfig: "/etc/berth/berth.conf",
		UserConfig:   filepath.Join(cfg, "berth", "berth.conf"),
		Rootless:     true,
	}
}

func writableDir(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
}
