// Package pod holds the `berth pod ...` commands: groups of containers sharing namespaces
// through an infra container, as podman's pods.
package pod

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/format"
)

// Command returns the `pod` group.
func Command() *cobra.Command {
	return cli.Group("pod", "Manage pods",
		createCommand(), rmCommand(), inspectCommand(), existsCommand(), psCommand(),
		startCommand(), stopCommand(), restartCommand(), killCommand(), pauseCommand(true), pauseCommand(false),
		pruneCommand(), topCommand(), statsCommand(), logsCommand())
}

// NetworkFlags are the network flags `pod create` and `run --pod new:` share.
type NetworkFlags struct {
	Networks, Publish, AddHosts, DNS, DNSSearch, DNSOptions, Aliases []string
	IP, MAC                                                          string
}

// Apply validates the flags into the pod's options.
func (f NetworkFlags) Apply(o *engine.PodOptions, defaultNetwork string) error {
	var networks []string
	for _, n := range f.Networks {
		if n != "private" { // podman's name for the default: a network namespace of the pod's own
			networks = append(networks, n)
		}
	}
	mode, nets, err := engine.ParseNetworkMode(networks, defaultNetwork)
	if err != nil {
		return err
	}
	o.Network = mode
	reqs, err := cli.NetworkRequests(mode, nets, f.IP, f.MAC, f.Aliases, defaultNetwork)
	if err != nil {
		return err
	}
	o.Networks = append(o.Networks, reqs...)
	ports, hosts, err := cli.PortsHostsDNS(f.Publish, f.AddHosts, f.DNS)
	if err != nil {
		return err
	}
	o.Ports = ports
	o.AddHosts = append(o.AddHosts, hosts...)
	o.DNS, o.DNSSearch, o.DNSOptions = f.DNS, f.DNSSearch, f.DNSOptions
	return nil
}

func createCommand() *cobra.Command {
	var o engine.PodOptions
	var nf NetworkFlags
	var labels []string
	var share, infraCommand, idFile string
	infra := true
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [NAME]",
		Short: "Create a new empty pod",
		Args:  cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if o.Name != "" && o.Name != args[0] {
					return cli.Invalid("cannot specify both --name %s and the pod name %s", o.Name, args[0])
				}
				o.Name = args[0]
			}
			e, ctx := cli.Engine(cmd), cmd.Context()
			var err error
			if o.Labels, err = cli.KeyValues("label", labels, false); err != nil {
				return err
			}
			if cmd.Flags().Changed("share") {
				if o.Share, err = engine.ParsePodShare(share); err != nil {
					return err
				}
			}
			if infraCommand != "" {
				if o.InfraCommand, err = parseCommand(infraCommand); err != nil {
					return err
				}
			}
			o.NoInfra = !infra
			if err := nf.Apply(&o, e.Config.Network.DefaultNetwork); err != nil {
				return err
			}
			if o.InfraImage != "" && infra {
				if err := cli.PullMissing(cmd, o.InfraImage); err != nil {
					return err
				}
			}
			if idFile != "" {
				if _, err := os.Stat(idFile); err == nil {
					return cli.Invalid("pod ID file %s exists: make sure the pod is gone and remove the file", idFile)
				}
			}
			p, err := e.CreatePod(ctx, o)
			if err != nil {
				return err
			}
			if idFile != "" {
				if err := os.WriteFile(idFile, []byte(p.ID), 0o644); err != nil {
					_ = e.RemovePod(context.Background(), p.ID, engine.PodRemoveOptions{Force: true})
					return fmt.Errorf("write pod ID file: %w", err)
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), p.ID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Name, "name", "n", "", "Assign a name to the pod")
	fl.StringArrayVarP(&labels, "label", "l", nil, "Set metadata on the pod (KEY=VALUE)")
	fl.StringVar(&o.Hostname, "hostname", "", "Set the pod's hostname (default: its name)")
	fl.StringVar(&share, "share", "ipc,net,uts", "Namespaces the pod's containers share: cgroup, ipc, net, pid, uts or none; +NS adds to the default")
	fl.BoolVar(&infra, "infra", true, "Create an infra container holding the pod's namespaces")
	fl.StringVar(&o.InfraImage, "infra-image", "", "Image of the infra container (default: berth's own pause image, no pull)")
	fl.StringArrayVar(&o.Devices, "device", nil, "Add a host device or a CDI device (vendor.com/class=name) to every container of the pod")
	fl.StringVar(&infraCommand, "infra-command", "", "Command of the infra container (a JSON array or words)")
	fl.StringVar(&o.InfraName, "infra-name", "", "Name of the infra container (default: POD-ID-infra)")
	fl.StringArrayVar(&nf.Networks, "network", nil, "Connect the pod to a network: NAME, bridge (the default), host or none")
	fl.StringArrayVar(&nf.Networks, "net", nil, "Connect the pod to a network")
	_ = fl.MarkHidden("net")
	fl.StringArrayVarP(&nf.Publish, "publish", "p", nil, "Publish a port of the pod to the host: [hostIP:][hostPort:]containerPort[/proto]")
	fl.StringArrayVar(&nf.AddHosts, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	fl.StringArrayVar(&nf.DNS, "dns", nil, "Set custom DNS servers")
	fl.StringArrayVar(&nf.DNSSearch, "dns-search", nil, "Set custom DNS search domains")
	fl.StringArrayVar(&nf.DNSOptions, "dns-option", nil, "Set DNS options")
	fl.StringVar(&o.UserNS, "userns", "", "User namespace of the pod's containers: host (berth's own)")
	fl.BoolVar(&o.Replace, "replace", false, "Replace a pod of the same name")
	fl.StringVar(&idFile, "pod-id-file", "", "Write the pod ID to the file")
	fl.StringVar(&o.ExitPolicy, "exit-policy", engine.PodExitContinue, "What happens when the pod's last container exits: continue or stop")
	fl.StringVar(&nf.IP, "ip", "", "IPv4 address of the pod on its first network")
	fl.StringVar(&nf.MAC, "mac-address", "", "MAC address of the pod on its first network")
	fl.StringArrayVar(&nf.Aliases, "network-alias", nil, "Add a network-scoped alias for the pod")
	// Like run and create, a pod create that fails is berth's own failure (125), as in podman.
	return cli.SetExitClass(cmd, errdefs.ClassRun)
}

