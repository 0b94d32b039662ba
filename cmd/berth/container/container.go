// Package container holds the container and volume commands: `berth container ...`,
// `berth volume ...` and their Docker top-level forms (`berth run`, `berth ps`, ...).
package container

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/cdi"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/systemd"
	"github.com/berth-project/berth/internal/userns"
)

// Commands returns the `container` and `volume` groups and the top-level forms Docker has.
func Commands() []*cobra.Command {
	group := cli.Group("container", "Manage containers")
	ls := psCommand("ls")
	ls.Aliases = []string{"list", "ps"}
	perContainer := func() []*cobra.Command {
		return []*cobra.Command{createCommand(), startCommand(), runCommand(), rmCommand(), logsCommand(), stopCommand(),
			killCommand(), waitCommand(), execCommand(), attachCommand(), restartCommand(), pauseCommand(true),
			pauseCommand(false), renameCommand(), topCommand(), statsCommand(), cpCommand(), diffCommand(),
			exportCommand(), commitCommand(), portCommand()}
	}
	group.AddCommand(perContainer()...)
	group.AddCommand(ls, inspectCommand("inspect"), pruneCommand(), cleanupCommand(), notifyCommand(), existsCommand())
	return append(perContainer(), group, psCommand("ps"), inspectCommand("inspect"), volumeCommand())
}

type createFlags struct {
	o                                    engine.CreateOptions
	env, envFiles, labels, volumes       []string
	mounts, tmpfs, securityOpts, devices []string
	ulimits, logOpts                     []string
	entrypoint, memory, cpus, restart    string
	healthCmd                            string
	healthInterval, healthTimeout        time.Duration
	healthStart                          time.Duration
	healthRetries                        int
	noHealthcheck                        bool
	stopTimeout                          int
	pull, cidfile                        string
	networks, publish, aliases, addHosts []string
	ip, mac                              string
	gpus                                 string
	pod                                  string
	podman                               podmanRunFlags
	uidmaps, gidmaps                     []string
}

