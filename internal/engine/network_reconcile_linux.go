package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libnet"
)

// sweepNetworks releases what containers no longer running still hold: a berth killed in
// the middle of a start, or a monitor killed with its container. A container whose lock is
// held is being worked on and left alone.
func (e *Engine) sweepNetworks(ctx context.Context) {
	if e.Config.Rootless {
		e.sweepUserNets(ctx)
	}
	db, err := e.DB(ctx)
	if err != nil {
		return
	}
	// One query names the holders that are not active: `ps` comes through here, and it must
	// not read every container's record. An active one whose monitor died is released by
	// its reconcile.
	ids, err := db.Networks().IdleHolders(ctx, StateRunning, StatePaused, StateRestarting)
	if err != nil {
		logrus.Debugf("sweep networks: %v", err)
		return
	}
	for _, id := range ids {
		e.tryTeardown(ctx, id)
	}
}

// tryTeardown tears down the network of container id if it is not active and no one holds
// its lock, and says whether it did. A container whose record is gone (a berth killed
// between a failed teardown and the record's deletion) is released by its id, which names
// its addresses, its port rules and its netns file; its veths die with the namespace.
func (e *Engine) tryTeardown(ctx context.Context, id string) bool {
	l, ok := e.tryLockContainer(id)
	if !ok {
		return false
	}
	defer l.Release()
	db, err := e.DB(ctx)
	if err != nil {
		return false
	}
	var c Container
	if _, err := db.Containers().Get(ctx, id, &c); errors.Is(err, errdefs.ErrNotFound) {
		_ = libnet.Teardown(ctx, "", libnet.SetupOptions{ContainerID: id})
		_ = libnet.RemoveNetNS(e.netnsPath(id))
		allocs, _ := db.Networks().Allocations(ctx, "")
		_ = db.Networks().Release(ctx, id, "")
		for _, a := range allocs {
			if a.Container == id {
				if n, err := e.Network(ctx, a.Network); err == nil {
					_ = e.leaveNetwork(ctx, n.Network)
				}
			}
		}
		return true
	} else if err != nil || c.Active() || e.monitorAlive(&c) {
		return false // a start killed after the monitor began leaves a running container
	}
	if c.Net == nil {
		return db.Networks().Release(ctx, id, "") == nil
	}
	logrus.WithField("container", id).Debug("network: releasing what a stopped container still held")
	if err := e.teardownNetwork(ctx, &c); err != nil {
		logrus.WithField("container", id).Warnf("release network: %v", err)
		return false
	}
	return true
}

// pruneNetworkLeftovers removes kernel objects berth made for this root's containers that
// no longer hold a network: veths, port rules, netns files. Objects of containers and
// networks this root does not know are left alone: another root (--root, tests) may be
// using them, and this root's own are always recorded before they are made.
func (e *Engine) pruneNetworkLeftovers(ctx context.Context) error {
	if e.Config.Rootless {
		return nil
	}
	// The netns files first, then the records: a file made after the listing belongs to a
	// container whose intent the records already show.
	ents, _ := os.ReadDir(filepath.Join(e.Config.RunRoot, "netns"))
	cs, err := e.containerRecords(ctx)
	if err != nil {
		return err
	}
	known, holds := map[string]bool{}, map[string]bool{}
	var names []string
	for _, c := range cs {
		known[c.ID], holds[c.ID] = true, c.Net != nil
	}
	ns, err := e.Networks(ctx)
	if err != nil {
		return err
	}
	for _, n := range ns {
		names = append(names, n.Name)
	}
	// With every network locked no container of this root is between its recorded intent
	// and its interfaces.
	release, err := e.lockNetworks(ctx, names)
	if err != nil {
		return err
	}
	defer release()
	keepContainer := func(id string) bool { return !known[id] || holds[id] }
	keepNetwork := func(string) bool { return true } // removed with their records, never left
	if err := libnet.Prune(ctx, keepContainer, keepNetwork); err != nil {
		return fmt.Errorf("prune network leftovers: %w", err)
	}
	for _, ent := range ents {
		if !holds[ent.Name()] {
			_ = libnet.RemoveNetNS(filepath.Join(e.Config.RunRoot, "netns", ent.Name()))
		}
	}
	return nil
}
