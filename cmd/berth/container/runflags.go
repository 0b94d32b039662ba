package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
)

// podmanRunFlags are the run/create flags Podman has beyond Docker's (and Docker's --attach).
type podmanRunFlags struct {
	replace      bool
	httpProxy    bool
	attach       []string
	kernelMemory string
	pid          string
	volumesFrom  []string
	requires     []string
	tz           string
	timeout      uint
	conmonPID    string
	initPath     string
	throttle     map[string]*[]string // rbps, wbps, riops, wiops
	systemd      string
	passwd       bool
}

func (p *podmanRunFlags) add(fs *pflag.FlagSet) {
	fs.BoolVar(&p.replace, "replace", false, "If a container with the same name exists, replace it")
	fs.BoolVar(&p.httpProxy, "http-proxy", true, "Pass the host's proxy environment (http_proxy, https_proxy, ftp_proxy, no_proxy) into the container")
	fs.StringArrayVarP(&p.attach, "attach", "a", nil, "Attach to STDIN, STDOUT or STDERR")
	fs.StringVar(&p.kernelMemory, "kernel-memory", "", "Kernel memory limit (no longer supported by kernels: ignored with a warning)")
	fs.StringVar(&p.pid, "pid", "", "PID namespace: host, or container:NAME to share another container's")
	fs.StringArrayVar(&p.volumesFrom, "volumes-from", nil, "Mount the volumes and bind mounts of the container CONTAINER[:ro|rw]")
	fs.StringSliceVar(&p.requires, "requires", nil, "Containers that must be running before this one starts (started with it)")
	fs.StringVar(&p.tz, "tz", "", "Timezone in the container: a zone name (e.g. Europe/Berlin) or local (the host's)")
	fs.UintVar(&p.timeout, "timeout", 0, "Seconds the container may run before it is killed (0: no limit)")
	fs.StringVar(&p.conmonPID, "conmon-pidfile", "", "Write the pid of the container's monitor (Podman's conmon) to the file")
	fs.StringVar(&p.initPath, "init-path", "", "Path to the init binary --init runs (default: berth's own)")
	fs.BoolVar(&p.passwd, "passwd", false, "Add an /etc/passwd entry for a --user uid the image lacks (Podman's default is true; Docker adds none)")
	fs.StringVar(&p.systemd, "systemd", "true", "Run in systemd mode: true (when the command is systemd or init), false, always")
	p.throttle = map[string]*[]string{"rbps": new([]string), "wbps": new([]string), "riops": new([]string), "wiops": new([]string)}
	fs.StringArrayVar(p.throttle["rbps"], "device-read-bps", nil, "Limit read rate from a device (PATH:RATE, e.g. /dev/sda:1mb)")
	fs.StringArrayVar(p.throttle["wbps"], "device-write-bps", nil, "Limit write rate to a device (PATH:RATE)")
	fs.StringArrayVar(p.throttle["riops"], "device-read-iops", nil, "Limit read operations per second from a device (PATH:N)")
	fs.StringArrayVar(p.throttle["wiops"], "device-write-iops", nil, "Limit write operations per second to a device (PATH:N)")
}