func (f *createFlags) add(fs *pflag.FlagSet) {
	fs.SetInterspersed(false)
	fs.Bool("help", false, "Print usage") // -h is --hostname, as in Docker
	fs.StringVar(&f.o.Name, "name", "", "Assign a name to the container")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "Set environment variables")
	fs.StringArrayVar(&f.envFiles, "env-file", nil, "Read in a file of environment variables")
	fs.StringVarP(&f.o.Workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&f.o.User, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&f.o.UserNS, "userns", "", "User namespace: host, keep-id[:uid=U,gid=G], nomap or auto[:size=N]")
	fs.StringArrayVar(&f.uidmaps, "uidmap", nil, "Map container uids to host uids in a new user namespace: CONTAINER:HOST:SIZE")
	fs.StringArrayVar(&f.gidmaps, "gidmap", nil, "Map container gids to host gids in a new user namespace: CONTAINER:HOST:SIZE")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.StringVarP(&f.o.Hostname, "hostname", "h", "", "Container host name")
	fs.BoolVar(&f.o.Rm, "rm", false, "Automatically remove the container when it exits")
	fs.BoolVarP(&f.o.Interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&f.o.TTY, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.BoolVar(&f.o.ReadOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "Bind mount a volume")
	fs.StringArrayVar(&f.mounts, "mount", nil, "Attach a filesystem mount to the container")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "Mount a tmpfs directory")
	fs.StringVarP(&f.memory, "memory", "m", "", "Memory limit")
	fs.StringVar(&f.cpus, "cpus", "", "Number of CPUs")
	fs.Uint64VarP(&f.o.CPUShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.Int64Var(&f.o.PidsLimit, "pids-limit", 0, "Tune container pids limit (-1 for unlimited)")
	fs.StringArrayVar(&f.ulimits, "ulimit", nil, "Ulimit options")
	fs.StringSliceVar(&f.o.CapAdd, "cap-add", nil, "Add Linux capabilities")
	fs.StringSliceVar(&f.o.CapDrop, "cap-drop", nil, "Drop Linux capabilities")
	fs.BoolVar(&f.o.Privileged, "privileged", false, "Give extended privileges to this container")
	fs.StringArrayVar(&f.securityOpts, "security-opt", nil, "Security options")
	fs.StringArrayVar(&f.devices, "device", nil, "Add a host device (HOST[:CONTAINER][:rwm]) or a CDI device (vendor.com/class=name) to the container")
	fs.StringVar(&f.gpus, "gpus", "", "GPU devices to add to the container through CDI ('all', a count, or '\"device=0,1\"')")
	fs.StringVar(&f.o.CgroupNS, "cgroupns", "", "Cgroup namespace to use: private (the default) or host")
	fs.BoolVar(&f.o.Init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fs.StringVar(&f.restart, "restart", "no", "Restart policy to apply when a container exits")
	fs.StringVar(&f.o.StopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&f.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "Set meta data on a container")
	fs.StringVar(&f.o.LogDriver, "log-driver", "k8s-file", "Logging driver for the container: k8s-file, json-file or none")
	fs.StringArrayVar(&f.logOpts, "log-opt", nil, "Log driver options (max-size=, max-file=)")
	fs.StringVar(&f.healthCmd, "health-cmd", "", "Command to run to check health")
	fs.DurationVar(&f.healthInterval, "health-interval", 30*time.Second, "Time between running the check")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 30*time.Second, "Maximum time to allow one check to run")
	fs.DurationVar(&f.healthStart, "health-start-period", 0, "Start period for the container to initialize before counting retries")
	fs.IntVar(&f.healthRetries, "health-retries", 3, "Consecutive failures needed to report unhealthy")
	fs.BoolVar(&f.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
	fs.StringVar(&f.pull, "pull", "missing", "Pull image before creating (always, missing, never)")
	fs.StringVar(&f.o.Runtime, "runtime", "", "OCI runtime: berth's own by default, or runc/crun by name or path")
	fs.StringVar(&f.cidfile, "cidfile", "", "Write the container ID to the file")
	fs.StringVar(&f.o.SdNotify, "sdnotify", "conmon", "Who notifies systemd that the container is ready: conmon, container, healthy or ignore")
	fs.StringArrayVar(&f.networks, "network", nil, "Connect a container to a network: NAME, bridge (the default), host, none or container:NAME")
	fs.StringArrayVar(&f.networks, "net", nil, "Connect a container to a network")
	_ = fs.MarkHidden("net")
	fs.StringVar(&f.ip, "ip", "", "IPv4 address on the first network (e.g., 172.30.100.104)")
	fs.StringVar(&f.mac, "mac-address", "", "Container MAC address on the first network (e.g., 92:d0:c6:0a:29:33)")
	fs.StringArrayVar(&f.aliases, "network-alias", nil, "Add network-scoped alias for the container")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "Publish a container's port(s) to the host: [hostIP:][hostPort:]containerPort[/proto]")
	fs.BoolVarP(&f.o.PublishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.StringArrayVar(&f.addHosts, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	fs.StringArrayVar(&f.o.DNS, "dns", nil, "Set custom DNS servers")
	fs.StringArrayVar(&f.o.DNSSearch, "dns-search", nil, "Set custom DNS search domains")
	fs.StringArrayVar(&f.o.DNSOptions, "dns-option", nil, "Set DNS options")
	fs.StringArrayVar(&f.o.DNSOptions, "dns-opt", nil, "Set DNS options")
	_ = fs.MarkHidden("dns-opt")
	fs.StringVar(&f.pod, "pod", "", "Run the container in a pod: NAME, or new:NAME to create the pod with the container's network options")
	f.podman.add(fs)
}

// networkOptions validates the network flags into o.
func (f *createFlags) networkOptions(o *engine.CreateOptions, defaultNetwork string) error {
	mode, nets, err := engine.ParseNetworkMode(f.networks, defaultNetwork)
	if err != nil {
		return err
	}
	o.Network = mode
	reqs, err := cli.NetworkRequests(mode, nets, f.ip, f.mac, f.aliases, defaultNetwork)
	if err != nil {
		return err
	}
	o.Networks = append(o.Networks, reqs...)
	ports, hosts, err := cli.PortsHostsDNS(f.publish, f.addHosts, o.DNS)
	if err != nil {
		return err
	}
	o.Ports = ports
	o.AddHosts = append(o.AddHosts, hosts...)
	return nil
}

// options validates the flags into the engine's CreateOptions.
func (f *createFlags) options(cmd *cobra.Command, args []string) (engine.CreateOptions, error) {
	o := f.o
	o.Image, o.Cmd = args[0], args[1:]
	fs := cmd.Flags()
	if _, err := userns.ParseMode(o.UserNS); err != nil {
		return o, err
	}
	for _, m := range f.uidmaps {
		x, err := userns.ParseIDMap(m)
		if err != nil {
			return o, err
		}
		o.UIDMaps = append(o.UIDMaps, x)
	}
	for _, m := range f.gidmaps {
		x, err := userns.ParseIDMap(m)
		if err != nil {
			return o, err
		}
		o.GIDMaps = append(o.GIDMaps, x)
	}
	for _, file := range f.envFiles {
		env, err := readEnvFile(file)
		if err != nil {
			return o, err
		}
		o.Env = append(o.Env, env...)
	}
	for _, e := range f.env {
		if !strings.Contains(e, "=") { // -e NAME takes the value from our environment
			v, ok := os.LookupEnv(e)
			if !ok {
				continue
			}
			e += "=" + v
		}
		o.Env = append(o.Env, e)
	}
	if fs.Changed("entrypoint") {
		e, err := parseEntrypoint(f.entrypoint)
		if err != nil {
			return o, err
		}
		o.Entrypoint = &e
	}
	if f.memory != "" {
		n, err := units.RAMInBytes(f.memory)
		if err != nil || n < 0 {
			return o, cli.Invalid("invalid argument %q for \"-m, --memory\" flag", f.memory)
		}
		o.Memory = n // 0: no limit, as Docker and Podman take it
	}
	if f.cpus != "" {
		n, err := engine.ParseCPUs(f.cpus)
		if err != nil {
			return o, err
		}
		o.NanoCPUs = n
	}
	if err := f.networkOptions(&o, cli.Engine(cmd).Config.Network.DefaultNetwork); err != nil {
		return o, err
	}
	if err := f.podman.apply(cmd, &o); err != nil {
		return o, err
	}
	o.Labels = map[string]string{}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		o.Labels[k] = v
	}
	for _, v := range f.volumes {
		m, err := engine.ParseVolume(v)
		if err != nil {
			return o, err
		}
		o.Mounts = append(o.Mounts, m)
	}
	for _, v := range f.mounts {
		m, err := engine.ParseMount(v)
		if err != nil {
			return o, err
		}
		o.Mounts = append(o.Mounts, m)
	}
	for _, v := range f.tmpfs {
		m, err := engine.ParseTmpfs(v)
		if err != nil {
			return o, err
		}
		o.Mounts = append(o.Mounts, m)
	}
	for _, d := range f.devices {
		if cdi.IsQualifiedName(d) {
			o.CDIDevices = append(o.CDIDevices, d)
			continue
		}
		dev, err := engine.ParseDevice(d)
		if err != nil {
			return o, err
		}
		o.Devices = append(o.Devices, dev)
	}
	if f.gpus != "" {
		gpus, err := cdi.ParseGPUs(f.gpus)
		if err != nil {
			return o, cli.Invalid("%v", err)
		}
		o.CDIDevices = append(o.CDIDevices, gpus...)
	}
	for _, u := range f.ulimits {
		ul, err := engine.ParseUlimit(u)
		if err != nil {
			return o, err
		}
		o.Ulimits = append(o.Ulimits, ul)
	}
	for _, s := range f.securityOpts {
		opt, err := engine.ParseSecurityOpt(s)
		if err != nil {
			return o, err
		}
		switch {
		case opt.Key == "no-new-privileges":
			o.NoNewPrivs = opt.Value == "true"
		case opt.Key == "seccomp" && opt.Value == "unconfined":
			o.Seccomp = "unconfined"
		case opt.Key == "seccomp":
			b, err := os.ReadFile(opt.Value)
			if err != nil {
				return o, cli.Invalid("opening seccomp profile (%s) failed: %v", opt.Value, err)
			}
			if err := engine.ValidateSeccompProfile(b); err != nil {
				return o, err
			}
			o.Seccomp = string(b)
		}
	}
	if _, err := engine.ParseCgroupNS(o.CgroupNS); err != nil {
		return o, err
	}
	var err error
	if o.Restart, err = engine.ParseRestart(f.restart); err != nil {
		return o, err
	}
	if o.Restart.Name != "no" && o.Rm {
		return o, cli.Invalid("conflicting options: cannot specify both --restart and --rm")
	}
	if o.StopSignal != "" {
		if _, err := engine.ParseSignal(o.StopSignal); err != nil {
			return o, err
		}
	}
	if fs.Changed("stop-timeout") {
		o.StopTimeout = &f.stopTimeout
	}
	switch o.LogDriver {
	case "k8s-file", "json-file", "none":
	case "journald":
		return o, errdefs.Newf(errdefs.ErrNotSupported, "log driver journald is not supported: use k8s-file, json-file or none")
	default:
		return o, cli.Invalid("invalid --log-driver %q: want k8s-file, json-file or none", o.LogDriver)
	}
	o.LogOpts = map[string]string{}
	for _, l := range f.logOpts {
		k, v, ok := strings.Cut(l, "=")
		if !ok || (k != "max-size" && k != "max-file") {
			return o, cli.Invalid("invalid --log-opt %q: want max-size=SIZE or max-file=N", l)
		}
		if k == "max-size" {
			if _, err := units.RAMInBytes(v); err != nil {
				return o, cli.Invalid("invalid --log-opt %q: bad size", l)
			}
		}
		o.LogOpts[k] = v
	}
	switch {
	case f.noHealthcheck:
		o.Health = &engine.Healthcheck{Test: []string{"NONE"}}
	case f.healthCmd != "":
		if f.healthInterval <= 0 || f.healthTimeout <= 0 || f.healthRetries < 1 || f.healthStart < 0 {
			return o, cli.Invalid("invalid health check: interval and timeout must be positive, retries at least 1")
		}
		o.Health = &engine.Healthcheck{Test: []string{"CMD-SHELL", f.healthCmd}, Interval: f.healthInterval,
			Timeout: f.healthTimeout, StartPeriod: f.healthStart, Retries: f.healthRetries}
	}
	if err := engine.ValidateSdNotify(&o); err != nil {
		return o, err
	}
	// A unit made by `generate systemd` names itself, for auto-update to find it.
	if unit := os.Getenv(systemd.UnitEnv); unit != "" {
		if _, ok := o.Labels[systemd.UnitEnv]; !ok {
			o.Labels[systemd.UnitEnv] = unit
		}
	}
	o.CreateCommand = os.Args
	switch f.pull {
	case "always", "missing", "never":
	default:
		return o, cli.Invalid("invalid --pull %q: want always, missing or never", f.pull)
	}
	return o, duplicateMountPoint(o.Mounts)
}

// readEnvFile reads KEY=VALUE lines; # starts a comment; a bare KEY takes our value.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cli.Invalid("open env file: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.Contains(l, "=") {
			v, ok := os.LookupEnv(l)
			if !ok {
				continue
			}
			l += "=" + v
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// create makes the container, pulling its image per --pull, and writes --cidfile.
func (f *createFlags) create(cmd *cobra.Command, args []string) (*engine.Container, error) {
	o, err := f.options(cmd, args)
	if err != nil {
		return nil, err
	}
	if f.cidfile != "" {
		if _, err := os.Stat(f.cidfile); err == nil {
			return nil, cli.Invalid("container ID file found, make sure the other container isn't running or delete %s", f.cidfile)
		}
	}
	e, ctx := cli.Engine(cmd), cmd.Context()
	store, err := e.Images(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.podman.replaceExisting(cmd, o.Name); err != nil {
		return nil, err
	}
	_, lookErr := store.Lookup(ctx, o.Image)
	switch {
	case f.pull == "always" || (f.pull == "missing" && errors.Is(lookErr, errdefs.ErrNotFound)):
		if err := cli.Pull(cmd, o.Image); err != nil {
			return nil, err
		}
	case lookErr != nil:
		return nil, lookErr
	}
	newPod, err := f.joinPod(cmd, &o)
	if err != nil {
		return nil, err
	}
	c, err := e.CreateContainer(ctx, o)
	if err != nil {
		if newPod != nil {
			_ = e.RemovePod(context.Background(), newPod.ID, engine.PodRemoveOptions{Force: true})
		}
		return nil, err
	}
	if f.cidfile != "" {
		if err := os.WriteFile(f.cidfile, []byte(c.ID), 0o644); err != nil {
			_ = e.RemoveContainer(context.Background(), c.ID, engine.RemoveOptions{Force: true})
			return nil, fmt.Errorf("write cidfile: %w", err)
		}
	}
	return c, nil
}

// joinPod applies --pod: new:NAME creates the pod first, with the container's network,
// ports, hosts, DNS and hostname, which then belong to the pod; it returns that new pod.
func (f *createFlags) joinPod(cmd *cobra.Command, o *engine.CreateOptions) (*engine.Pod, error) {
	if f.pod == "" {
		return nil, nil
	}
	name, isNew := engine.PodRef(f.pod)
	if !isNew {
		o.Pod = name
		return nil, nil
	}
	if name == "" {
		return nil, cli.Invalid("invalid --pod %q: new: needs a pod name", f.pod)
	}
	po := engine.PodOptions{Name: name, Hostname: o.Hostname, Network: o.Network, Networks: o.Networks, Ports: o.Ports,
		AddHosts: o.AddHosts, DNS: o.DNS, DNSSearch: o.DNSSearch, DNSOptions: o.DNSOptions}
	o.Hostname, o.Network, o.Networks, o.Ports, o.AddHosts, o.DNS, o.DNSSearch, o.DNSOptions = "", "", nil, nil, nil, nil, nil, nil
	p, err := cli.Engine(cmd).CreatePod(cmd.Context(), po)
	if err != nil {
		return nil, err
	}
	o.Pod = p.ID
	return p, nil
}

func createCommand() *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.create(cmd, args)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), c.ID)
			return nil
		},
	}
	f.add(cmd.Flags())
	return cli.SetExitClass(cmd, errdefs.ClassRun)
}

