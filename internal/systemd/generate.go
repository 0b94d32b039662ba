package systemd

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// CidFile is where units made with --new keep their container's ID: %t is the runtime
// directory (/run, or $XDG_RUNTIME_DIR for user units) and %n the unit's name.
const CidFile = "%t/%n.ctr-id"

// UnitEnv is the environment variable a generated unit sets to its own name; create records it
// as a label of the same name so that auto-update finds the unit of a container.
const UnitEnv = "BERTH_SYSTEMD_UNIT"

// RestartPolicies are the values of systemd's Restart= that --restart-policy accepts.
var RestartPolicies = []string{"no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always"}

// NotifyModes are the values of --sdnotify.
var NotifyModes = []string{"conmon", "container", "healthy", "ignore"}

// ContainerInfo is what unit generation needs to know of a container.
type ContainerInfo struct {
	ID, Name string
	// CreateCommand is the command line that created the container, argv[0] included; --new
	// rewrites it into the unit's `run`.
	CreateCommand []string
	StopTimeout   uint   // seconds; the container's --stop-timeout (10 by default)
	RestartPolicy string // the container's --restart name: no, always, unless-stopped, on-failure
	SdNotify      string // the container's --sdnotify mode ("" is conmon)
	// MonitorPIDFile is the monitor's pid file, the main process of a unit that has no notify
	// mode (--sdnotify=ignore) and does not recreate the container.
	MonitorPIDFile string
	// Root and RunRoot are the storage the unit needs mounted.
	Root, RunRoot string
}

// GenerateOptions are `generate systemd`'s flags.
type GenerateOptions struct {
	New                    bool   // create the container at start and remove it at stop
	UseName                bool   // name the unit after the container's name instead of its ID
	RestartPolicy          string // systemd Restart=; "" derives it from the container's --restart
	RestartSec             uint   // RestartSec=, 0 for systemd's default
	StopTimeout            *uint  // --time: seconds to wait for the container to stop
	ContainerPrefix        string // default "container"
	Separator              string // between prefix and name, default "-"
	After, Wants, Requires []string
	Env                    []string // KEY=VALUE for Environment=
	// Executable is the berth binary the unit runs, and GlobalArgs berth's global flags it
	// passes (--root, --runroot) before the command.
	Executable string
	GlobalArgs []string
	// TakesValue says whether a flag of the create command (or a global one) takes a value,
	// "--name" or "-e" style; --new needs it to find the image among the arguments.
	TakesValue func(flag string) bool
	Version    string

	bindTo string // the pod unit a pod's container unit goes with
}

// GeneratedUnit is one unit file: its file name and text.
type GeneratedUnit struct {
	Name, Text string
}

func (o *GenerateOptions) validate() error {
	if o.RestartPolicy != "" && !slices.Contains(RestartPolicies, o.RestartPolicy) {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid --restart-policy %q: want one of %s", o.RestartPolicy, strings.Join(RestartPolicies, ", "))
	}
	for _, e := range o.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return errdefs.Newf(errdefs.ErrInvalid, "invalid --env %q: want KEY=VALUE", e)
		}
	}
	for _, l := range [][]string{o.After, o.Wants, o.Requires} {
		for _, u := range l {
			if u == "" || strings.ContainsAny(u, " \t\n") {
				return errdefs.Newf(errdefs.ErrInvalid, "invalid unit name %q in --after, --wants or --requires", u)
			}
		}
	}
	if o.ContainerPrefix == "" {
		o.ContainerPrefix = "container"
	}
	if o.Separator == "" {
		o.Separator = "-"
	}
	if o.Executable == "" {
		o.Executable = "/usr/local/bin/berth"
	}
	return nil
}

// systemdRestart maps a container's --restart to systemd's Restart=: systemd restarts the unit,
// so the policy moves from the monitor to it.
func systemdRestart(policy string) string {
	switch policy {
	case "always", "unless-stopped":
		return "always"
	}
	return "on-failure"
}

