// Package runtime is berth's runc-compatible command line: `berth runtime ...`, or the berth
// binary invoked as berth-runtime. It has its own flag set (runc's), so it parses its
// arguments itself.
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/userns"
	"github.com/berth-project/berth/libcontainer"
)

// Command returns `berth runtime` for help and completion; main hands `berth [globals]
// runtime ARGS...` to Run directly, since runc's flags (--root among them) are not berth's.
func Command() *cobra.Command {
	return &cobra.Command{
		Use:                "runtime [runc options] COMMAND",
		Short:              "Run berth's OCI runtime with runc's command line (also installed as berth-runtime)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return Run(cmd.Context(), args)
		},
	}
}

// Run executes the runc-style command line args.
func Run(ctx context.Context, args []string) error {
	root := newRoot()
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

type globals struct {
	root, log, logFormat string
	systemdCgroup, debug bool
	rootless             string
}

func newRoot() *cobra.Command {
	g := &globals{}
	rt := &libcontainer.Runtime{}
	root := &cobra.Command{
		Use:           "berth-runtime",
		Short:         "berth's OCI runtime (runc-compatible)",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if g.systemdCgroup {
				return errdefs.Newf(errdefs.ErrNotSupported, "--systemd-cgroup is not supported: use the cgroupfs cgroup manager")
			}
			if g.log != "" {
				f, err := os.OpenFile(g.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
				if err != nil {
					return fmt.Errorf("open log %s: %w", g.log, err)
				}
				logrus.SetOutput(f)
			}
			if g.logFormat == "json" {
				logrus.SetFormatter(&logrus.JSONFormatter{})
			} else if g.logFormat != "text" {
				return cli.Invalid("invalid --log-format %q: want text or json", g.logFormat)
			}
			if g.debug {
				logrus.SetLevel(logrus.DebugLevel)
			}
			rt.Root = g.root
			if rt.Root == "" {
				rt.Root = defaultRoot()
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(cli.FlagError)
	pf := root.PersistentFlags()
	pf.StringVar(&g.root, "root", "", "root directory for storage of container state")
	pf.StringVar(&g.log, "log", "", "log file (default stderr)")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "use systemd to manage cgroups (not supported)")
	pf.BoolVar(&g.debug, "debug", false, "enable debug logging")
	pf.StringVar(&g.rootless, "rootless", "auto", "ignored: rootless mode is detected")
	pf.String("criu", "", "ignored")
	_ = pf.MarkHidden("criu")
	root.AddCommand(createCommand(rt, false), createCommand(rt, true), startCommand(rt), stateCommand(rt), killCommand(rt),
		deleteCommand(rt), listCommand(rt), psCommand(rt), pauseCommand(rt, true), pauseCommand(rt, false), specCommand(), execCommand(rt))
	return root
}

func defaultRoot() string {
	if userns.HostUID() != 0 {
		if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
			return filepath.Join(d, "berth-runtime")
		}
		return fmt.Sprintf("/tmp/berth-runtime-%d", userns.HostUID())
	}
	return "/run/berth-runtime"
}

func createCommand(rt *libcontainer.Runtime, run bool) *cobra.Command {
	var o libcontainer.CreateOptions
	var bundle string
	var detach bool
	use, short := "create", "Create a container"
	if run {
		use, short = "run", "Create and run a container"
	}
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] CONTAINER_ID",
		Short: short,
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, id := cmd.Context(), args[0]
			if err := rt.Create(ctx, id, bundle, &o); err != nil {
				return err
			}
			if !run {
				return nil
			}
			if err := rt.Start(ctx, id); err != nil {
				_ = rt.Delete(ctx, id, true)
				return err
			}
			if detach {
				return nil
			}
			// Forward signals to the container and wait for it, as runc run does.
			st, err := rt.State(id)
			if err != nil {
				return err
			}
			code := waitChild(st.Pid)
			_ = rt.Delete(ctx, id, true)
			if code != 0 {
				return &errdefs.ExitError{Code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&bundle, "bundle", "b", ".", "path to the root of the bundle directory")
	f.StringVar(&o.PidFile, "pid-file", "", "file to write the init process id to")
	f.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket that receives the pty master")
	f.BoolVar(&o.NoPivot, "no-pivot", false, "do not use pivot_root to jail the process")
	f.Bool("no-new-keyring", false, "ignored")
	f.Int("preserve-fds", 0, "ignored")
	if run {
		f.BoolVarP(&detach, "detach", "d", false, "detach from the container's process")
	}
	return cmd
}

// waitChild waits for pid, the init that Create started as our child (or, once it was
// released, polls until it is gone), forwarding signals to it; it returns its exit code.
func waitChild(pid int) int {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	done := make(chan int, 1)
	go func() {
		code, _ := libcontainer.WaitPid(pid)
		done <- code
	}()
	for {
		select {
		case code := <-done:
			return code
		case s := <-sigs:
			if sig, ok := s.(syscall.Signal); ok && sig != syscall.SIGCHLD && sig != syscall.SIGURG {
				_ = unix.Kill(pid, sig)
			}
		}
	}
}

func startCommand(rt *libcontainer.Runtime) *cobra.Command {
	return &cobra.Command{Use: "start CONTAINER_ID", Short: "Start a created container", Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return rt.Start(cmd.Context(), args[0]) }}
}

func stateCommand(rt *libcontainer.Runtime) *cobra.Command {
	return &cobra.Command{Use: "state CONTAINER_ID", Short: "Output the state of a container", Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := rt.State(args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), st)
		}}
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func killCommand(rt *libcontainer.Runtime) *cobra.Command {
	var all bool
	cmd := &cobra.Command{Use: "kill CONTAINER_ID [SIGNAL]", Short: "Send a signal to a container", Args: cli.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := syscall.SIGTERM
			if len(args) == 2 {
				s, err := ParseSignal(args[1])
				if err != nil {
					return err
				}
				sig = s
			}
			return rt.Kill(args[0], sig, all)
		}}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "send the signal to every process of the container")
	return cmd
}