func runCommand() *cobra.Command {
	f := &createFlags{}
	var detach, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := engine.ParseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			c, err := f.create(cmd, args)
			if err != nil {
				return err
			}
			e, ctx := cli.Engine(cmd), cmd.Context()
			if detach {
				if _, err := e.StartContainer(ctx, c.ID, nil); err != nil {
					if c.Options.Rm {
						_ = e.RemoveContainer(context.Background(), c.ID, engine.RemoveOptions{Force: true, Volumes: true})
					}
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), c.ID)
				return nil
			}
			f.podman.printIDWithoutOutput(cmd.OutOrStdout(), c.ID)
			f.podman.attachWriters(cmd)
			code, err := startAttached(cmd, c, keys, sigProxy && !c.Options.TTY)
			if c.Options.Rm && !errors.Is(err, engine.ErrDetached) {
				// The monitor's cleanup may be racing us: removal is idempotent.
				if rerr := e.RemoveContainer(context.Background(), c.ID, engine.RemoveOptions{Force: true, Volumes: true}); rerr != nil && !errors.Is(rerr, errdefs.ErrNotFound) && err == nil {
					err = rerr
				}
			}
			return exitStatus(code, err)
		},
	}
	f.add(cmd.Flags())
	fl := cmd.Flags()
	fl.BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	fl.StringVar(&detachKeys, "detach-keys", "ctrl-p,ctrl-q", "Override the key sequence for detaching a container")
	fl.BoolVar(&sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	return cli.SetExitClass(cmd, errdefs.ClassRun)
}