// parseCommand reads a command as a JSON array (["/pause","-x"]) or as words.
func parseCommand(s string) ([]string, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var out []string
		if err := json.Unmarshal([]byte(s), &out); err != nil || len(out) == 0 {
			return nil, cli.Invalid("invalid --infra-command %q: not a JSON array of strings", s)
		}
		return out, nil
	}
	return strings.Fields(s), nil
}

func rmCommand() *cobra.Command {
	var o engine.PodRemoveOptions
	var all, ignore bool
	var stopTime int
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] POD [POD...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more pods and their containers",
		Args:    podArgs(&all),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := withAllPods(cmd, args, all)
			if err != nil {
				return err
			}
			return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				p, err := e.Pod(ctx, ref)
				if err != nil {
					// --ignore and -f pass over a missing pod silently, as in Podman.
					if (ignore || o.Force) && errors.Is(err, errdefs.ErrNotFound) {
						return "", cli.ErrSkip
					}
					return "", err
				}
				// -t N with --force stops the containers gracefully first (stop signal,
				// SIGKILL after N seconds), as Podman's pod rm does; -t 0 kills at once.
				if o.Force && cmd.Flags().Changed("time") && stopTime > 0 {
					d := time.Duration(stopTime) * time.Second
					if _, err := e.StopPod(ctx, p.ID, &d); err != nil {
						return "", err
					}
				}
				return p.ID, e.RemovePod(ctx, p.ID, o)
			})
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&stopTime, "time", "t", 10, "With --force, seconds to wait for the containers to stop before killing them")
	fl.BoolVarP(&o.Force, "force", "f", false, "Stop and remove the pod's running containers (uses SIGKILL)")
	fl.BoolVarP(&all, "all", "a", false, "Remove all pods")
	fl.BoolVarP(&ignore, "ignore", "i", false, "Ignore errors when a pod does not exist")
	return cmd
}

func inspectCommand() *cobra.Command {
	var f string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] POD [POD...]",
		Short: "Display detailed information on one or more pods",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, ctx := cli.Engine(cmd), cmd.Context()
			var objs []any
			var failed error
			for _, a := range args {
				j, err := e.InspectPod(ctx, a)
				if err != nil {
					if failed != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "Error: %v\n", failed)
					}
					failed = err
					continue
				}
				objs = append(objs, j)
			}
			if err := format.Inspect(cmd.OutOrStdout(), f, objs); err != nil {
				return err
			}
			return failed
		},
	}
	cmd.Flags().StringVarP(&f, "format", "f", "", "Format the output using a Go template or json")
	return cmd
}

func existsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "exists POD",
		Short: "Check if a pod exists: exit 0 if it does, 1 if not",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cli.Engine(cmd).Pod(cmd.Context(), args[0])
			return cli.ExistsResult(err)
		},
	}
}
