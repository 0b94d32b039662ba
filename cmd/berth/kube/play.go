package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/kube"
)

// maxYAML bounds what play reads from a file, stdin or a URL.
const maxYAML = 32 << 20

type playFlags struct {
	replace, down, strict, build, noStart bool
	start                                 bool
	networks, configMaps, publish         []string
	logDriver                             string
	force                                 bool
}

func playCommand() *cobra.Command {
	var f playFlags
	cmd := &cobra.Command{
		Use:   "play [OPTIONS] FILE|-|URL",
		Short: "Create pods, containers and volumes from Kubernetes YAML",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.noStart = !f.start
			if f.down {
				return runDown(cmd, args[0], f.force)
			}
			return runPlay(cmd, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.replace, "replace", false, "Remove the file's pods (as kube down does) and create them again")
	fl.BoolVar(&f.down, "down", false, "Remove what a play of the file created (as kube down does)")
	fl.BoolVar(&f.force, "force", false, "With --down, also remove the volumes of the file's PersistentVolumeClaims")
	fl.BoolVar(&f.strict, "strict", false, "Fail when the file has a kind or field berth does not apply")
	fl.BoolVar(&f.start, "start", true, "Start the pods after creating them")
	fl.BoolVar(&f.build, "build", false, "Build images from the directories beside the file named after them, even if present")
	fl.StringArrayVar(&f.networks, "network", nil, "Connect the pods to this network, or host or none (default: a network named kube; rootless: the engine's default)")
	fl.StringArrayVar(&f.configMaps, "configmap", nil, "Read ConfigMaps from this YAML file (can be repeated)")
	fl.StringArrayVar(&f.publish, "publish", nil, "Publish a container port, overriding the file's hostPort for it (HOST:CONTAINER)")
	fl.StringVar(&f.logDriver, "log-driver", "", "Logging driver for the containers")
	// kube play creates and starts containers: its failures are berth's own, as run's are.
	return cli.SetExitClass(cmd, errdefs.ClassRun)
}

func downCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "down [OPTIONS] FILE|-|URL",
		Short: "Remove the pods, containers and volumes a kube play of the file created",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDown(cmd, args[0], force)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "Also remove the volumes of the file's PersistentVolumeClaims")
	return cmd
}

