package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/cmd/berth/rows"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/libimage"
	"github.com/berth-project/berth/libnet"
)

// psFilter is the set of --filter KEY=VALUE: values of one key are ORed, keys are ANDed.
type psFilter map[string][]string

func parsePsFilters(fs []string) (psFilter, error) {
	out := psFilter{}
	for _, f := range fs {
		k, v, ok := strings.Cut(f, "=")
		switch k {
		case "status", "name", "label", "ancestor", "exited", "id", "before", "since", "volume", "health", "network", "publish", "expose", "restart-policy", "pod":
		default:
			ok = false
		}
		if !ok {
			return nil, cli.Invalid("invalid filter %q: want status, name, label, ancestor, exited, id, before, since, volume, health, network, publish, expose or pod", f)
		}
		if k == "status" {
			switch v {
			case "stopped": // Podman's name for exited
				v = "exited"
			case "created", "running", "paused", "restarting", "exited", "removing", "dead":
			default:
				return nil, cli.Invalid("invalid filter %q: status is created, restarting, running, removing, paused, exited or dead", f)
			}
		}
		if k == "restart-policy" {
			switch v {
			case "no", "none", "always", "on-failure", "unless-stopped":
			default:
				return nil, cli.Invalid("%s invalid restart policy", v)
			}
		}
		if k == "exited" {
			if _, err := strconv.Atoi(v); err != nil {
				return nil, cli.Invalid("invalid filter %q: exited takes an exit code", f)
			}
		}
		out[k] = append(out[k], v)
	}
	return out, nil
}

// podNames maps pod ids to names, read once per ps when --pod or a pod filter needs them.
type podNames map[string]string

func readPodNames(ctx context.Context, e *engine.Engine) (podNames, error) {
	ps, err := e.Pods(ctx)
	if err != nil {
		return nil, err
	}
	out := podNames{}
	for _, p := range ps {
		out[p.ID] = p.Name
	}
	return out, nil
}

