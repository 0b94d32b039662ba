package engine

import (
	"context"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/libcontainer/cgroups"
)

// Version is set at build time with -ldflags "-X .../internal/engine.Version=...".
var Version = "0.1.0-dev"

// Info describes the host and this berth root, as `berth info` shows it.
type Info struct {
	Host struct {
		Kernel        string
		OS            string
		Arch          string
		CgroupVersion string
		CgroupManager string
		Rootless      bool
	}
	Store struct {
		Driver     string
		Root       string
		RunRoot    string
		ConfigFile []string
		Images     int
		Containers int
	}
	Version string
}

// Info gathers host facts and object counts.
func (e *Engine) Info(ctx context.Context) (*Info, error) {
	var i Info
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		i.Host.Kernel = strings.TrimRight(string(u.Release[:]), "\x00")
	}
	i.Host.OS = runtime.GOOS
	i.Host.Arch = runtime.GOARCH
	i.Host.CgroupVersion = string(cgroups.DetectMode())
	i.Host.CgroupManager = "cgroupfs"
	i.Host.Rootless = e.Config.Rootless
	i.Store.Driver = e.Config.StorageDriver
	i.Store.Root = e.Config.Root
	i.Store.RunRoot = e.Config.RunRoot
	i.Store.ConfigFile = e.Config.Files
	i.Version = Version
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	if i.Store.Images, err = db.CountRows(ctx, "images"); err != nil {
		return nil, err
	}
	if i.Store.Containers, err = db.CountRows(ctx, "containers"); err != nil {
		return nil, err
	}
	return &i, nil
}
