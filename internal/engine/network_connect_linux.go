package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libnet"
)

// ConnectOptions are `network connect`'s flags.
type ConnectOptions struct {
	IP      string
	Aliases []string
	// Rejoin lets a container that is not running, left with no network by disconnecting
	// its last one, join a network again, as Docker's API allows (docker compose
	// disconnects and reconnects a created container to set its aliases).
	Rejoin bool
}

// ConnectNetwork connects a container to a network: a running one gains an interface at
// once, a stopped one at its next start.
func (e *Engine) ConnectNetwork(ctx context.Context, netRef, ctrRef string, o ConnectOptions) (retErr error) {
	if e.Config.Rootless {
		return errdefs.Newf(errdefs.ErrNotSupported, "network connect: rootless containers cannot join bridge networks")
	}
	n, err := e.Network(ctx, netRef)
	if err != nil {
		return err
	}
	c, release, err := e.lockedContainer(ctx, ctrRef)
	if err != nil {
		return err
	}
	defer release()
	defer func() {
		if retErr == nil {
			e.networkEvent("connect", n.Network, c.ID)
		}
	}()
	if o.Rejoin && !c.Active() && c.Options.Network == NetworkNone && len(c.Options.Networks) == 0 {
		c.Options.Network = ""
	}
	if c.Options.Network != "" {
		return errdefs.Newf(errdefs.ErrInvalid, "container %s uses network mode %s and cannot be connected to other networks", c.Name, c.Options.Network)
	}
	if memberOfOptions(c, n.Name) {
		return errdefs.Newf(errdefs.ErrExists, "container %s is already connected to network %s", c.Name, n.Name)
	}
	r := NetworkRequest{Name: n.Name, IP: o.IP, Aliases: o.Aliases}
	probe := CreateOptions{Networks: []NetworkRequest{r}}
	if err := e.resolveNetworkOptions(ctx, &probe); err != nil {
		return err
	}
	before := c.Options.Networks
	c.Options.Networks = append(append([]NetworkRequest{}, before...), r)
	if !c.Active() || c.Net == nil || c.Net.NetNS == "" {
		return e.saveContainer(ctx, c) // joins at its next start
	}
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, a := range c.Net.Attachments {
		used[a.IfName] = true
	}
	ifName := ""
	for i := 0; ifName == ""; i++ {
		if !used["eth"+strconv.Itoa(i)] {
			ifName = "eth" + strconv.Itoa(i)
		}
	}
	a, err := e.allocate(ctx, db.Networks(), c, n, r, ifName)
	if err != nil {
		_ = db.Networks().Release(ctx, c.ID, n.Name)
		return err
	}
	c.Net.Attachments = append(c.Net.Attachments, a)
	// The rollback is armed before the intent is saved: a failed save must still give the
	// address back.
	defer func() {
		if retErr == nil {
			return
		}
		bg := context.Background()
		c.Options.Networks, c.Net.Attachments = before, c.Net.Attachments[:len(c.Net.Attachments)-1]
		err := errors.Join(
			libnet.Teardown(bg, c.Net.NetNS, libnet.SetupOptions{ContainerID: c.ID, Attachments: []libnet.Attachment{a}}),
			db.Networks().Release(bg, c.ID, n.Name),
			e.saveContainer(bg, c),
			e.leaveNetwork(bg, n.Network),
		)
		if err != nil {
			logrus.WithField("container", c.ID).Warnf("undo network connect: %v", err)
		}
	}()
	if err := e.saveContainer(ctx, c); err != nil { // intent first
		return err
	}
	unlock, err := e.lockNetworks(ctx, []string{n.Name})
	if err != nil {
		return err
	}
	defer unlock()
	if err := libnet.EnsureNetwork(ctx, n.Network); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	if err := libnet.Setup(ctx, c.Net.NetNS, libnet.SetupOptions{ContainerID: c.ID, Attachments: []libnet.Attachment{a}}); err != nil {
		return fmt.Errorf("connect %s to %s: %w", c.Name, n.Name, err)
	}
	if err := e.refreshNetwork(ctx, n.Network, false); err != nil {
		return err
	}
	return e.rewriteOwnEtc(ctx, c)
}

func memberOfOptions(c *Container, name string) bool {
	for _, r := range c.Options.Networks {
		if r.Name == name {
			return true
		}
	}
	return false
}

// DisconnectNetwork disconnects a container from a network: a running one loses its
// interface there at once. force disconnects even a network record that is gone.
func (e *Engine) DisconnectNetwork(ctx context.Context, netRef, ctrRef string, force bool) (retErr error) {
	name := netRef
	n, err := e.Network(ctx, netRef)
	switch {
	case err == nil:
		name = n.Name
	case !force || !errors.Is(err, errdefs.ErrNotFound):
		return err
	}
	c, release, err := e.lockedContainer(ctx, ctrRef)
	if err != nil {
		return err
	}
	defer release()
	defer func() {
		if retErr != nil {
			return
		}
		left := libnet.Network{Name: name, ID: name}
		if n != nil {
			left = n.Network
		}
		e.networkEvent("disconnect", left, c.ID)
	}()
	if !memberOfOptions(c, name) && !memberOf(c, name) {
		return errdefs.Newf(errdefs.ErrNotFound, "container %s is not connected to network %s", c.Name, name)
	}
	var keep []NetworkRequest
	for _, r := range c.Options.Networks {
		if r.Name != name {
			keep = append(keep, r)
		}
	}
	c.Options.Networks = keep
	if len(keep) == 0 {
		c.Options.Network = NetworkNone // Docker leaves such a container with no network
	}
	if c.Net == nil {
		return e.saveContainer(ctx, c)
	}
	var gone *libnet.Attachment
	var rest []libnet.Attachment
	for i, a := range c.Net.Attachments {
		if a.Network.Name == name {
			gone = &c.Net.Attachments[i]
		} else {
			rest = append(rest, a)
		}
	}
	if gone == nil {
		return e.saveContainer(ctx, c)
	}
	opts := libnet.SetupOptions{ContainerID: c.ID, Attachments: []libnet.Attachment{*gone}}
	if gone.IfName == c.Net.Attachments[0].IfName {
		opts.Ports, c.Net.Ports = c.Net.Ports, nil // published on this interface's address
	}
	if err := libnet.Teardown(ctx, c.Net.NetNS, opts); err != nil {
		return fmt.Errorf("disconnect %s from %s: %w", c.Name, name, err)
	}
	db, err := e.DB(ctx)
	if err != nil {
		return err
	}
	if err := db.Networks().Release(ctx, c.ID, name); err != nil {
		return err
	}
	left := *gone
	c.Net.Attachments = rest
	if err := e.saveContainer(ctx, c); err != nil {
		return err
	}
	if err := e.leaveNetwork(ctx, left.Network); err != nil {
		return err
	}
	return e.rewriteOwnEtc(ctx, c)
}