// apply validates the flags into o.
func (p *podmanRunFlags) apply(cmd *cobra.Command, o *engine.CreateOptions) error {
	if p.kernelMemory != "" {
		logrus.Warn("The --kernel-memory flag is no longer supported. This flag is a noop.")
	}
	if p.httpProxy {
		for _, k := range []string{"http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY"} {
			if v, ok := os.LookupEnv(k); ok && !hasEnv(o.Env, k) {
				o.Env = append([]string{k + "=" + v}, o.Env...) // -e wins
			}
		}
	}
	for _, a := range p.attach {
		switch strings.ToLower(a) {
		case "stdin", "stdout", "stderr":
		default:
			return cli.Invalid("invalid --attach %q: want stdin, stdout or stderr", a)
		}
	}
	e, ctx := cli.Engine(cmd), cmd.Context()
	switch {
	case p.pid == "" || p.pid == "host" || p.pid == "private":
		o.PidMode = p.pid
	case strings.HasPrefix(p.pid, "container:"):
		other, err := e.Container(ctx, strings.TrimPrefix(p.pid, "container:"))
		if err != nil {
			return err
		}
		o.PidMode = "container:" + other.ID
	default:
		return cli.Invalid("invalid --pid %q: want host, private or container:NAME", p.pid)
	}
	for _, v := range p.volumesFrom {
		ref, mode, _ := strings.Cut(v, ":")
		if mode != "" && mode != "ro" && mode != "rw" {
			return cli.Invalid("invalid --volumes-from %q: the option is ro or rw", v)
		}
		other, err := e.Container(ctx, ref)
		if err != nil {
			return err
		}
		for _, m := range other.Options.Mounts {
			if m.Type == "tmpfs" {
				continue
			}
			switch mode {
			case "ro":
				m.ReadOnly = true
			case "rw":
				m.ReadOnly = false
			}
			o.Mounts = append(o.Mounts, m)
		}
	}
	for _, r := range p.requires {
		other, err := e.Container(ctx, r)
		if err != nil {
			return err
		}
		o.Requires = append(o.Requires, other.ID)
	}
	if p.tz != "" {
		if err := engine.ValidTimezone(p.tz); err != nil {
			return err
		}
		o.TZ = p.tz
	}
	for _, kind := range []string{"rbps", "wbps", "riops", "wiops"} {
		for _, v := range *p.throttle[kind] {
			t, err := engine.ParseThrottle(kind, v)
			if err != nil {
				return err
			}
			o.Throttle = append(o.Throttle, t)
		}
	}
	switch p.systemd {
	case "true", "false", "always":
		o.Systemd = p.systemd
	default:
		return cli.Invalid("invalid --systemd %q: want true, false or always", p.systemd)
	}
	if engine.SystemdMode(p.systemd, o.Cmd) && o.StopSignal == "" {
		o.StopSignal = "37" // SIGRTMIN+3: systemd's shutdown
	}
	o.Passwd = p.passwd
	o.Timeout = p.timeout
	o.ConmonPidFile = p.conmonPID
	if p.initPath != "" {
		if !o.Init {
			return cli.Invalid("--init-path needs --init")
		}
		if _, err := os.Stat(p.initPath); err != nil {
			return cli.Invalid("invalid --init-path: %v", err)
		}
		o.InitPath = p.initPath
	}
	return nil
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			return true
		}
	}
	return false
}

// attached says whether --attach selects stream (all of them without --attach).
func (p *podmanRunFlags) attached(stream string) bool {
	if len(p.attach) == 0 {
		return true
	}
	for _, a := range p.attach {
		if strings.EqualFold(a, stream) {
			return true
		}
	}
	return false
}

// replaceExisting removes the container named name for --replace; none is no error.
func (p *podmanRunFlags) replaceExisting(cmd *cobra.Command, name string) error {
	if !p.replace {
		return nil
	}
	if name == "" {
		return cli.Invalid("cannot replace a container without a --name")
	}
	err := cli.Engine(cmd).RemoveContainer(cmd.Context(), name, engine.RemoveOptions{Force: true, Volumes: true})
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
}

// parseEntrypoint takes Docker's string form or Podman's JSON array form of --entrypoint.
func parseEntrypoint(v string) ([]string, error) {
	if v == "" {
		return []string{}, nil
	}
	if strings.HasPrefix(strings.TrimSpace(v), "[") {
		var args []string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			return nil, cli.Invalid("invalid --entrypoint %q: a JSON array of strings: %v", v, err)
		}
		return args, nil
	}
	return []string{v}, nil
}

// attachWriters applies --attach to the command's output streams.
func (p *podmanRunFlags) attachWriters(cmd *cobra.Command) {
	if !p.attached("stdout") {
		cmd.SetOut(io.Discard)
	}
	if !p.attached("stderr") {
		cmd.SetErr(io.Discard)
	}
}

// printIDWithoutOutput prints the id as Docker does when neither output stream is attached.
func (p *podmanRunFlags) printIDWithoutOutput(w io.Writer, id string) {
	if !p.attached("stdout") && !p.attached("stderr") {
		fmt.Fprintln(w, id)
	}
}

// duplicateMountPoint refuses two mounts on one target, as Docker does (the second would hide
// the first).
func duplicateMountPoint(ms []engine.Mount) error {
	seen := map[string]bool{}
	for _, m := range ms {
		t := path.Clean("/" + m.Target)
		if seen[t] {
			return cli.Invalid("duplicate mount point: %s", t)
		}
		seen[t] = true
	}
	return nil
}
