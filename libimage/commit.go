package libimage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-project/berth/internal/errdefs"
)

// ApplyChange applies one Dockerfile-like instruction (import --change, commit -c) to cfg.
func ApplyChange(cfg *v1.Config, change string) error {
	instr, arg, _ := strings.Cut(strings.TrimSpace(change), " ")
	arg = strings.TrimSpace(arg)
	bad := func() error {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid change %q: want CMD, ENTRYPOINT, ENV, WORKDIR, LABEL, EXPOSE or USER with a value", change)
	}
	if arg == "" {
		return bad()
	}
	switch strings.ToUpper(instr) {
	case "CMD":
		cfg.Cmd = commandForm(arg)
	case "ENTRYPOINT":
		cfg.Entrypoint = commandForm(arg)
	case "ENV":
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			k, v, ok = strings.Cut(arg, " ")
		}
		if !ok || k == "" {
			return bad()
		}
		cfg.Env = setEnv(cfg.Env, k, strings.Trim(v, `"`))
	case "WORKDIR":
		cfg.WorkingDir = arg
	case "USER":
		cfg.User = arg
	case "LABEL":
		k, v, ok := strings.Cut(arg, "=")
		if !ok || k == "" {
			return bad()
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[strings.Trim(k, `"`)] = strings.Trim(v, `"`)
	case "EXPOSE":
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(arg) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[p] = struct{}{}
		}
	default:
		return bad()
	}
	return nil
}

// commandForm reads a JSON array (exec form) or wraps a string in /bin/sh -c (shell form).
func commandForm(arg string) []string {
	var list []string
	if strings.HasPrefix(arg, "[") && json.Unmarshal([]byte(arg), &list) == nil {
		return list
	}
	return []string{"/bin/sh", "-c", arg}
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// newImage builds an image of parent (nil: scratch) plus layer (nil: none) with cfg.
func newImage(parent v1.Image, layer v1.Layer, cfg v1.Config, h v1.History) (v1.Image, error) {
	base := parent
	if base == nil {
		base = empty.Image
	}
	img := base
	if layer != nil {
		var err error
		img, err = mutate.Append(base, mutate.Addendum{Layer: layer, History: h})
		if err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	if layer == nil {
		h.EmptyLayer = true
		cf.History = append(cf.History, h)
	}
	cf.Config = cfg
	cf.Created = h.Created
	if cf.OS == "" {
		cf.OS = "linux"
	}
	if cf.Architecture == "" {
		cf.Architecture = runtime.GOARCH
	}
	return mutate.ConfigFile(img, cf)
}

// Commit stores a new image: parent (nil for scratch) plus an optional layer tar, with cfg as
// its container config and h as the history entry of this step.
func (s *Store) Commit(ctx context.Context, parent *Image, layer io.Reader, cfg v1.Config, h v1.History, names []string) (*Image, error) {
	var base v1.Image
	if parent != nil {
		var err error
		if base, err = s.V1(parent); err != nil {
			return nil, err
		}
	}
	var l v1.Layer
	if layer != nil {
		tmp, err := os.CreateTemp(s.root, ".commit-")
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, layer); err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		if l, err = tarball.LayerFromFile(tmp.Name()); err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
	}
	img, err := newImage(base, l, cfg, h)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	var qualified []string
	for _, n := range names {
		ref, err := ParseReference(n)
		if err != nil {
			return nil, err
		}
		qualified = append(qualified, ref.TagName())
	}
	return s.write(ctx, img, writeOptions{names: qualified})
}
