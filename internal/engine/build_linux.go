package engine

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/build"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libcontainer"
	"github.com/berth-project/berth/libimage"
	"github.com/berth-project/berth/libimage/archive"
)

// buildHostname is the hostname RUN steps see.
const buildHostname = "berth-build"

// RunError is a RUN step whose command exited non-zero; it carries the status.
type RunError struct {
	Args []string
	Code int
}

func (e *RunError) Error() string {
	return fmt.Sprintf("process %q did not complete successfully: exit code: %d", strings.Join(e.Args, " "), e.Code)
}

// ExitCode is the RUN command's exit status.
func (e *RunError) ExitCode() int { return e.Code }

// Run runs one RUN step in a container on a fresh writable layer over parent and, when it
// exits 0, commits that layer's upper directory as the step's layer. The writable layer, its
// mount, the runtime state and every helper file go away however the step ends, Ctrl-C
// included. The network default is the host's (the build's --network, or the step's).
func (b *buildBackend) Run(ctx context.Context, parent build.Image, spec build.RunSpec, c build.CommitOptions) (_ build.Image, retErr error) {
	if len(spec.Args) == 0 {
		return build.Image{}, errdefs.Newf(errdefs.ErrInvalid, "RUN: no command")
	}
	p, err := b.image(ctx, parent)
	if err != nil {
		return build.Image{}, err
	}
	b.e.adjustBuildPriority()
	id := b.e.buildID("build")
	// The run directory exists before the layer, so a sweep after a kill finds both.
	dir := filepath.Join(b.e.Config.RunRoot, "build", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return build.Image{}, err
	}
	defer os.RemoveAll(dir)
	if err := b.store.CreateBuildLayer(ctx, id, p); err != nil {
		return build.Image{}, err
	}
	defer func() {
		bg := context.Background()
		if err := b.store.RemoveContainerLayer(bg, id); err != nil && retErr == nil {
			retErr = err
		}
	}()
	rootfs, err := b.store.MountContainerLayer(ctx, id)
	if err != nil {
		return build.Image{}, err
	}
	var releases []func()
	defer func() {
		for i := len(releases) - 1; i >= 0; i-- {
			releases[i]()
		}
	}()
	s, err := b.runSpec(ctx, id, dir, rootfs, &spec, &releases)
	if err != nil {
		return build.Image{}, err
	}
	stubs, err := makeStubs(rootfs, s.Mounts)
	if err != nil {
		return build.Image{}, err
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return build.Image{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o600); err != nil {
		return build.Image{}, err
	}
	network := spec.Network
	if network == "" {
		network = b.network
	}
	releaseSlot, err := b.e.acquireRunSlot(ctx)
	if err != nil {
		return build.Image{}, err
	}
	code, err := b.runContainer(ctx, id, dir, network == "none", spec.Stdout, spec.Stderr)
	releaseSlot() // the container is gone; the commit needs no slot
	if err != nil {
		return build.Image{}, err
	}
	if code != 0 {
		return build.Image{}, &RunError{Args: spec.Args, Code: code}
	}
	if err := stubs.remove(); err != nil {
		return build.Image{}, err
	}
	if err := b.store.UnmountContainerLayer(ctx, id); err != nil {
		return build.Image{}, err
	}
	img, err := b.commitLayer(ctx, p, id, c)
	if err != nil {
		return build.Image{}, err
	}
	return img, nil
}

// commitLayer streams the writable layer id's upper directory into a new image on parent.
func (b *buildBackend) commitLayer(ctx context.Context, parent *libimage.Image, id string, c build.CommitOptions) (build.Image, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(b.store.DiffContainerLayer(ctx, id, pw))
	}()
	img, err := b.store.CommitLayer(ctx, parent, pr, &libimage.LayerCommit{Config: c.Config, History: c.History, Created: c.Created, Epoch: c.Epoch})
	pr.CloseWithError(errors.New("commit ended"))
	<-done
	if err != nil {
		return build.Image{}, err
	}
	if err := b.markProduced(ctx, img.ID); err != nil {
		return build.Image{}, err
	}
	return toBuildImage(img), nil
}