func (pf psFilter) match(ctx context.Context, e *engine.Engine, c *engine.Container, pods podNames) bool {
	any := func(key string, fn func(v string) bool) bool { return cli.FilterAny(pf, key, fn) }
	return any("status", func(v string) bool { return c.State == v }) &&
		any("name", func(v string) bool { return nameMatches(c.Name, strings.TrimPrefix(v, "/")) }) &&
		any("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		any("exited", func(v string) bool { return c.State == engine.StateExited && strconv.Itoa(c.ExitCode) == v }) &&
		any("label", func(v string) bool {
			k, val, hasVal := strings.Cut(v, "=")
			got, ok := c.Options.Labels[k]
			return ok && (!hasVal || got == val)
		}) &&
		any("ancestor", func(v string) bool {
			if c.Options.Image == v || strings.HasPrefix(strings.TrimPrefix(c.ImageID, "sha256:"), strings.TrimPrefix(v, "sha256:")) {
				return true
			}
			store, err := e.Images(ctx)
			if err != nil {
				return false
			}
			img, err := store.Lookup(ctx, v)
			return err == nil && img.ID == c.ImageID
		}) &&
		any("volume", func(v string) bool {
			for _, m := range c.Options.Mounts {
				if m.Source == v || m.Target == v {
					return true
				}
			}
			return false
		}) &&
		any("network", func(v string) bool {
			for _, n := range c.NetworkNames() {
				if n == v {
					return true
				}
			}
			return c.NetworkMode() == v
		}) &&
		// unless-stopped matches the containers that policy brings back: not those the user
		// stopped (berth-restart.service starts the matching ones at boot).
		any("restart-policy", func(v string) bool {
			if v == "unless-stopped" && c.StoppedByUser {
				return false
			}
			return c.Options.Restart.Name == v || (v == "none" && c.Options.Restart.Name == "no")
		}) &&
		any("publish", func(v string) bool { return c.Net != nil && c.Active() && portMatches(c.Net.Ports, v, true) }) &&
		any("expose", func(v string) bool { return portMatches(c.Options.Ports, v, false) }) &&
		any("pod", func(v string) bool {
			return c.Options.Pod != "" && (pods[c.Options.Pod] == v || strings.HasPrefix(c.Options.Pod, v))
		}) &&
		any("health", func(v string) bool {
			h := "none"
			if c.Health != nil {
				h = c.Health.Status
			}
			return h == v
		})
}

func psCommand(use string) *cobra.Command {
	var all, quiet, noTrunc, latest, size, noHeading, pod bool
	var last int
	var f, sortBy string
	var filters []string
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS]",
		Short: "List containers",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := parsePsFilters(filters)
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			e, ctx := cli.Engine(cmd), cmd.Context()
			cs, err := e.Containers(ctx)
			if err != nil {
				return err
			}
			if last > 0 && len(cs) > last { // the newest, before any --sort
				cs = cs[:last]
			}
			if err := sortContainers(cs, sortBy); err != nil {
				return err
			}
			store, err := e.Images(ctx)
			if err != nil {
				return err
			}
			var pods podNames
			if pod || len(pf["pod"]) > 0 {
				if pods, err = readPodNames(ctx, e); err != nil {
					return err
				}
			}
			images := map[string]*libimage.Image{} // each image looked up once
			var out []any
			for _, c := range cs {
				if !all && last <= 0 && !c.Active() && len(pf["status"]) == 0 && len(pf["exited"]) == 0 {
					continue
				}
				if !pf.match(ctx, e, c, pods) {
					continue
				}
				img, ok := images[c.ImageID]
				if !ok {
					img, _ = store.Lookup(ctx, c.ImageID)
					images[c.ImageID] = img
				}
				r := rows.NewContainer(c, img, !noTrunc)
				r.PodName = pods[c.Options.Pod]
				if size || strings.Contains(f, ".Size") { // docker measures for a template asking
					if rw, virt, err := e.ContainerSize(ctx, c); err == nil {
						r.Size = fmt.Sprintf("%s (virtual %s)", units.HumanSizeWithPrecision(float64(rw), 3), units.HumanSizeWithPrecision(float64(virt), 3))
					}
				}
				out = append(out, r)
			}
			def := "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
			if size {
				def += "\t{{.Size}}"
			}
			if pod {
				def += "\t{{.Pod}}\t{{.PodName}}"
			}
			return format.List{Format: f, Quiet: "ID", QuietOn: quiet, Default: def, NoHeading: noHeading,
				Headers: map[string]string{"ID": "CONTAINER ID", "RunningFor": "CREATED", "Names": "NAMES", "Pod": "POD ID", "PodName": "PODNAME"},
			}.Write(cmd.OutOrStdout(), out)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fl.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	fl.BoolVarP(&size, "size", "s", false, "Display total file sizes")
	fl.BoolVarP(&pod, "pod", "p", false, "Print the ID and name of the pod the containers are in")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	fl.StringVar(&f, "format", "", "Format output using a Go template, 'table ...' or 'json'")
	// Podman lists containers other tools (buildah) made in its storage; berth's storage holds
	// only berth's containers, so the listing is the same with it.
	fl.BoolVar(&noHeading, "noheading", false, "Do not print the table's header line")
	fl.StringVar(&sortBy, "sort", "created", "Sort by command, created, id, image, names, runningfor, size or status")
	fl.Bool("external", false, "Also show containers of other tools in the storage (berth's storage has none)")
	return cmd
}

func logsCommand() *cobra.Command {
	var o engine.LogOptions
	var window cli.LogWindow
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := window.Apply(&o); err != nil {
				return err
			}
			e := cli.Engine(cmd)
			c, err := e.Container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.Logs(cmd.Context(), c, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.Follow, "follow", "f", false, "Follow log output")
	fl.BoolVarP(&o.Timestamps, "timestamps", "t", false, "Show timestamps")
	window.AddFlags(fl, "n", "Number of lines to show from the end of the logs")
	return cmd
}

