package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/userns"
)

// resolveUserNS checks --userns and --uidmap/--gidmap at create. --userns=auto picks its
// range here, apart from every other auto container's, and the returned release keeps the
// next auto create waiting until this one's record holds the range.
func (e *Engine) resolveUserNS(ctx context.Context, o *CreateOptions) (func(), error) {
	none := func() {}
	m, err := userns.ParseMode(o.UserNS)
	if err != nil {
		return none, err
	}
	if len(o.UIDMaps) > 0 || len(o.GIDMaps) > 0 {
		if m.Kind != "" {
			return none, errdefs.Newf(errdefs.ErrInvalid, "--userns=%s and --uidmap/--gidmap cannot be combined", o.UserNS)
		}
		if len(o.GIDMaps) == 0 {
			o.GIDMaps = o.UIDMaps
		}
		if len(o.UIDMaps) == 0 {
			o.UIDMaps = o.GIDMaps
		}
		return none, e.checkMaps(o.UIDMaps, o.GIDMaps)
	}
	switch m.Kind {
	case userns.ModeKeepID, userns.ModeNoMap:
		if !e.Config.Rootless {
			return none, errdefs.Newf(errdefs.ErrNotSupported, "--userns=%s is only supported rootless", m.Kind)
		}
	case userns.ModeAuto:
		return e.pickAutoRange(ctx, o, m.Size)
	}
	return none, nil
}

// idSpace is where a new user namespace's host ids come from: berth's own rootless
// namespace ([1, size): 0 is the user), or for root the "containers" entry of /etc/subuid
// and /etc/subgid, as podman's auto.
func (e *Engine) idSpace(gid bool) (userns.Range, error) {
	if e.Config.Rootless {
		n, err := userns.NamespaceSize(gid)
		if err != nil {
			return userns.Range{}, err
		}
		return userns.Range{Start: 1, Count: n - 1}, nil
	}
	file := "/etc/subuid"
	if gid {
		file = "/etc/subgid"
	}
	rs, err := userns.SubIDs(file, "containers", -1)
	if err != nil {
		return userns.Range{}, errdefs.Newf(errdefs.ErrInvalid, "--userns=auto as root needs a range for containers in %s (usermod --add-subuids 2147483647-2147549183 --add-subgids 2147483647-2147549183 containers)", file)
	}
	return rs[0], nil
}

// checkMaps refuses overlapping maps and, rootless, host ids outside berth's namespace.
func (e *Engine) checkMaps(uids, gids []userns.IDMap) error {
	for i, maps := range [][]userns.IDMap{uids, gids} {
		if err := userns.CheckMaps(maps); err != nil {
			return err
		}
		if !e.Config.Rootless {
			continue
		}
		n, err := userns.NamespaceSize(i == 1)
		if err != nil {
			return err
		}
		for _, m := range maps {
			if m.Host+m.Size > n {
				return errdefs.Newf(errdefs.ErrInvalid, "id map %d:%d:%d: a rootless user has ids 0 to %d (0 is the user, then the /etc/subuid and /etc/subgid ranges)", m.Container, m.Host, m.Size, n-1)
			}
		}
	}
	return nil
}

// pickAutoRange gives o a range of size uids and gids no other auto container has.
func (e *Engine) pickAutoRange(ctx context.Context, o *CreateOptions, size int) (func(), error) {
	l, err := e.Lock(ctx, "userns", "_auto")
	if err != nil {
		return func() {}, err
	}
	cs, err := e.containerRecords(ctx)
	if err != nil {
		l.Release()
		return func() {}, err
	}
	var usedU, usedG []userns.IDMap
	for _, c := range cs {
		if m, _ := userns.ParseMode(c.Options.UserNS); m.Kind == userns.ModeAuto {
			usedU, usedG = append(usedU, c.Options.UIDMaps...), append(usedG, c.Options.GIDMaps...)
		}
	}
	for i, used := range [][]userns.IDMap{usedU, usedG} {
		space, err := e.idSpace(i == 1)
		if err == nil {
			var r userns.IDMap
			if r, err = userns.AutoRange(size, space, used); err == nil {
				if i == 0 {
					o.UIDMaps = []userns.IDMap{r}
				} else {
					o.GIDMaps = []userns.IDMap{r}
				}
			}
		}
		if err != nil {
			l.Release()
			return func() {}, err
		}
	}
	return func() { l.Release() }, nil
}