// runSpec builds the OCI spec of a RUN step; what it sets up for mounts (locks, views of
// other images, copies) is undone by the functions it appends to releases.
func (b *buildBackend) runSpec(ctx context.Context, id, dir, rootfs string, rs *build.RunSpec, releases *[]func()) (*specs.Spec, error) {
	s := libcontainer.DefaultSpec()
	s.Root = &specs.Root{Path: rootfs}
	s.Process.Terminal = false
	s.Process.Args = rs.Args
	env := append([]string(nil), rs.Env...) // never append into the builder's slice
	hasPath := false
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			hasPath = true
		}
	}
	if !hasPath {
		env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	}
	s.Process.Env = append(env, "HOSTNAME="+buildHostname)
	s.Process.Cwd = "/"
	if rs.Workdir != "" {
		s.Process.Cwd = filepath.Clean("/" + rs.Workdir)
		p, err := secureJoin(rootfs, s.Process.Cwd)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("create workdir %s: %w", rs.Workdir, err)
		}
	}
	u, err := resolveUser(rootfs, rs.User)
	if err != nil {
		return nil, err
	}
	s.Process.User = u
	caps := append([]string(nil), libcontainer.DefaultCaps...)
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	s.Process.NoNewPrivileges = false // setuid binaries work in RUN, as in docker build
	s.Process.Rlimits = nil
	s.Hostname = buildHostname
	s.Linux.CgroupsPath = "/berth/" + id
	s.Linux.Seccomp = defaultSeccomp()
	network := rs.Network
	if network == "" {
		network = b.network
	}
	switch network {
	case "none":
	case "", "host", "default":
		// The default is the host's network: build steps fetch what they need, as with
		// `docker build --network host`. (Bridge networks for builds are not wired here.)
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.NetworkNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	default:
		return nil, errdefs.Newf(errdefs.ErrInvalid, "RUN --network=%s: want default, host or none", network)
	}
	etc := map[string]string{"hosts": "127.0.0.1\tlocalhost " + buildHostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"}
	if network != "none" {
		if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
			etc["resolv.conf"] = string(b)
		}
	}
	for _, name := range []string{"hosts", "resolv.conf"} {
		content, ok := etc[name]
		if !ok {
			continue
		}
		src := filepath.Join(dir, name)
		if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
			return nil, err
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/" + name, Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}})
	}
	for i, m := range rs.Mounts {
		sm, err := b.runMount(ctx, dir, rs, i, m, releases)
		if err != nil {
			return nil, err
		}
		if sm != nil {
			s.Mounts = append(s.Mounts, *sm)
		}
	}
	return s, nil
}

