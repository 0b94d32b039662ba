package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/libnet"
)

// A rootless container's network: the runtime gives it a network namespace of its own (the
// spec asks for a new one), and once its init exists, before its process starts, a helper
// (pasta or slirp4netns, libnet's user-mode networks) connects that namespace to the host
// and publishes its ports. The helper's pid file lives in the runtime root; the container's
// cleanup stops it, and a berth or monitor killed meanwhile leaves a file the next start or
// `ps` finds ([Engine.sweepUserNets]).

// userNetDir holds the helpers' pid files and API sockets, one set per container ID.
func (e *Engine) userNetDir() string { return filepath.Join(e.Config.RunRoot, "usernet") }

// prepareUserNet checks the helper can work here and records the intent (the mode, the host
// ports, checked free) before anything runs.
func (e *Engine) prepareUserNet(ctx context.Context, c *Container) error {
	u, err := libnet.ParseUserNet(c.Options.Network)
	if err != nil {
		return err
	}
	if err := libnet.CheckUserNet(u); err != nil {
		return err
	}
	e.sweepUserNets(ctx)
	c.Net = &NetworkState{UserNet: c.Options.Network}
	if err := e.saveContainer(ctx, c); err != nil {
		return err
	}
	return e.resolvePorts(ctx, c)
}

// connectUserNet starts c's helper on the network namespace of its init (pid), created but
// not yet started.
func (e *Engine) connectUserNet(ctx context.Context, c *Container, pid int) error {
	if c.Net == nil || c.Net.UserNet == "" {
		return nil
	}
	u, err := libnet.ParseUserNet(c.Net.UserNet)
	if err != nil {
		return err
	}
	start := time.Now()
	err = libnet.StartUserNet(ctx, "/proc/"+strconv.Itoa(pid)+"/ns/net", u,
		libnet.UserNetOptions{ID: c.ID, StateDir: e.userNetDir(), Ports: c.Net.Ports})
	if err != nil {
		return fmt.Errorf("network of %s: %w", c.Name, err)
	}
	logrus.WithField("container", c.ID).Debugf("network: %s connected in %s", u.Mode, time.Since(start))
	return nil
}

// sweepUserNets stops the helpers of containers that no longer run: left by a berth killed
// in the middle of a start, or by a monitor killed with its container.
func (e *Engine) sweepUserNets(ctx context.Context) {
	for _, id := range libnet.UserNetIDs(e.userNetDir()) {
		if e.tryTeardown(ctx, id) {
			_ = libnet.StopUserNet(e.userNetDir(), id) // a container whose record is gone
		}
	}
}
