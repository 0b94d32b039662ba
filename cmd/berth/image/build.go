package image

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/build"
	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/userns"
	"github.com/berth-project/berth/libimage"
)

// BuildCommands returns `build`, the `buildx` group with its `build`, and the `builder` group
// with `prune`; `image build` is added to the image group.
func BuildCommands() []*cobra.Command {
	buildx := cli.Group("buildx", "Build images (docker buildx compatibility)")
	buildx.AddCommand(buildCommand())
	builder := cli.Group("builder", "Manage the build cache")
	builder.AddCommand(builderPruneCommand())
	return []*cobra.Command{buildCommand(), buildx, builder}
}

type buildFlags struct {
	tags, buildArgs, secrets, labels  []string
	devices                           []string
	file, target, iidfile, progress   string
	network, platform, timestamp      string
	userNS                            string
	uidmaps, gidmaps                  []string
	noCache, pull, quiet, rm, forceRm bool
}

func buildCommand() *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Long: "Build an image from a Dockerfile and a context (a directory, or a tar on stdin with -).\n" +
			"RUN steps use the host's network unless --network none is given.",
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "Name and optionally a tag (format: name:tag)")
	fl.StringVarP(&f.file, "file", "f", "", "Name of the Dockerfile (default: PATH/Dockerfile; - reads it from stdin)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "Set build-time variables (KEY=VALUE, or KEY to take it from the environment)")
	fl.StringVar(&f.target, "target", "", "Set the target build stage to build")
	fl.BoolVar(&f.noCache, "no-cache", false, "Do not use cache when building the image")
	fl.BoolVar(&f.pull, "pull", false, "Always attempt to pull a newer version of the image")
	fl.StringArrayVar(&f.secrets, "secret", nil, "Secret to expose to the build (format: id=mysecret[,src=/local/secret|env=VAR])")
	fl.StringArrayVar(&f.labels, "label", nil, "Set metadata for an image (KEY=VALUE)")
	fl.StringVar(&f.iidfile, "iidfile", "", "Write the image ID to the file")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	fl.StringVar(&f.progress, "progress", "auto", "Set type of progress output (auto, plain, tty)")
	fl.StringVar(&f.userNS, "userns", "", "User namespace for the RUN instructions: host, keep-id[:uid=U,gid=G], nomap or auto[:size=N]")
	fl.StringArrayVar(&f.uidmaps, "uidmap", nil, "Map RUN containers' uids to host uids in a new user namespace: CONTAINER:HOST:SIZE")
	fl.StringArrayVar(&f.gidmaps, "gidmap", nil, "Map RUN containers' gids to host gids in a new user namespace: CONTAINER:HOST:SIZE")
	fl.StringVar(&f.network, "network", "default", "Set the networking mode for the RUN instructions (default = host, host, none)")
	fl.StringArrayVar(&f.devices, "device", nil, "Add a host device or a CDI device (vendor.com/class=name) to RUN steps")
	fl.StringVar(&f.platform, "platform", "", "Set platform for the build (the host's only)")
	fl.StringVar(&f.timestamp, "timestamp", "", "Set created timestamps and clamp file times to this Unix time (default: $SOURCE_DATE_EPOCH)")
	fl.BoolVar(&f.rm, "rm", true, "Remove intermediate containers after a successful build (always done)")
	fl.BoolVar(&f.forceRm, "force-rm", false, "Always remove intermediate containers (always done)")
	return cmd
}

func runBuild(cmd *cobra.Command, contextArg string, f *buildFlags) error {
	ctx := cmd.Context()
	o := &build.Options{Target: f.target, NoCache: f.noCache, Pull: f.pull, Quiet: f.quiet, Network: f.network,
		Platform: f.platform, Out: cmd.OutOrStdout(), BuildArgs: map[string]string{},
		Secrets: map[string]string{}, Devices: f.devices, UserNS: f.userNS, UIDMaps: f.uidmaps, GIDMaps: f.gidmaps}
	if _, err := userns.ParseMode(f.userNS); err != nil {
		return err
	}
	for _, m := range append(append([]string{}, f.uidmaps...), f.gidmaps...) {
		if _, err := userns.ParseIDMap(m); err != nil {
			return err
		}
	}
	switch f.progress {
	case "auto", "plain", "tty":
		o.Progress = f.progress
	default:
		return cli.Invalid("invalid --progress %q: want auto, plain or tty", f.progress)
	}
	switch f.network {
	case "default", "host", "none":
	default:
		return cli.Invalid("invalid --network %q for build: want default, host or none", f.network)
	}
	for _, t := range f.tags {
		ref, err := libimage.ParseReference(t)
		if err != nil {
			return cli.Invalid("invalid argument %q for \"-t, --tag\" flag: %v", t, err)
		}
		if ref.Digest != "" {
			return cli.Invalid("invalid argument %q for \"-t, --tag\" flag: a tag cannot have a digest", t)
		}
		o.Tags = append(o.Tags, ref.TagName())
	}
	for _, a := range f.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return cli.Invalid("invalid --build-arg %q: want KEY=VALUE or KEY", a)
		}
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue // docker skips a KEY that is not in the environment
			}
		}
		o.BuildArgs[k] = v
	}
	var err error
	if o.Labels, err = cli.KeyValues("label", f.labels, false); err != nil {
		return err
	}
	ts := f.timestamp
	if ts == "" {
		ts = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if ts != "" {
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || n < 0 {
			return cli.Invalid("invalid timestamp %q: want seconds since the Unix epoch", ts)
		}
		t := time.Unix(n, 0).UTC()
		o.Timestamp = &t
	}
	tmp, err := os.MkdirTemp("", "berth-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := buildSecrets(f.secrets, tmp, o.Secrets); err != nil {
		return err
	}
	stdin := bufio.NewReaderSize(cmd.InOrStdin(), 64<<10)
	switch {
	case contextArg == "-" && f.file == "-":
		return cli.Invalid("invalid argument: can't use stdin for both build context and dockerfile")
	case contextArg == "-":
		head, _ := stdin.Peek(512)
		if engine.IsContextArchive(head) {
			dir, cleanup, err := engine.BuildContextFromTar(ctx, stdin, tmp)
			if err != nil {
				return err
			}
			defer cleanup()
			o.ContextDir = dir
		} else {
			// A Dockerfile on stdin: a build without context.
			if o.Dockerfile, err = io.ReadAll(stdin); err != nil {
				return fmt.Errorf("read Dockerfile from stdin: %w", err)
			}
			o.DockerfileName = "Dockerfile"
		}
	default:
		dir, err := filepath.Abs(contextArg)
		if err != nil {
			return err
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return errdefs.Newf(errdefs.ErrNotFound, "unable to prepare context: path %q not found", contextArg)
		}
		if !fi.IsDir() {
			return errdefs.Newf(errdefs.ErrInvalid, "unable to prepare context: context must be a directory: %s", contextArg)
		}
		o.ContextDir = dir
	}
	if o.Dockerfile == nil {
		if err := readDockerfile(o, f.file, stdin); err != nil {
			return err
		}
	}
	id, err := cli.Engine(cmd).Build(ctx, o)
	if err != nil {
		var be *engine.BuildError
		if errors.As(err, &be) {
			// main prints nothing for errors carrying an exit status; a build prints why.
			fmt.Fprintln(cmd.ErrOrStderr(), "Error: failed to solve: "+be.Error())
		}
		return err
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(id), 0o644); err != nil {
			return fmt.Errorf("write iidfile: %w", err)
		}
	}
	return nil
}

