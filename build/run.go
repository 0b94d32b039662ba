package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/filecopy"
)

// RunError is a RUN step whose command exited non-zero, worded as Docker words it.
type RunError struct {
	Cmd  string // the argv joined with spaces
	Code int
	Err  error // what the backend returned
}

func (e *RunError) Error() string {
	return fmt.Sprintf("process %q did not complete successfully: exit code: %d", e.Cmd, e.Code)
}

// ExitCode is the command's exit status.
func (e *RunError) ExitCode() int { return e.Code }

func (e *RunError) Unwrap() error { return e.Err }

// run executes a RUN step through the backend, or takes its result from the cache.
func (st *stageState) run(ctx context.Context, c *instructions.RunCommand) error {
	bl := st.bl
	if err := c.Expand(st.expand()); err != nil {
		return invalidf("%s: %v", commandText(c), innerMessage(err))
	}
	args, display := st.runArgs(c.ShellDependantCmdLine)
	if len(args) == 0 {
		return invalidf("%s: no command given", commandText(c))
	}
	mounts, extraEnv, ctxBinds, err := st.runMounts(ctx, instructions.GetMounts(c))
	if err != nil {
		return err
	}
	network := instructions.GetNetwork(c)
	if network == instructions.NetworkDefault {
		network = bl.o.Network
	}
	visible := visibleArgs(st.cfg.Env, st.scope)

	k := newKey("run", st.cur, st.cfg, st.pending, bl.o.Timestamp)
	k.fields("args", args)
	k.fields("buildargs", visible)
	k.field("network", network)
	for _, m := range mounts {
		k.field("mount", mountText(m))
	}
	for _, src := range ctxBinds {
		// a bind of the context: its content is an input of the step
		if err := st.digestContextPath(k, src); err != nil {
			return err
		}
	}
	createdBy := "RUN "
	if len(visible) > 0 {
		createdBy += fmt.Sprintf("|%d %s ", len(visible), strings.Join(visible, " "))
	}
	createdBy += strings.Join(display, " ") + " # buildkit"

	err = st.layerStep(ctx, k.sum(), &v1.History{CreatedBy: createdBy}, func(co CommitOptions) (Image, error) {
		contextDir := bl.o.ContextDir
		if bl.ignore != nil && len(ctxBinds) > 0 {
			dir, cleanup, err := st.filteredContext(ctx, ctxBinds)
			if err != nil {
				return Image{}, err
			}
			defer cleanup()
			contextDir = dir
		}
		out := bl.prog.output()
		spec := RunSpec{
			Args:       args,
			Env:        append(runEnv(st.cfg.Env, st.scope, bl.args), extraEnv...),
			User:       st.cfg.User,
			Workdir:    st.cfg.WorkingDir,
			Network:    network,
			Mounts:     mounts,
			ContextDir: contextDir,
			Stdout:     out,
			Stderr:     out,
		}
		img, err := bl.be.Run(ctx, st.cur, spec, co)
		out.flush(err != nil && !isCanceled(err))
		if err != nil {
			var ec interface{ ExitCode() int }
			if errors.As(err, &ec) && ctx.Err() == nil {
				return Image{}, &RunError{Cmd: strings.Join(display, " "), Code: ec.ExitCode(), Err: err}
			}
			return Image{}, fmt.Errorf("RUN %s: %w", strings.Join(display, " "), err)
		}
		return img, nil
	})
	if err == nil {
		st.wdPending = false // the backend creates the working directory of a RUN
	}
	return err
}

// runArgs is a RUN's argv, following buildkit: the exec form as written; the shell form
// wrapped in SHELL; a lone heredoc run as the shell's script, or, when it starts with #!,
// handed to its interpreter; several heredocs given to the shell whole. display is the
// argv as history and errors show it: a #! script appears as itself, not its wrapper.
func (st *stageState) runArgs(c instructions.ShellDependantCmdLine) (args, display []string) {
	args = append([]string(nil), c.CmdLine...)
	if len(c.Files) > 0 && len(args) == 1 && c.PrependShell {
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			if strings.HasPrefix(data, "#!") {
				return append(append([]string(nil), st.shell()...), shebangScript(data)),
					append(append([]string(nil), st.shell()...), data)
			}
			args = []string{data}
		} else {
			full := args[0]
			for _, f := range c.Files {
				full += "\n" + f.Data + f.Name
			}
			args = []string{full}
		}
	}
	if c.PrependShell {
		args = append(append([]string(nil), st.shell()...), strings.Join(args, " "))
	}
	return args, args
}