// ContainerUnit renders the service unit of one container.
func ContainerUnit(c ContainerInfo, o GenerateOptions) (GeneratedUnit, error) {
	if err := o.validate(); err != nil {
		return GeneratedUnit{}, err
	}
	ident := c.ID
	if o.UseName {
		ident = c.Name
	}
	name := o.ContainerPrefix + o.Separator + ident + ".service"
	mode := c.SdNotify
	if mode == "" {
		mode = "conmon"
	}
	stop := o.stopTimeout(c.StopTimeout)
	t := strconv.FormatUint(uint64(stop), 10)
	exe := append([]string{o.Executable}, o.GlobalArgs...)

	u, unit := o.newUnit(name)
	if o.bindTo != "" {
		unit.Add("BindsTo", o.bindTo)
		unit.Add("After", o.bindTo)
	}
	if mounts := nonEmpty(c.Root, c.RunRoot); len(mounts) > 0 {
		unit.Add("RequiresMountsFor", JoinWords(mounts))
	}

	svc := u.Section("Service")
	svc.Add("Environment", UnitEnv+"=%n")
	for _, e := range o.Env {
		svc.Add("Environment", QuoteWord(e))
	}
	restart := o.RestartPolicy
	if restart == "" {
		restart = systemdRestart(c.RestartPolicy)
	}
	svc.Add("Restart", restart)
	if o.RestartSec > 0 {
		svc.Add("RestartSec", strconv.FormatUint(uint64(o.RestartSec), 10))
	}
	svc.Add("TimeoutStopSec", strconv.FormatUint(uint64(stop)+60, 10))
	if o.New {
		run, err := newRunCommand(c, o, mode)
		if err != nil {
			return GeneratedUnit{}, err
		}
		svc.Add("ExecStartPre", "/bin/rm -f "+CidFile)
		svc.Add("ExecStart", JoinWords(exe)+" "+run)
		svc.Add("ExecStop", JoinWords(exe)+" stop --ignore -t "+t+" --cidfile="+CidFile)
		svc.Add("ExecStopPost", JoinWords(exe)+" rm -f --ignore --cidfile="+CidFile)
	} else {
		svc.Add("ExecStart", JoinWords(exe)+" start "+QuoteWord(ident))
		svc.Add("ExecStop", JoinWords(exe)+" stop -t "+t+" "+QuoteWord(ident))
		svc.Add("ExecStopPost", JoinWords(exe)+" stop -t "+t+" "+QuoteWord(ident))
	}
	if mode == "ignore" {
		svc.Add("Type", "forking")
		if !o.New && c.MonitorPIDFile != "" {
			svc.Add("PIDFile", c.MonitorPIDFile)
		}
	} else {
		svc.Add("Type", "notify")
		svc.Add("NotifyAccess", "all")
	}
	u.Section("Install").Add("WantedBy", "default.target")
	return GeneratedUnit{Name: name, Text: header(name, o.Version) + u.String()}, nil
}

// stopTimeout is --time, else def (the container's own stop timeout), in seconds.
func (o *GenerateOptions) stopTimeout(def uint) uint {
	if o.StopTimeout != nil {
		return *o.StopTimeout
	}
	return def
}

// newUnit starts the unit called name: its [Unit] described, after the network is online and
// the units --wants, --after and --requires name.
func (o *GenerateOptions) newUnit(name string) (*Unit, *Section) {
	u := &Unit{Path: name}
	unit := u.Section("Unit")
	unit.Add("Description", "berth "+name)
	unit.Add("Wants", strings.Join(append([]string{"network-online.target"}, o.Wants...), " "))
	unit.Add("After", strings.Join(append([]string{"network-online.target"}, o.After...), " "))
	if len(o.Requires) > 0 {
		unit.Add("Requires", strings.Join(o.Requires, " "))
	}
	return u, unit
}

func header(name, version string) string {
	if version == "" {
		version = "dev"
	}
	return fmt.Sprintf("# %s\n# autogenerated by berth %s\n\n", name, version)
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// dropOnNew are the create flags --new replaces: the unit's own run decides them.
var dropOnNew = map[string]bool{"-d": true, "--detach": true, "--rm": true, "--cidfile": true, "--replace": true,
	"--sdnotify": true, "--restart": true}

// newRunCommand rewrites the container's create command into the unit's `run` arguments.
func newRunCommand(c ContainerInfo, o GenerateOptions, mode string) (string, error) {
	argv := c.CreateCommand
	if len(argv) < 2 {
		return "", errdefs.Newf(errdefs.ErrInvalid, "container %s has no recorded create command (it was not created by the berth CLI): --new needs one", c.Name)
	}
	takes := o.TakesValue
	if takes == nil {
		takes = func(string) bool { return false }
	}
	// Skip the binary, the global flags and the `container` noun to the verb.
	i := 1
	for ; i < len(argv); i++ {
		a := argv[i]
		if a == "run" || a == "create" {
			break
		}
		if a == "container" || !strings.HasPrefix(a, "-") {
			continue
		}
		if !strings.Contains(a, "=") && takes(a) {
			i++
		}
	}
	if i >= len(argv) {
		return "", errdefs.Newf(errdefs.ErrInvalid, "container %s: no run or create in its create command %q", c.Name, strings.Join(argv, " "))
	}
	var kept []string
	i++
	for ; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break // the image
		}
		if strings.HasPrefix(a, "--") {
			flag, _, hasValue := strings.Cut(a, "=")
			var value []string
			if !hasValue && takes(flag) && i+1 < len(argv) {
				i++
				value = []string{argv[i]}
			}
			if !dropOnNew[flag] {
				kept = append(kept, a)
				kept = append(kept, value...)
			}
			continue
		}
		// A group of short flags: -dit, -p8080:80, -e X=1.
		var letters strings.Builder
		var value []string
		for j := 1; j < len(a); j++ {
			f := "-" + string(a[j])
			if takes(f) {
				letters.WriteByte(a[j])
				if j+1 < len(a) {
					letters.WriteString(a[j+1:])
				} else if i+1 < len(argv) {
					i++
					value = []string{argv[i]}
				}
				break
			}
			if !dropOnNew[f] {
				letters.WriteByte(a[j])
			}
		}
		if letters.Len() > 0 {
			kept = append(kept, "-"+letters.String())
			kept = append(kept, value...)
		}
	}
	if i >= len(argv) {
		return "", errdefs.Newf(errdefs.ErrInvalid, "container %s: no image in its create command %q", c.Name, strings.Join(argv, " "))
	}
	out := []string{"run", "--cidfile=" + CidFile, "--rm", "--sdnotify=" + mode, "--replace", "-d"}
	return strings.Join(out, " ") + " " + JoinWords(append(kept, argv[i:]...)), nil
}