// setUserNS gives the spec a user namespace of its own where c's options ask for one, and
// with keep-id (and no --user) runs the process as the user's ids inside.
func (e *Engine) setUserNS(s *specs.Spec, c *Container) error {
	return applyUserNS(s, c.Options.UserNS, c.Options.UIDMaps, c.Options.GIDMaps, c.Options.User != "")
}

// applyUserNS is setUserNS for a --userns mode and resolved maps; userGiven says --user
// (or a RUN step's USER) chose the process's ids.
func applyUserNS(s *specs.Spec, mode string, uids, gids []userns.IDMap, userGiven bool) error {
	m, err := userns.ParseMode(mode)
	if err != nil {
		return err
	}
	switch m.Kind {
	case userns.ModeKeepID, userns.ModeNoMap:
		nu, err := userns.NamespaceSize(false)
		if err != nil {
			return err
		}
		ng, err := userns.NamespaceSize(true)
		if err != nil {
			return err
		}
		if m.Kind == userns.ModeNoMap {
			uids, gids = userns.NoMapMaps(nu), userns.NoMapMaps(ng)
			break
		}
		uid, gid := m.UID, m.GID
		if uid < 0 {
			uid = userns.HostUID()
		}
		if gid < 0 {
			gid = userns.HostGID()
		}
		if uid >= nu || gid >= ng {
			return errdefs.Newf(errdefs.ErrInvalid, "--userns=%s: uid %d or gid %d is beyond the %d ids of the user's namespace", mode, uid, gid, min(nu, ng))
		}
		uids, gids = userns.KeepIDMaps(uid, nu), userns.KeepIDMaps(gid, ng)
		if !userGiven {
			s.Process.User = specs.User{UID: uint32(uid), GID: uint32(gid)}
		}
	}
	if len(uids) == 0 {
		return nil
	}
	conv := func(ms []userns.IDMap) []specs.LinuxIDMapping {
		out := make([]specs.LinuxIDMapping, 0, len(ms))
		for _, x := range ms {
			out = append(out, specs.LinuxIDMapping{ContainerID: uint32(x.Container), HostID: uint32(x.Host), Size: uint32(x.Size)})
		}
		return out
	}
	s.Linux.UIDMappings, s.Linux.GIDMappings = conv(uids), conv(gids)
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			return nil
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	return nil
}

// buildUserNS resolves a build's --userns, --uidmap and --gidmap for its RUN steps, as
// create does for a container (an auto range is picked for this build only).
func (e *Engine) buildUserNS(ctx context.Context, mode string, uidmaps, gidmaps []string) (CreateOptions, error) {
	o := CreateOptions{UserNS: mode}
	for i, raw := range [][]string{uidmaps, gidmaps} {
		for _, r := range raw {
			m, err := userns.ParseIDMap(r)
			if err != nil {
				return o, err
			}
			if i == 0 {
				o.UIDMaps = append(o.UIDMaps, m)
			} else {
				o.GIDMaps = append(o.GIDMaps, m)
			}
		}
	}
	release, err := e.resolveUserNS(ctx, &o)
	release()
	if err != nil {
		return o, err
	}
	// Without berth's own user as the steps' root their layers would need shifted owners,
	// which the layers a step commits would then record.
	if h, ok := userns.HostOf(o.UIDMaps, 0); isMode(mode, userns.ModeNoMap) || len(o.UIDMaps) > 0 && (!ok || h != 0) {
		what := "--uidmap/--gidmap without the user as root inside"
		if mode != "" {
			what = "--userns=" + mode
		}
		return o, errdefs.Newf(errdefs.ErrNotSupported, "build %s is not supported for RUN steps (their layers would record shifted owners): use --userns=keep-id or host", what)
	}
	return o, nil
}