// runMount turns one RUN --mount into an OCI mount; nil means nothing to mount (a missing
// optional secret).
func (b *buildBackend) runMount(ctx context.Context, dir string, rs *build.RunSpec, i int, m build.RunMount, releases *[]func()) (*specs.Mount, error) {
	if m.Target == "" || !filepath.IsAbs(m.Target) && m.Type != "secret" {
		if m.Type != "secret" {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "RUN --mount=type=%s: target must be an absolute path, got %q", m.Type, m.Target)
		}
	}
	target := filepath.Clean("/" + m.Target)
	switch m.Type {
	case "bind":
		src, err := b.mountSource(ctx, rs, m, releases)
		if err != nil {
			return nil, err
		}
		if !m.ReadOnly && m.From.ID == "" {
			// Writes to a rw bind of the context are thrown away with the step, never made
			// to the user's files: the step sees a private copy.
			cp := filepath.Join(dir, "bind-"+strconv.Itoa(i))
			if err := copyPathTo(ctx, src, cp); err != nil {
				return nil, fmt.Errorf("RUN --mount=type=bind,source=%s: %w", m.Source, err)
			}
			src = cp
		}
		opts := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		return &specs.Mount{Destination: target, Type: "bind", Source: src, Options: opts}, nil
	case "cache":
		src, err := b.cacheMount(ctx, rs, m, releases)
		if err != nil {
			return nil, err
		}
		opts := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		return &specs.Mount{Destination: target, Type: "bind", Source: src, Options: opts}, nil
	case "tmpfs":
		opts := []string{"nosuid", "nodev"}
		if m.Size > 0 {
			opts = append(opts, "size="+strconv.FormatInt(m.Size, 10))
		}
		return &specs.Mount{Destination: target, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	case "secret":
		if m.Target == "" {
			target = "/run/secrets/" + m.ID
		} else if !filepath.IsAbs(m.Target) {
			target = filepath.Clean("/run/secrets/" + m.Target)
		}
		if m.Source == "" {
			if m.Required {
				return nil, errdefs.Newf(errdefs.ErrNotFound, "secret %s: not provided (use --secret id=%s,src=FILE)", m.ID, m.ID)
			}
			return nil, nil
		}
		data, err := os.ReadFile(m.Source)
		if err != nil {
			if os.IsNotExist(err) && !m.Required {
				return nil, nil
			}
			return nil, errdefs.Newf(errdefs.ErrNotFound, "secret %s: %v", m.ID, err)
		}
		// The copy lives in the step's run directory, bind mounted read-only; the layer only
		// ever holds the (removed) empty mount point.
		sdir := filepath.Join(dir, "secrets")
		if err := os.MkdirAll(sdir, 0o711); err != nil {
			return nil, err
		}
		mode := os.FileMode(m.Mode)
		if mode == 0 {
			mode = 0o400
		}
		f := filepath.Join(sdir, strconv.Itoa(i))
		if err := os.WriteFile(f, data, 0o600); err != nil {
			return nil, err
		}
		if err := os.Chown(f, m.UID, m.GID); err != nil {
			return nil, err
		}
		if err := os.Chmod(f, mode); err != nil {
			return nil, err
		}
		return &specs.Mount{Destination: target, Type: "bind", Source: f, Options: []string{"rbind", "rprivate", "ro", "nosuid", "nodev", "noexec"}}, nil
	}
	return nil, errdefs.Newf(errdefs.ErrInvalid, "RUN --mount: unknown type %q: want bind, cache, tmpfs or secret", m.Type)
}

// mountSource finds a bind mount's source: in the context, or in an image mounted for the
// step.
func (b *buildBackend) mountSource(ctx context.Context, rs *build.RunSpec, m build.RunMount, releases *[]func()) (string, error) {
	root := rs.ContextDir
	if m.From.ID != "" || len(m.From.Config.RootFS.DiffIDs) > 0 {
		dir, release, err := b.Mount(ctx, m.From)
		if err != nil {
			return "", err
		}
		*releases = append(*releases, release)
		root = dir
	} else if root == "" {
		return "", errdefs.Newf(errdefs.ErrInvalid, "RUN --mount=type=bind: the build has no context to bind from")
	}
	src, err := secureJoin(root, m.Source)
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(src); err != nil {
		return "", errdefs.Newf(errdefs.ErrNotFound, "RUN --mount=type=bind,source=%s: %v", m.Source, errors.Unwrap(err))
	}
	return src, nil
}

// cacheDir is where cache mounts persist between builds.
func (e *Engine) cacheDir() string { return filepath.Join(e.Config.Root, "buildcache", "mounts") }

// cacheMount returns the directory of a cache mount, locked as its sharing mode asks:
// shared by everyone, locked (one step at a time) or private (a step gets an instance no
// other running step uses).
func (b *buildBackend) cacheMount(ctx context.Context, rs *build.RunSpec, m build.RunMount, releases *[]func()) (string, error) {
	cid := m.ID
	if cid == "" {
		cid = m.Target
	}
	sum := sha256.Sum256([]byte(cid))
	name := hex.EncodeToString(sum[:16])
	base := b.e.cacheDir()
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	instance := name
	switch m.Sharing {
	case "", "shared":
	case "locked":
		f, err := flockFile(ctx, filepath.Join(base, name+".lock"), true)
		if err != nil {
			return "", err
		}
		*releases = append(*releases, func() { f.Close() })
	case "private":
		for n := 0; ; n++ {
			inst := name
			if n > 0 {
				inst = fmt.Sprintf("%s-%d", name, n)
			}
			f, err := flockFile(ctx, filepath.Join(base, inst+".lock"), false)
			if err != nil {
				return "", err
			}
			if f != nil {
				*releases = append(*releases, func() { f.Close() })
				instance = inst
				break
			}
		}
	default:
		return "", errdefs.Newf(errdefs.ErrInvalid, "RUN --mount=type=cache: unknown sharing %q: want shared, private or locked", m.Sharing)
	}
	dir := filepath.Join(base, instance)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	// Build the new cache aside and rename it in, so a concurrent step sees it whole.
	tmp, err := os.MkdirTemp(base, ".new-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if m.From.ID != "" {
		src, err := b.mountSource(ctx, rs, build.RunMount{From: m.From, Source: m.Source}, releases)
		if err != nil {
			return "", err
		}
		if err := copyTree(ctx, src, tmp); err != nil {
			return "", err
		}
	}
	mode := os.FileMode(m.Mode)
	if mode == 0 {
		mode = 0o755
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return "", err
	}
	if err := os.Chown(tmp, m.UID, m.GID); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) && !errors.Is(err, unix.ENOTEMPTY) {
		return "", err
	}
	return dir, nil
}