// readDockerfile fills o.Dockerfile from -f (a path relative to the working directory or,
// failing that, to the context; "-" for stdin) or PATH/Dockerfile.
func readDockerfile(o *build.Options, file string, stdin io.Reader) error {
	if file == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("read Dockerfile from stdin: %w", err)
		}
		o.Dockerfile, o.DockerfileName = b, "Dockerfile"
		return nil
	}
	p := file
	switch {
	case p == "":
		// Dockerfile first, as in Docker; then Podman's Containerfile.
		p = filepath.Join(o.ContextDir, "Dockerfile")
		for _, name := range []string{"Dockerfile", "dockerfile", "Containerfile", "containerfile"} {
			if alt := filepath.Join(o.ContextDir, name); fileExists(alt) {
				p = alt
				break
			}
		}
	case !filepath.IsAbs(p) && !fileExists(p) && o.ContextDir != "":
		p = filepath.Join(o.ContextDir, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		name := file
		if name == "" {
			name = "Dockerfile"
		}
		if os.IsNotExist(err) {
			return errdefs.Newf(errdefs.ErrNotFound, "unable to prepare context: cannot locate specified Dockerfile: %s", name)
		}
		return errdefs.Newf(errdefs.ErrInvalid, "unable to read Dockerfile %s: %v", name, errors.Unwrap(err))
	}
	o.Dockerfile, o.DockerfileName = b, filepath.Base(p)
	return nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// buildSecrets parses --secret id=ID[,src=FILE|,env=VAR] into id -> host file; a secret from
// the environment is written to a private file under tmp.
func buildSecrets(specs []string, tmp string, out map[string]string) error {
	for i, s := range specs {
		var id, src, env string
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch strings.TrimSpace(k) {
			case "id":
				id = v
			case "src", "source":
				src = v
			case "env":
				env = v
			case "type":
				if v != "file" && v != "env" {
					return cli.Invalid("invalid --secret %q: type must be file or env", s)
				}
			default:
				return cli.Invalid("invalid --secret %q: unknown key %q", s, k)
			}
		}
		if id == "" {
			id = filepath.Base(src)
			if src == "" {
				id = env
			}
		}
		if id == "" {
			return cli.Invalid("invalid --secret %q: want id=ID,src=FILE or id=ID,env=VAR", s)
		}
		switch {
		case src != "":
			abs, err := filepath.Abs(src)
			if err != nil {
				return err
			}
			if _, err := os.Stat(abs); err != nil {
				return errdefs.Newf(errdefs.ErrNotFound, "secret %s: %v", id, errors.Unwrap(err))
			}
			out[id] = abs
		default:
			if env == "" {
				env = id
			}
			v, ok := os.LookupEnv(env)
			if !ok {
				return errdefs.Newf(errdefs.ErrNotFound, "secret %s: environment variable %s is not set", id, env)
			}
			p := filepath.Join(tmp, "secret-"+strconv.Itoa(i))
			if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
				return err
			}
			out[id] = p
		}
	}
	return nil
}

func builderPruneCommand() *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove build cache",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(filters) > 0 {
				return cli.Invalid("builder prune: --filter is not supported")
			}
			reclaimed := cli.MeasureReclaimed(cmd)
			lines, err := cli.Engine(cmd).PruneBuilder(cmd.Context(), engine.BuilderPruneOptions{All: all})
			return cli.PrintPruned(cmd.OutOrStdout(), "Deleted build cache objects:", lines, err, reclaimed)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all build cache, cache mounts included")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (not supported)")
	return cmd
}