// exitStatus turns a container's status into the command's: 0, or an error carrying it.
func exitStatus(code int, err error) error {
	if errors.Is(err, engine.ErrDetached) {
		return nil
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &errdefs.ExitError{Code: code}
	}
	return nil
}

func startCommand() *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	var t targetFlags
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := t.resolve(cmd, args, func(c *engine.Container) bool { return !c.Active() })
			if err != nil {
				return err
			}
			if attach || interactive {
				if len(args) > 1 {
					return cli.Invalid("you cannot start and attach multiple containers at once")
				}
				keys, err := engine.ParseDetachKeys(detachKeys)
				if err != nil {
					return err
				}
				c, err := cli.Engine(cmd).Container(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if c.Active() {
					return cli.Invalid("container %s is already running", c.Name)
				}
				if !interactive {
					c.Options.Interactive = false // -a alone does not connect stdin
				}
				code, err := startAttached(cmd, c, keys, !c.Options.TTY)
				return exitStatus(code, err)
			}
			return cli.EachTarget(cmd, args, func(ctx context.Context, e *engine.Engine, ref string) (string, error) {
				_, err := e.StartContainer(ctx, ref, nil)
				return "", err
			})
		},
	}
	fl := cmd.Flags()
	t.add(cmd, "", "Start all containers that are not running")
	fl.BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	fl.BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	fl.StringVar(&detachKeys, "detach-keys", "ctrl-p,ctrl-q", "Override the key sequence for detaching a container")
	return cli.SetExitClass(cmd, errdefs.ClassStart)
}

