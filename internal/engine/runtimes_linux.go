package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libcontainer"
)

// ociRuntime is what the engine needs from an OCI runtime after the monitor has created the
// container: berth's own, called in process, or runc/crun through their CLI.
type ociRuntime interface {
	Binary() string // what the monitor runs for create, exec and restarts
	Root() string
	Start(ctx context.Context, id string) error
	Status(id string) (string, error) // created, running, paused, stopped; ErrNotFound when unknown
	Kill(id string, sig syscall.Signal, all bool) error
	Delete(ctx context.Context, id string, force bool) error
	Pause(id string) error
	Resume(id string) error
	Pids(id string) ([]int, error)
}

var (
	_ ociRuntime = builtinRuntime{}
	_ ociRuntime = binaryRuntime{}
)

// runtimeFor returns the runtime a container was created with.
func (e *Engine) runtimeFor(name string) (ociRuntime, error) {
	if name == "" {
		name = e.Config.Runtime
	}
	if name == "" || name == "berth" || name == "berth-runtime" {
		return builtinRuntime{&libcontainer.Runtime{Root: filepath.Join(e.Config.RunRoot, "runtime")}}, nil
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "OCI runtime %q not found: %v", name, err)
	}
	return binaryRuntime{path: path, root: filepath.Join(e.Config.RunRoot, "runtime-"+filepath.Base(path))}, nil
}

// builtinRuntime is berth's own libcontainer, run in this process.
type builtinRuntime struct{ *libcontainer.Runtime }

func (b builtinRuntime) Binary() string { return helper("berth-runtime") }
func (b builtinRuntime) Root() string   { return b.Runtime.Root }
func (b builtinRuntime) Status(id string) (string, error) {
	st, err := b.State(id)
	if err != nil {
		return "", err
	}
	return string(st.Status), nil
}

// binaryRuntime drives runc or crun through their command line, with their state under the runroot.
type binaryRuntime struct{ path, root string }

func (r binaryRuntime) Binary() string { return r.path }
func (r binaryRuntime) Root() string   { return r.root }

func (r binaryRuntime) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, r.path, append([]string{"--root", r.root}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "does not exist") || strings.Contains(msg, "not exist") {
			return nil, errdefs.Newf(errdefs.ErrNotFound, "%s %s: %s", filepath.Base(r.path), args[0], msg)
		}
		// %v: the runtime's exit status is not the container's (an *exec.ExitError in the
		// chain would be taken for it and the message dropped).
		return nil, fmt.Errorf("%s %s: %s: %v", filepath.Base(r.path), args[0], msg, err)
	}
	return out, nil
}

func (r binaryRuntime) Start(ctx context.Context, id string) error {
	_, err := r.run(ctx, "start", id)
	return err
}

func (r binaryRuntime) Status(id string) (string, error) {
	out, err := r.run(context.Background(), "state", id)
	if err != nil {
		return "", err
	}
	var st struct{ Status string }
	if err := json.Unmarshal(out, &st); err != nil {
		return "", fmt.Errorf("%s state: %w", filepath.Base(r.path), err)
	}
	return st.Status, nil
}

func (r binaryRuntime) Kill(id string, sig syscall.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := r.run(context.Background(), append(args, id, strconv.Itoa(int(sig)))...)
	return err
}

func (r binaryRuntime) Delete(ctx context.Context, id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := r.run(ctx, append(args, id)...)
	return err
}

func (r binaryRuntime) Pause(id string) error {
	_, err := r.run(context.Background(), "pause", id)
	return err
}

func (r binaryRuntime) Resume(id string) error {
	_, err := r.run(context.Background(), "resume", id)
	return err
}

func (r binaryRuntime) Pids(id string) ([]int, error) {
	out, err := r.run(context.Background(), "ps", "--format", "json", id)
	if err != nil {
		return nil, err
	}
	var pids []int
	return pids, json.Unmarshal(out, &pids)
}
