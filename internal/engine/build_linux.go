package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

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
	id := b.e.buildID("build")
	// The run directory exists before the layer, so a sweep after a kill finds both.
	dir := filepath.Join(b.e.Config.RunRoot, "build", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return build.Image{}, fmt.Errorf("RUN: %w", err)
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
		return build.Image{}, fmt.Errorf("RUN: mount layer %s: %w", id, err)
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
		return build.Image{}, fmt.Errorf("RUN: %w", err)
	}
	network := spec.Network
	if network == "" {
		network = b.network
	}
	releaseSlot, err := b.e.acquireSlot(ctx, "build-slots", runSlots())
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
		return build.Image{}, fmt.Errorf("RUN: unmount layer %s: %w", id, err)
	}
	return b.commitLayer(ctx, p, id, c)
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
	if err := applyUserNS(s, b.userNS.UserNS, b.userNS.UIDMaps, b.userNS.GIDMaps, rs.User != ""); err != nil {
		return nil, err
	}
	caps := append([]string(nil), libcontainer.DefaultCaps...)
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	s.Process.NoNewPrivileges = false // setuid binaries work in RUN, as in docker build
	s.Process.Rlimits = nil
	s.Hostname = buildHostname
	s.Linux.CgroupsPath = "/berth/" + id
	if s.Linux.Seccomp, err = seccompProfile(s, false, ""); err != nil {
		return nil, err
	}
	network := rs.Network
	if network == "" {
		network = b.network
	}
	switch network {
	case "none":
	case "", "host", "default":
		// The default is the host's network: build steps fetch what they need, as with
		// `docker build --network host`. (Bridge networks for builds are not wired here.)
		setNetNS(s, "", true)
	default:
		return nil, errdefs.Newf(errdefs.ErrInvalid, "RUN --network=%s: want default, host or none", network)
	}
	etc := map[string]string{"hosts": "127.0.0.1\tlocalhost " + buildHostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"}
	if network != "none" {
		if raw, err := os.ReadFile("/etc/resolv.conf"); err == nil {
			etc["resolv.conf"] = string(raw)
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
	if err := b.e.addDevices(s, b.devices, b.cdiDevices); err != nil {
		return nil, err
	}
	return s, nil
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
		return 0, fmt.Errorf("RUN: state of container %s: %w", id, err)
	}
	if ownNet {
		if err := loopbackUp(st.Pid); err != nil {
			return 0, fmt.Errorf("RUN --network=none: bring up lo: %w", err)
		}
	}
	type exit struct {
		code int
		err  error
	}
	done := make(chan exit, 1)
	if err := rt.Start(ctx, id); err != nil {
		return 0, fmt.Errorf("RUN: %w", err)
	}
	go func() {
		code, err := libcontainer.WaitPid(st.Pid)
		done <- exit{code, err}
	}()
	select {
	case e := <-done:
		// A failed wait knows no status: taking its 0 for success would commit the layer.
		if e.err != nil {
			return 0, fmt.Errorf("RUN: wait for process %d: %w", st.Pid, e.err)
		}
		// The step's leftover background processes go with it.
		if err := rt.Delete(context.Background(), id, true); err != nil {
			return 0, fmt.Errorf("RUN: delete container %s: %w", id, err)
		}
		return e.code, nil
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
		return "", nil, fmt.Errorf("mount view of %s: %w", p.ID, err)
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