// shiftedRootfs readies a container's root filesystem for a user namespace that does not
// map berth's own user (the rootless user, or root): its files get the owners that show as the image's inside (once per
// container layer, remembered by a file in the container's directory), and it is reached
// through a bind mount in a directory anyone may cross, since its root cannot search the
// user's own directories on the way to the layer. It returns the path to give the runtime.
func (e *Engine) shiftedRootfs(c *Container, rootfs string) (string, error) {
	if len(c.Options.UIDMaps) == 0 && !isMode(c.Options.UserNS, userns.ModeNoMap) {
		return rootfs, nil
	}
	uids, gids := c.Options.UIDMaps, c.Options.GIDMaps
	if isMode(c.Options.UserNS, userns.ModeNoMap) {
		nu, err := userns.NamespaceSize(false)
		if err != nil {
			return "", err
		}
		ng, err := userns.NamespaceSize(true)
		if err != nil {
			return "", err
		}
		uids, gids = userns.NoMapMaps(nu), userns.NoMapMaps(ng)
	}
	if h, ok := userns.HostOf(uids, 0); ok && h == 0 {
		return rootfs, nil // the user is the container's root: nothing to shift or cross
	}
	marker := filepath.Join(e.containerDir(c.ID), "rootfs-shifted")
	if _, err := os.Stat(marker); err != nil {
		if err := userns.ShiftTree(rootfs, uids, gids); err != nil {
			return "", fmt.Errorf("give %s's files their owners in its user namespace: %w", c.Name, err)
		}
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			return "", err
		}
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("berth-rootfs-%d", userns.HostUID()))
	if err := os.Mkdir(dir, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	// /tmp is everyone's: use the directory only if it is ours and not a link.
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() {
		return "", fmt.Errorf("%s is not a directory of this user", dir)
	}
	_ = os.Chmod(dir, 0o711)
	target := filepath.Join(dir, c.ID)
	if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	// In this command's mount namespace only: the container's is made from it.
	if err := unix.Mount(rootfs, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", &os.PathError{Op: "bind root filesystem", Path: target, Err: err}
	}
	return target, nil
}

// removeShiftedRootfs removes what shiftedRootfs and crossableMounts made for c.
func (e *Engine) removeShiftedRootfs(c *Container) {
	target := filepath.Join(os.TempDir(), fmt.Sprintf("berth-rootfs-%d", userns.HostUID()), c.ID)
	_ = unix.Unmount(target, unix.MNT_DETACH)
	_ = os.Remove(target)
	mounts, _ := os.ReadDir(target + ".mounts")
	for _, m := range mounts {
		p := filepath.Join(target+".mounts", m.Name())
		_ = unix.Unmount(p, unix.MNT_DETACH)
		_ = os.Remove(p)
	}
	_ = os.Remove(target + ".mounts")
}

func isMode(mode, kind string) bool {
	m, err := userns.ParseMode(mode)
	return err == nil && m.Kind == kind
}

// crossableMounts rebinds the spec's bind mounts whose source lies in berth's own
// directories (its /etc files, named volumes) next to the root filesystem shiftedRootfs
// bound, for the same reason: the container's root cannot search the way there.
func (e *Engine) crossableMounts(s *specs.Spec, c *Container) error {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("berth-rootfs-%d", userns.HostUID()), c.ID+".mounts")
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	for i, m := range s.Mounts {
		if m.Type != "bind" && !hasBindOpt(m.Options) {
			continue
		}
		if !within(m.Source, e.Config.Root) && !within(m.Source, e.Config.RunRoot) {
			continue
		}
		fi, err := os.Stat(m.Source)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, strconv.Itoa(i))
		if fi.IsDir() {
			err = os.Mkdir(target, 0o700)
		} else {
			err = os.WriteFile(target, nil, 0o600)
		}
		if err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := unix.Mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return &os.PathError{Op: "bind " + m.Source, Path: target, Err: err}
		}
		s.Mounts[i].Source = target
	}
	return nil
}

func hasBindOpt(opts []string) bool {
	for _, o := range opts {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// checkUserNSJoins refuses a new user namespace together with namespaces joined by path (a
// bridge network's, another container's or a pod's): the runtime's init joins them from
// inside the new namespace, which holds no capability over them.
func checkUserNSJoins(s *specs.Spec) error {
	newUser := false
	var joined []string
	for _, ns := range s.Linux.Namespaces {
		switch {
		case ns.Type == specs.UserNamespace:
			newUser = ns.Path == ""
		case ns.Path != "":
			joined = append(joined, string(ns.Type))
		}
	}
	if newUser && len(joined) > 0 {
		return errdefs.Newf(errdefs.ErrNotSupported, "--userns and --uidmap/--gidmap cannot be combined with joining the %s namespace of a network, container or pod: use --network none or host (as root), or the default pasta/slirp4netns network (rootless)", strings.Join(joined, ", "))
	}
	return nil
}