// readSource reads FILE, - (stdin) or an http(s) URL, and names it for messages.
func readSource(cmd *cobra.Command, src string) ([]byte, error) {
	var r io.Reader
	switch {
	case src == "-":
		r = cmd.InOrStdin()
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, cli.Invalid("invalid URL %q: %v", src, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", src, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("fetch %s: %s", src, resp.Status)
		}
		r = resp.Body
	default:
		fh, err := os.Open(src)
		if err != nil {
			if os.IsNotExist(err) {
				return nil, errdefs.Newf(errdefs.ErrNotFound, "read %s: no such file", src)
			}
			return nil, fmt.Errorf("read %s: %w", src, err)
		}
		defer fh.Close()
		r = fh
	}
	data, err := io.ReadAll(io.LimitReader(r, maxYAML+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", src, err)
	}
	if len(data) > maxYAML {
		return nil, cli.Invalid("read %s: more than %d MiB of YAML", src, maxYAML>>20)
	}
	return data, nil
}

// sourceName is how messages name the play's input.
func sourceName(src string) string {
	if src == "-" {
		return "stdin"
	}
	return src
}

// plan reads and translates src with the play flags.
func plan(cmd *cobra.Command, src string, f *playFlags, names bool) (*kube.Plan, error) {
	e := cli.Engine(cmd)
	data, err := readSource(cmd, src)
	if err != nil {
		return nil, err
	}
	m, err := kube.Decode(sourceName(src), data)
	if err != nil {
		return nil, err
	}
	o := kube.PlayOptions{FilesDir: filesDir(e), LogDriver: f.logDriver, Names: names, DefaultNetwork: kube.DefaultNetwork}
	if e.Config.Rootless {
		o.DefaultNetwork = "" // no bridges without root: pods get the engine's rootless network
	}
	o.NodeName, _ = os.Hostname()
	if o.Network, o.Networks, err = engine.ParseNetworkMode(f.networks, e.Config.Network.DefaultNetwork); err != nil {
		return nil, err
	}
	if o.Publish, err = engine.ParsePorts(f.publish); err != nil {
		return nil, err
	}
	for _, p := range f.configMaps {
		data, err := readSource(cmd, p)
		if err != nil {
			return nil, err
		}
		cm, err := kube.Decode(p, data)
		if err != nil {
			return nil, err
		}
		o.ConfigMaps = append(o.ConfigMaps, cm)
	}
	return kube.Translate(m, o)
}

func filesDir(e *engine.Engine) string { return filepath.Join(e.Config.Root, "kube") }

func runPlay(cmd *cobra.Command, src string, f *playFlags) error {
	pl, err := plan(cmd, src, f, false)
	if err != nil {
		return err
	}
	for _, line := range pl.Report {
		fmt.Fprintln(cmd.ErrOrStderr(), line)
	}
	if f.strict && len(pl.Report) > 0 {
		return cli.Invalid("--strict: %d kind(s) or field(s) of %s are not applied (listed above)", len(pl.Report), sourceName(src))
	}
	e, ctx := cli.Engine(cmd), cmd.Context()
	o := kube.ApplyOptions{FilesDir: filesDir(e), Replace: f.replace, NoStart: f.noStart, ForceBuild: f.build,
		Pull: func(ctx context.Context, ref string) error { return runSub(cmd, []string{"pull"}, nil, ref) }}
	if src != "-" && !strings.Contains(src, "://") {
		dir := filepath.Dir(src)
		o.Build = func(ctx context.Context, image string) (bool, error) { return buildBeside(cmd, dir, image) }
	}
	played, err := kube.Apply(ctx, e, pl, o)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if len(played.Volumes) > 0 {
		fmt.Fprintln(out, "Volumes:")
		for _, v := range played.Volumes {
			fmt.Fprintln(out, v)
		}
	}
	for _, p := range played.Pods {
		fmt.Fprintf(out, "Pod:\n%s\nContainers:\n", p.ID)
		for _, c := range p.Containers {
			fmt.Fprintln(out, c)
		}
		fmt.Fprintln(out)
	}
	if f.noStart {
		return nil
	}
	return waitJobs(cmd, e, played)
}

// waitJobs waits for the Jobs' containers to finish; a failed one makes play fail with its
// status.
func waitJobs(cmd *cobra.Command, e *engine.Engine, played *kube.Played) error {
	var failed error
	for _, p := range played.Pods {
		if !p.Job {
			continue
		}
		for _, id := range p.Containers {
			code, err := e.WaitContainer(cmd.Context(), id)
			if err != nil {
				return err
			}
			if code != 0 && failed == nil {
				c, _ := e.Container(cmd.Context(), id)
				name := id
				if c != nil {
					name = c.Name
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Error: job pod %s: container %s exited with status %d\n", p.Name, name, code)
				failed = &errdefs.ExitError{Code: code}
			}
		}
	}
	return failed
}

func runDown(cmd *cobra.Command, src string, force bool) error {
	pl, err := plan(cmd, src, &playFlags{}, true)
	if err != nil {
		return err
	}
	e := cli.Engine(cmd)
	downed, err := kube.Down(cmd.Context(), e, pl, kube.DownOptions{FilesDir: filesDir(e), Force: force})
	out := cmd.OutOrStdout()
	if len(downed.Stopped) > 0 {
		fmt.Fprintln(out, "Pods stopped:")
		for _, id := range downed.Stopped {
			fmt.Fprintln(out, id)
		}
	}
	if len(downed.Pods) > 0 {
		fmt.Fprintln(out, "Pods removed:")
		for _, id := range downed.Pods {
			fmt.Fprintln(out, id)
		}
	}
	if len(downed.Volumes) > 0 {
		fmt.Fprintln(out, "Volumes removed:")
		for _, v := range downed.Volumes {
			fmt.Fprintln(out, v)
		}
	}
	return err
}

// runSub runs another berth command (pull, build) with its output on stderr, so that play's
// stdout stays the list of what it created.
func runSub(cmd *cobra.Command, path []string, flags map[string]string, args ...string) error {
	sub, _, err := cmd.Root().Find(path)
	if err != nil || sub.RunE == nil {
		return fmt.Errorf("no %s command", strings.Join(path, " "))
	}
	for k, v := range flags {
		if err := sub.Flags().Set(k, v); err != nil {
			return err
		}
	}
	sub.SetContext(cmd.Context())
	sub.SetOut(cmd.ErrOrStderr())
	sub.SetErr(cmd.ErrOrStderr())
	return sub.RunE(sub, args)
}

// buildBeside builds image from DIR/NAME when that directory holds a Containerfile or a
// Dockerfile (NAME is the image's last path element without tag), as podman kube play does.
func buildBeside(cmd *cobra.Command, dir, image string) (bool, error) {
	name := path.Base(image)
	if i := strings.IndexAny(name, ":@"); i >= 0 {
		name = name[:i]
	}
	ctxDir := filepath.Join(dir, name)
	flags := map[string]string{"tag": image}
	switch {
	case fileExists(filepath.Join(ctxDir, "Containerfile")):
		flags["file"] = filepath.Join(ctxDir, "Containerfile")
	case fileExists(filepath.Join(ctxDir, "Dockerfile")):
	default:
		return false, nil
	}
	if err := runSub(cmd, []string{"build"}, flags, ctxDir); err != nil {
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			return false, fmt.Errorf("build from %s failed", ctxDir)
		}
		return false, err
	}
	return true, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