// shebangScript runs a "#!interpreter" heredoc without writing it into the layer: the shell
// gives the script to its interpreter on fd 3 (buildkit mounts it at /dev/pipes instead).
func shebangScript(data string) string {
	first, _, _ := strings.Cut(data, "\n")
	interp := strings.Fields(strings.TrimPrefix(first, "#!"))
	marker := "BERTH_HEREDOC"
	for n := 0; strings.Contains(data, marker); n++ {
		marker = "BERTH_HEREDOC_" + strconv.Itoa(n)
	}
	var quoted []string
	for _, a := range interp {
		quoted = append(quoted, shellQuote(a))
	}
	if !strings.HasSuffix(data, "\n") {
		data += "\n"
	}
	return "exec " + strings.Join(quoted, " ") + " /dev/fd/3 3<<'" + marker + "'\n" + data + marker
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// runMounts translates RUN --mount flags. Secrets exposed as environment variables come
// back as extra KEY=value entries.
func (st *stageState) runMounts(ctx context.Context, in []*instructions.Mount) (out []RunMount, env, ctxBinds []string, err error) {
	bl := st.bl
	for _, m := range in {
		rm := RunMount{Type: string(m.Type), Target: m.Target, Source: m.Source, ReadOnly: m.ReadOnly, Required: m.Required}
		if m.Mode != nil {
			rm.Mode = uint32(*m.Mode)
		}
		if m.UID != nil {
			rm.UID = int(*m.UID)
		}
		if m.GID != nil {
			rm.GID = int(*m.GID)
		}
		switch m.Type {
		case instructions.MountTypeBind, instructions.MountTypeCache:
			if m.Target == "" {
				return nil, nil, nil, invalidf("RUN --mount=type=%s: target is required", m.Type)
			}
			if m.From != "" {
				img, err := bl.resolveFrom(ctx, m.From, st.s.idx)
				if err != nil {
					return nil, nil, nil, err
				}
				rm.From = img
			}
			src := path.Clean("/" + m.Source)
			if m.From == "" && m.Type == instructions.MountTypeBind {
				if bl.o.ContextDir == "" {
					return nil, nil, nil, invalidf("RUN --mount=type=bind: no build context to mount from")
				}
				if err := checkInside(m.Source); err != nil {
					return nil, nil, nil, err
				}
				src = strings.TrimPrefix(src, "/")
				if src == "" {
					src = "."
				}
				ctxBinds = append(ctxBinds, src)
			}
			rm.Source = src
			if m.Type == instructions.MountTypeCache {
				rm.ID = m.CacheID
				if rm.ID == "" {
					rm.ID = m.Target
				}
				rm.Sharing = string(m.CacheSharing)
				if rm.Sharing == "" {
					rm.Sharing = string(instructions.MountSharingShared)
				}
				if m.Mode == nil {
					rm.Mode = 0o755
				}
			}
		case instructions.MountTypeTmpfs:
			if m.Target == "" {
				return nil, nil, nil, invalidf("RUN --mount=type=tmpfs: target is required")
			}
			rm.Size = m.SizeLimit
		case instructions.MountTypeSecret:
			id := m.CacheID
			if id == "" {
				id = path.Base(m.Target)
			}
			if id == "" || id == "." || id == "/" {
				return nil, nil, nil, invalidf("RUN --mount=type=secret: an id or a target is required")
			}
			rm.ID = id
			src, ok := bl.o.Secrets[id]
			if !ok {
				if m.Required {
					return nil, nil, nil, errdefs.Newf(errdefs.ErrNotFound, "secret %s not found: pass it with --secret id=%s,src=FILE", id, id)
				}
				continue
			}
			rm.Source = src
			if m.Env != nil {
				name := *m.Env
				if name == "" {
					name = id
				}
				b, err := os.ReadFile(src)
				if err != nil {
					return nil, nil, nil, fmt.Errorf("read secret %s: %w", id, err)
				}
				env = append(env, name+"="+string(b))
				if m.Target == "" {
					continue
				}
			}
			if rm.Target == "" {
				rm.Target = "/run/secrets/" + id
			}
			if m.Mode == nil {
				rm.Mode = 0o400
			}
		default:
			return nil, nil, nil, errdefs.Newf(errdefs.ErrNotSupported, "RUN --mount=type=%s is not supported", m.Type)
		}
		rm.Target = st.inWorkdir(rm.Target)
		out = append(out, rm)
	}
	return out, env, ctxBinds, nil
}

// mountText describes a mount for the cache key: everything but a secret's content and
// host file, which may be a new temporary file on every build.
func mountText(m RunMount) string {
	if m.Type == "secret" {
		m.Source = ""
	}
	return fmt.Sprintf("type=%s,target=%s,source=%s,from=%s,id=%s,ro=%t,sharing=%s,mode=%o,uid=%d,gid=%d,size=%d,required=%t",
		m.Type, m.Target, m.Source, m.From.ID, m.ID, m.ReadOnly, m.Sharing, m.Mode, m.UID, m.GID, m.Size, m.Required)
}

// digestContextPath adds the content of a context path a RUN bind-mounts to the step's key.
func (st *stageState) digestContextPath(k *keyHasher, src string) error {
	r := copyRequest{name: "RUN --mount"}
	root := &srcRoot{dir: st.bl.o.ContextDir, ignore: st.bl.ignore}
	it, err := r.item(root, path.Clean("/"+src), path.Base(src), src)
	if err != nil {
		return err
	}
	return it.digest(k)
}

// filteredContext copies the context paths a RUN bind-mounts, without what .dockerignore
// excludes, into a temporary tree: the step must see the context as Docker sends it, and
// the backend binds from RunSpec.ContextDir as it is. Only used when a .dockerignore exists.
func (st *stageState) filteredContext(ctx context.Context, srcs []string) (_ string, _ func(), retErr error) {
	tmp, err := os.MkdirTemp("", "berth-context-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	defer func() {
		if retErr != nil {
			cleanup()
		}
	}()
	r := copyRequest{name: "RUN --mount"}
	root := &srcRoot{dir: st.bl.o.ContextDir, ignore: st.bl.ignore}
	for _, src := range srcs {
		it, err := r.item(root, path.Clean("/"+src), path.Base(src), src)
		if err != nil {
			return "", nil, err
		}
		dst := filepath.Join(tmp, filepath.FromSlash(path.Clean("/"+src)))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", nil, err
		}
		copyOne := func(dst, abs string, fi fs.FileInfo) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			switch {
			case fi.IsDir():
				return os.MkdirAll(dst, fi.Mode().Perm()|0o700)
			case fi.Mode()&fs.ModeSymlink != 0:
				link, err := os.Readlink(abs)
				if err != nil {
					return err
				}
				return os.Symlink(link, dst)
			case fi.Mode().IsRegular():
				return filecopy.Regular(abs, dst, fi.Mode().Perm())
			}
			return nil
		}
		if err := copyOne(dst, it.abs, it.fi); err != nil {
			return "", nil, fmt.Errorf("RUN --mount=type=bind,source=%s: %w", src, err)
		}
		if it.fi.IsDir() {
			err := it.walk(func(rel, abs string, fi fs.FileInfo) error {
				p := filepath.Join(dst, filepath.FromSlash(rel))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return err
				}
				return copyOne(p, abs, fi)
			})
			if err != nil {
				return "", nil, fmt.Errorf("RUN --mount=type=bind,source=%s: %w", src, err)
			}
		}
	}
	return tmp, cleanup, nil
}
