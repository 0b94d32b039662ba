package runtime

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libcontainer"
)

func execCommand(rt *libcontainer.Runtime) *cobra.Command {
	var (
		processFile, cwd, user string
		env, caps              []string
		detach, tty, nnp       bool
		o                      libcontainer.ExecOptions
	)
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER_ID [COMMAND [ARG...]]",
		Short: "Execute a new process inside a container",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			var proc specs.Process
			if processFile != "" {
				b, err := os.ReadFile(processFile)
				if err != nil {
					return errdefs.Newf(errdefs.ErrInvalid, "--process: %v", err)
				}
				if err := json.Unmarshal(b, &proc); err != nil {
					return errdefs.Newf(errdefs.ErrInvalid, "--process %s: %v", processFile, err)
				}
			} else {
				if len(args) < 2 {
					return cli.Invalid("exec: no command given")
				}
				st, err := rt.Config(id)
				if err != nil {
					return err
				}
				proc = *st.Process
				proc.Args = args[1:]
				proc.Terminal = tty
				proc.Env = append(proc.Env, env...)
				if cwd != "" {
					proc.Cwd = cwd
				}
				if user != "" {
					u, g, _ := strings.Cut(user, ":")
					uid, err1 := strconv.ParseUint(u, 10, 32)
					gid, err2 := strconv.ParseUint(g, 10, 32)
					if err1 != nil || (g != "" && err2 != nil) {
						return cli.Invalid("invalid --user %q: want UID[:GID]", user)
					}
					proc.User = specs.User{UID: uint32(uid), GID: uint32(gid)}
				}
				if len(caps) > 0 && proc.Capabilities != nil {
					c := *proc.Capabilities
					c.Bounding, c.Effective, c.Permitted = append(c.Bounding, caps...), append(c.Effective, caps...), append(c.Permitted, caps...)
					proc.Capabilities = &c
				}
				if nnp {
					proc.NoNewPrivileges = true
				}
			}
			pid, err := rt.Exec(cmd.Context(), id, &proc, &o)
			if err != nil || detach {
				return err
			}
			code := waitChild(pid)
			if code != 0 {
				return &errdefs.ExitError{Code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVarP(&processFile, "process", "p", "", "path to a process.json")
	f.BoolVarP(&detach, "detach", "d", false, "detach from the process")
	f.StringVar(&o.PidFile, "pid-file", "", "file to write the process id to")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket that receives the pty master")
	f.StringVar(&cwd, "cwd", "", "working directory in the container")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable")
	f.StringVarP(&user, "user", "u", "", "UID[:GID]")
	f.StringArrayVarP(&caps, "cap", "c", nil, "add a capability")
	f.BoolVar(&nnp, "no-new-privs", false, "set no_new_privileges")
	f.Int("preserve-fds", 0, "ignored")
	f.String("process-label", "", "ignored (no SELinux)")
	f.String("apparmor", "", "ignored (no AppArmor)")
	f.StringArrayP("additional-gids", "g", nil, "ignored")
	f.Bool("ignore-paused", false, "ignored")
	return cmd
}