func execCommand() *cobra.Command {
	var o engine.ExecOptions
	var envFiles []string
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cli.MinimumArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range envFiles {
				env, err := readEnvFile(f)
				if err != nil {
					return err
				}
				o.Env = append(env, o.Env...)
			}
			o.Cmd = args[1:]
			eio := engine.ExecIO{Stdin: cmd.InOrStdin(), Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
			if o.TTY {
				if restore := rawTerminal(cmd.InOrStdin(), o.Interactive); restore != nil {
					defer restore()
				}
				o.Rows, o.Cols = terminalSize(cmd.OutOrStdout())
				var stop func()
				eio.OnTerminal = func(master *os.File) {
					stop = followSize(cmd.OutOrStdout(), func(rows, cols uint16) { setSize(master, rows, cols) })
				}
				defer func() {
					if stop != nil {
						stop()
					}
				}()
			}
			code, err := cli.Engine(cmd).Exec(cmd.Context(), args[0], o, eio)
			if err != nil {
				return err
			}
			if o.Detach {
				return nil
			}
			return exitStatus(code, nil)
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&o.Interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fl.BoolVarP(&o.TTY, "tty", "t", false, "Allocate a pseudo-TTY")
	fl.BoolVarP(&o.Detach, "detach", "d", false, "Detached mode: run command in the background")
	fl.StringArrayVarP(&o.Env, "env", "e", nil, "Set environment variables")
	fl.StringArrayVar(&envFiles, "env-file", nil, "Read in a file of environment variables")
	fl.StringVarP(&o.Workdir, "workdir", "w", "", "Working directory inside the container")
	fl.StringVarP(&o.User, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fl.BoolVar(&o.Privileged, "privileged", false, "Give extended privileges to the command")
	return cmd
}

func inspectCommand(use string) *cobra.Command {
	var f, typ string
	var size bool
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on containers (and, at top level, images and volumes)",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topLevel := cmd.Parent() == cmd.Root()
			return cli.InspectEach(cmd, args, f, func(ctx context.Context, e *engine.Engine, name string) (any, error) {
				return inspectOne(ctx, e, name, typ, topLevel)
			})
		},
	}
	cmd.Flags().StringVarP(&f, "format", "f", "", "Format the output using a Go template or json")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	if use == "inspect" {
		cmd.Flags().StringVar(&typ, "type", "", "Return JSON for specified type (container, image, volume, pod)")
	}
	return cmd
}

func inspectOne(ctx context.Context, e *engine.Engine, ref, typ string, topLevel bool) (any, error) {
	if typ == "" || typ == "container" {
		j, err := e.InspectContainer(ctx, ref)
		if err == nil || !topLevel || typ == "container" || !errors.Is(err, errdefs.ErrNotFound) {
			return j, err
		}
	}
	if typ == "" || typ == "image" {
		store, err := e.Images(ctx)
		if err != nil {
			return nil, err
		}
		img, err := store.Lookup(ctx, ref)
		if err == nil {
			return e.InspectImage(img), nil
		}
		if typ == "image" {
			return nil, err
		}
	}
	if typ == "" || typ == "volume" {
		v, err := e.Volume(ctx, ref)
		if err == nil || typ == "volume" {
			return v, err
		}
	}
	if typ == "" || typ == "pod" {
		j, err := e.InspectPod(ctx, ref)
		if err == nil || typ == "pod" {
			return j, err
		}
	}
	if typ != "" && typ != "container" && typ != "image" && typ != "volume" && typ != "pod" {
		return nil, cli.Invalid("invalid --type %q: want container, image, volume or pod", typ)
	}
	return nil, errdefs.Newf(errdefs.ErrNotFound, "no such object: %s", ref)
}

// portMatches says whether a published (host side) or exposed (container side) port matches
// a --filter publish=/expose= value: PORT[/PROTO].
func portMatches(ports []libnet.PortMapping, v string, host bool) bool {
	port, proto, _ := strings.Cut(v, "/")
	n, err := strconv.Atoi(port)
	if err != nil {
		return false
	}
	for _, p := range ports {
		first := int(p.ContainerPort)
		if host {
			first = int(p.HostPort)
		}
		if n >= first && n < first+int(max(p.Range, 1)) && (proto == "" || proto == p.Protocol) {
			return true
		}
	}
	return false
}