// ParseSignal parses a signal name (KILL, SIGKILL) or number.
func ParseSignal(s string) (syscall.Signal, error) { return engine.ParseSignal(s) }

func deleteCommand(rt *libcontainer.Runtime) *cobra.Command {
	var force bool
	cmd := &cobra.Command{Use: "delete [--force] CONTAINER_ID...", Short: "Delete a container", Args: cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var failed error
			for _, id := range args {
				err := rt.Delete(cmd.Context(), id, force)
				if err != nil && !(force && errors.Is(err, errdefs.ErrNotFound)) {
					failed = err
				}
			}
			return failed
		}}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill and delete a running container")
	return cmd
}

func errorsIsNotFound(err error) bool {
	return errdefs.ExitCode(err, errdefs.ClassRun) == errdefs.ExitEngine && strings.Contains(err.Error(), "does not exist")
}

func listCommand(rt *libcontainer.Runtime) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List containers", Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := rt.List()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if quiet {
				for _, c := range list {
					fmt.Fprintln(w, c.State.ID)
				}
				return nil
			}
			if format == "json" {
				type entry struct {
					ID          string            `json:"id"`
					Pid         int               `json:"pid"`
					Status      string            `json:"status"`
					Bundle      string            `json:"bundle"`
					Created     time.Time         `json:"created"`
					Owner       string            `json:"owner"`
					Annotations map[string]string `json:"annotations,omitempty"`
				}
				out := []entry{}
				for _, c := range list {
					out = append(out, entry{c.State.ID, c.State.Pid, string(c.State.Status), c.State.Bundle, c.Created, c.Owner, c.State.Annotations})
				}
				return json.NewEncoder(w).Encode(out)
			}
			tw := tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)
			fmt.Fprintln(tw, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
			for _, c := range list {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", c.State.ID, c.State.Pid, c.State.Status, c.State.Bundle, c.Created.Format(time.RFC3339Nano), c.Owner)
			}
			return tw.Flush()
		}}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "display only container IDs")
	return cmd
}

func psCommand(rt *libcontainer.Runtime) *cobra.Command {
	var format string
	cmd := &cobra.Command{Use: "ps [--format json] CONTAINER_ID", Short: "List the processes of a container", Args: cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pids, err := rt.Pids(args[0])
			if err != nil {
				return err
			}
			if format == "json" {
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(pids)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "PID\tCMD")
			for _, p := range pids {
				c, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/comm")
				fmt.Fprintf(cmd.OutOrStdout(), "%d\t%s\n", p, strings.TrimSpace(string(c)))
			}
			return nil
		}}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	return cmd
}

func pauseCommand(rt *libcontainer.Runtime, pause bool) *cobra.Command {
	use, short, fn := "pause", "Suspend all processes of a container", rt.Pause
	if !pause {
		use, short, fn = "resume", "Resume all processes of a paused container", rt.Resume
	}
	return &cobra.Command{Use: use + " CONTAINER_ID", Short: short, Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return fn(args[0]) }}
}

func specCommand() *cobra.Command {
	var bundle string
	var rootless bool
	cmd := &cobra.Command{Use: "spec", Short: "Write a new config.json for a bundle", Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(p); err == nil {
				return errdefs.Newf(errdefs.ErrExists, "file %s exists: remove it first", p)
			}
			s := libcontainer.DefaultSpec()
			if rootless {
				libcontainer.MakeRootless(s, os.Getuid(), os.Getgid())
			}
			b, err := json.MarshalIndent(s, "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(p, append(b, '\n'), 0o644)
		}}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "path to the bundle")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "generate a config for a rootless container")
	return cmd
}