// flockFile locks path; with wait false it returns nil, nil when someone else holds it.
func flockFile(ctx context.Context, path string, wait bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	for delay := time.Millisecond; ; {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !wait {
			f.Close()
			return nil, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// removeCacheMounts deletes every cache mount directory (builder prune -a).
func (e *Engine) removeCacheMounts() ([]string, error) {
	entries, err := os.ReadDir(e.cacheDir())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, en := range entries {
		if !en.IsDir() {
			continue
		}
		p := filepath.Join(e.cacheDir(), en.Name())
		f, err := flockFile(context.Background(), p+".lock", false)
		if err != nil {
			return out, err
		}
		if f == nil {
			continue // in use by a running step
		}
		err = os.RemoveAll(p)
		f.Close()
		if err != nil {
			return out, err
		}
		out = append(out, "Deleted cache mount: "+en.Name())
	}
	return out, nil
}

// runContainer creates, starts and waits for the step's container with berth's runtime in
// this process, and deletes it. On ctx cancellation the container is killed first.
func (b *buildBackend) runContainer(ctx context.Context, id, bundle string, ownNet bool, stdout, stderr io.Writer) (int, error) {
	rt := &libcontainer.Runtime{Root: filepath.Join(b.e.Config.RunRoot, "runtime")}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	var copiers sync.WaitGroup
	pipe := func(w io.Writer) (*os.File, error) {
		r, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		copiers.Add(1)
		go func() {
			defer copiers.Done()
			_, _ = io.Copy(w, r)
			r.Close()
		}()
		return pw, nil
	}
	outW, err := pipe(stdout)
	if err != nil {
		return 0, err
	}
	errW := outW
	if stderr != stdout {
		if errW, err = pipe(stderr); err != nil {
			outW.Close()
			copiers.Wait()
			return 0, err
		}
	}
	err = rt.Create(ctx, id, bundle, &libcontainer.CreateOptions{Stdin: devnull, Stdout: outW, Stderr: errW})
	outW.Close()
	if errW != outW {
		errW.Close()
	}
	// The container's copies of the pipes die with it; its output is read through to the end.
	defer copiers.Wait()
	if err != nil {
		return 0, fmt.Errorf("RUN: %w", err)
	}
	defer func() { _ = rt.Delete(context.Background(), id, true) }()
	st, err := rt.State(id)
	if err != nil {
		return 0, err
	}
	if ownNet {
		if err := loopbackUp(st.Pid); err != nil {
			return 0, err
		}
	}
	done := make(chan int, 1)
	if err := rt.Start(ctx, id); err != nil {
		return 0, fmt.Errorf("RUN: %w", err)
	}
	go func() {
		code, _ := libcontainer.WaitPid(st.Pid)
		done <- code
	}()
	select {
	case code := <-done:
		// The step's leftover background processes go with it.
		if err := rt.Delete(context.Background(), id, true); err != nil {
			return 0, err
		}
		return code, nil
	case <-ctx.Done():
		_ = rt.Kill(id, syscall.SIGKILL, true)
		<-done
		return 0, ctx.Err()
	}
}

// loopbackUp brings lo up in the network namespace of pid (RUN --network=none has it, as
// Docker's none network does). The thread that enters the namespace stays locked, and so
// dies with its goroutine, unless it gets back.
func loopbackUp(pid int) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter network namespace of %d: %w", pid, err)
			return
		}
		err = setLinkUp("lo")
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func setLinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s flags: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// Mount gives a read-only view of img's files at a directory: an overlay on a throwaway
// writable layer of its own, so concurrent users never share (or unmount) each other's view.
func (b *buildBackend) Mount(ctx context.Context, img build.Image) (string, func(), error) {
	p, err := b.image(ctx, img)
	if err != nil {
		return "", nil, err
	}
	id := b.e.buildID("buildmnt")
	marker := filepath.Join(b.e.Config.RunRoot, "build", id)
	if err := os.MkdirAll(marker, 0o700); err != nil {
		return "", nil, err
	}
	if err := b.store.CreateBuildLayer(ctx, id, p); err != nil {
		os.RemoveAll(marker)
		return "", nil, err
	}
	dir, err := b.store.MountContainerLayer(ctx, id)
	if err != nil {
		_ = b.store.RemoveContainerLayer(context.Background(), id)
		os.RemoveAll(marker)
		return "", nil, err
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			if b.store.RemoveContainerLayer(context.Background(), id) == nil {
				os.RemoveAll(marker)
			}
		})
	}
	return dir, release, nil
}

