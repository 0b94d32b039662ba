// Package generate holds `berth generate systemd`: unit files for existing containers.
package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/systemd"
)

// Command returns the `generate` group.
func Command() *cobra.Command {
	return cli.Group("generate", "Generate structured data based on containers",
		systemdCommand())
}

func systemdCommand() *cobra.Command {
	var o systemd.GenerateOptions
	var files bool
	var format string
	var stopTimeout uint
	cmd := &cobra.Command{
		Use:   "systemd [OPTIONS] CONTAINER|POD",
		Short: "Generate systemd units for a container, or a pod and its containers",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "" && format != "json" {
				return cli.Invalid("invalid --format %q: want json", format)
			}
			if cmd.Flags().Changed("time") {
				o.StopTimeout = &stopTimeout
			}
			e, ctx := cli.Engine(cmd), cmd.Context()
			var err error
			if o.Executable, err = os.Executable(); err != nil {
				return fmt.Errorf("find the berth binary: %w", err)
			}
			o.GlobalArgs = cli.UnitGlobalArgs(e)
			o.TakesValue = takesValue(cmd)
			o.Version = engine.Version
			for i, kv := range o.Env {
				if !strings.Contains(kv, "=") { // -e NAME takes our value, as run does
					o.Env[i] = kv + "=" + os.Getenv(kv)
				}
			}
			units, err := generateUnits(ctx, e, args[0], o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			byName := map[string]string{}
			if files {
				dir, err := os.Getwd()
				if err != nil {
					return err
				}
				for _, u := range units {
					p := filepath.Join(dir, u.Name)
					if err := os.WriteFile(p, []byte(u.Text), 0o644); err != nil {
						return fmt.Errorf("write unit file: %w", err)
					}
					byName[u.Name] = p
					if format != "json" {
						fmt.Fprintln(out, p)
					}
				}
			} else {
				for i, u := range units {
					byName[u.Name] = u.Text
					if format != "json" {
						if i > 0 {
							fmt.Fprintln(out)
						}
						fmt.Fprint(out, u.Text)
					}
				}
			}
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "    ")
				return enc.Encode(byName)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.New, "new", false, "Create the container when the unit starts and remove it when it stops")
	fl.BoolVarP(&o.UseName, "name", "n", false, "Use the container's name instead of its ID in the unit")
	fl.BoolVarP(&files, "files", "f", false, "Write the unit to a file in the current directory and print its path")
	fl.StringVar(&o.RestartPolicy, "restart-policy", "", "systemd restart policy (default: from the container's --restart, else on-failure)")
	fl.UintVar(&o.RestartSec, "restart-sec", 0, "Seconds systemd waits before restarting the container")
	fl.UintVarP(&stopTimeout, "time", "t", 10, "Stop timeout override in seconds")
	fl.StringVar(&o.ContainerPrefix, "container-prefix", "container", "Prefix of the unit's name")
	fl.StringVar(&o.Separator, "separator", "-", "Separator between the prefix and the name")
	fl.StringArrayVar(&o.After, "after", nil, "Add an After= dependency on the unit")
	fl.StringArrayVar(&o.Wants, "wants", nil, "Add a Wants= dependency on the unit")
	fl.StringArrayVar(&o.Requires, "requires", nil, "Add a Requires= dependency on the unit")
	fl.StringArrayVarP(&o.Env, "env", "e", nil, "Set an environment variable in the unit (KEY=VALUE)")
	fl.StringVar(&format, "format", "", "Print the units as json")
	return cmd
}

// generateUnits renders the unit of container ref, or the units of pod ref.
func generateUnits(ctx context.Context, e *engine.Engine, ref string, o systemd.GenerateOptions) ([]systemd.GeneratedUnit, error) {
	c, err := e.Container(ctx, ref)
	if err == nil {
		u, err := systemd.ContainerUnit(ContainerInfo(e, c), o)
		return []systemd.GeneratedUnit{u}, err
	}
	if !errors.Is(err, errdefs.ErrNotFound) {
		return nil, err
	}
	p, perr := e.Pod(ctx, ref)
	if errors.Is(perr, errdefs.ErrNotFound) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "%s does not refer to a container or pod", ref)
	}
	if perr != nil {
		return nil, perr
	}
	ctrs, err := e.PodContainers(ctx, p)
	if err != nil {
		return nil, err
	}
	info := systemd.PodInfo{ID: p.ID, Name: p.Name}
	for _, c := range ctrs {
		if c.Infra {
			info.Infra = ContainerInfo(e, c)
		} else {
			info.Containers = append(info.Containers, ContainerInfo(e, c))
		}
	}
	return systemd.PodUnits(info, o)
}

// ContainerInfo is what unit generation needs of a container record.
func ContainerInfo(e *engine.Engine, c *engine.Container) systemd.ContainerInfo {
	stop := uint(10)
	if c.Options.StopTimeout != nil && *c.Options.StopTimeout >= 0 {
		stop = uint(*c.Options.StopTimeout)
	}
	return systemd.ContainerInfo{ID: c.ID, Name: c.Name, CreateCommand: c.Options.CreateCommand, StopTimeout: stop,
		RestartPolicy: c.Options.Restart.Name, SdNotify: c.Options.SdNotify, MonitorPIDFile: e.MonitorPIDFile(c),
		Root: e.Config.Root, RunRoot: e.Config.RunRoot}
}

// takesValue answers, for a global or run flag ("--name", "-e"), whether it takes a value.
func takesValue(cmd *cobra.Command) func(string) bool {
	sets := []*pflag.FlagSet{cmd.Root().PersistentFlags()}
	if run, _, err := cmd.Root().Find([]string{"run"}); err == nil && run != nil {
		sets = append(sets, run.Flags())
	}
	return func(name string) bool {
		for _, fs := range sets {
			var f *pflag.Flag
			if long, ok := strings.CutPrefix(name, "--"); ok {
				f = fs.Lookup(long)
			} else if len(name) == 2 {
				f = fs.ShorthandLookup(name[1:])
			}
			if f != nil {
				return f.NoOptDefVal == ""
			}
		}
		return false
	}
}