func attachCommand() *cobra.Command {
	var detachKeys string
	var noStdin, sigProxy bool
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := engine.ParseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			e, ctx := cli.Engine(cmd), cmd.Context()
			c, err := e.Container(ctx, args[0])
			if err != nil {
				return err
			}
			if c.State == engine.StatePaused {
				return cli.Invalid("you cannot attach to a paused container, unpause it first")
			}
			conn, err := e.Attach(ctx, c)
			if err != nil {
				return err
			}
			if noStdin {
				c.Options.Interactive = false
			}
			code, err := stream(cmd, c, conn, keys, sigProxy && !c.Options.TTY)
			return exitStatus(code, err)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&detachKeys, "detach-keys", "ctrl-p,ctrl-q", "Override the key sequence for detaching a container")
	fl.BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	fl.BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	return cmd
}

// startAttached starts c with its output (and stdin with -i) connected to ours.
func startAttached(cmd *cobra.Command, c *engine.Container, keys []byte, sigProxy bool) (int, error) {
	e, ctx := cli.Engine(cmd), cmd.Context()
	var conn *engine.AttachConn
	so := &engine.StartOptions{BeforeStart: func(c *engine.Container) error {
		var err error
		conn, err = e.Attach(ctx, c)
		return err
	}}
	if c.Options.TTY {
		so.Rows, so.Cols = terminalSize(cmd.OutOrStdout())
	}
	_, err := e.StartContainer(ctx, c.ID, so)
	if err != nil {
		return 0, err
	}
	return stream(cmd, c, conn, keys, sigProxy)
}