// stubs are mount points a step's mounts needed that its parent did not have; they are
// removed after the step so that they never land in its layer.
type stubs struct {
	paths  []string // created, outermost first
	parent []stubParent
}

type stubParent struct {
	path         string
	atime, mtime time.Time
}

// makeStubs creates the missing mount points of mounts in rootfs. A mount nested in another
// (/dev/pts in /dev) lands on the outer mount, not in the layer, and needs none here.
func makeStubs(rootfs string, mounts []specs.Mount) (*stubs, error) {
	st := &stubs{}
	dests := make([]string, 0, len(mounts))
	for _, m := range mounts {
		dests = append(dests, filepath.Clean(m.Destination))
	}
	sort.Strings(dests)
	isDir := map[string]bool{}
	for _, m := range mounts {
		fi, err := os.Stat(m.Source)
		isDir[filepath.Clean(m.Destination)] = m.Type != "bind" || err != nil || fi.IsDir()
	}
	var outer []string
	for _, d := range dests {
		nested := false
		for _, o := range outer {
			if strings.HasPrefix(d, o+"/") || o == "/" {
				nested = true
			}
		}
		if nested || d == "/" {
			continue
		}
		outer = append(outer, d)
		if err := st.create(rootfs, d, isDir[d]); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// create makes dest (and its missing parents) in rootfs, remembering what it made.
func (st *stubs) create(rootfs, dest string, dir bool) error {
	p, err := secureJoin(rootfs, dest)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	var missing []string
	q := p
	for q != rootfs && len(q) > len(rootfs) {
		if _, err := os.Lstat(q); err == nil {
			break
		}
		missing = append(missing, q)
		q = filepath.Dir(q)
	}
	if fi, err := os.Lstat(q); err == nil {
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			st.parent = append(st.parent, stubParent{path: q, atime: time.Unix(s.Atim.Unix()), mtime: time.Unix(s.Mtim.Unix())})
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		m := missing[i]
		if i == 0 && !dir {
			f, err := os.OpenFile(m, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("mount point %s: %w", dest, err)
			}
			f.Close()
		} else if err := os.Mkdir(m, 0o755); err != nil {
			return fmt.Errorf("mount point %s: %w", dest, err)
		}
		st.paths = append(st.paths, m)
	}
	return nil
}

// remove deletes the stubs the step left empty, innermost first, and gives their parents
// back their times.
func (st *stubs) remove() error {
	for i := len(st.paths) - 1; i >= 0; i-- {
		if err := os.Remove(st.paths[i]); err != nil && !os.IsNotExist(err) && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("remove mount point %s: %w", st.paths[i], err)
		}
	}
	for i := len(st.parent) - 1; i >= 0; i-- {
		_ = os.Chtimes(st.parent[i].path, st.parent[i].atime, st.parent[i].mtime)
	}
	return nil
}

// copyPathTo copies src, a file or a directory tree, to dst with owners and modes.
func copyPathTo(ctx context.Context, src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		if err := copyFile(src, dst, fi.Mode().Perm()); err != nil {
			return err
		}
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			return os.Chown(dst, int(s.Uid), int(s.Gid))
		}
		return nil
	}
	if err := os.Mkdir(dst, fi.Mode().Perm()); err != nil && !os.IsExist(err) {
		return err
	}
	return copyTree(ctx, src, dst)
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// BuildContextFromTar extracts a build context sent as a tar stream (`build -`) into a new
// directory under dir, with the same safe extraction as layers (no escapes, no devices).
// cleanup removes it.
func BuildContextFromTar(ctx context.Context, r io.Reader, dir string) (string, func(), error) {
	tmp, err := os.MkdirTemp(dir, "berth-build-context-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	rc, err := decompressContext(r)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	if _, err := archive.Unpack(ctx, rc, tmp, &archive.UnpackOptions{Whiteouts: archive.WhiteoutApply, SkipDevices: true}); err != nil {
		cleanup()
		return "", nil, errdefs.Newf(errdefs.ErrInvalid, "read build context from stdin: %v", err)
	}
	return tmp, cleanup, nil
}

// decompressContext undoes gzip on a context tar, as docker build accepts a .tar.gz on stdin.
func decompressContext(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(2)
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "read build context from stdin: %v", err)
		}
		return zr, nil
	}
	return br, nil
}

// IsContextArchive tells a tar (or gzipped tar) build context on stdin from a Dockerfile,
// given the stream's first 512 bytes.
func IsContextArchive(head []byte) bool {
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		return true
	}
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

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

// buildNice is the nice value builds run at while the CPUs are not oversubscribed.
const buildNice = 10

// registerBuild marks this process as a running build, for buildPolicy's count; the mark
// goes when the returned function is called (or, after a kill, when its pid is gone).
func (e *Engine) registerBuild() func() {
	dir := filepath.Join(e.Config.RunRoot, "builds")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return func() {}
	}
	p := filepath.Join(dir, strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return func() {}
	}
	return func() { os.Remove(p) }
}

// runningBuilds counts the builds whose process is alive, removing the marks of dead ones.
func (e *Engine) runningBuilds() int {
	dir := filepath.Join(e.Config.RunRoot, "builds")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 1
	}
	n := 0
	for _, en := range entries {
		if _, err := os.Stat("/proc/" + en.Name()); err == nil {
			n++
		} else if os.IsNotExist(err) {
			os.Remove(filepath.Join(dir, en.Name()))
		}
	}
	return n
}

// adjustBuildPriority sets the CPU policy of this build and the RUN containers it starts
// (they inherit it): SCHED_BATCH at buildNice normally, so a build never preempts others when
// it wakes and weighs less; SCHED_IDLE while more builds run than there are CPUs, so that
// interactive commands (ps, images, exec) keep answering however many builds run at once.
// On Linux the policy belongs to a thread: each existing thread is set, and threads started
// later inherit it from their creator. It is re-evaluated before every RUN step.
func (e *Engine) adjustBuildPriority() {
	policy := uint32(unix.SCHED_BATCH)
	if e.runningBuilds() > runtime.NumCPU() {
		policy = unix.SCHED_IDLE
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: policy, Nice: buildNice}
		if unix.SchedSetAttr(tid, attr, 0) != nil {
			_ = unix.Setpriority(unix.PRIO_PROCESS, tid, buildNice)
		}
	}
}

// runSlots bounds how many RUN containers all builds on this root run at once: beyond a few
// per CPU, more containers only add processes, memory and scheduling delay, not throughput.
func runSlots() int {
	if n := 4 * runtime.NumCPU(); n > 8 {
		return n
	}
	return 8
}

// acquireRunSlot waits for one of the root's RUN slots (flock files, so a killed build's slot
// frees itself) and returns its release.
func (e *Engine) acquireRunSlot(ctx context.Context) (func(), error) {
	dir := filepath.Join(e.Config.RunRoot, "build-slots")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	n := runSlots()
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
