// Command berth is a daemonless container engine with the docker CLI's commands and flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/cmd/berth/quadlet"
	"github.com/berth-project/berth/cmd/berth/runtime"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/reexec"
	"github.com/berth-project/berth/internal/userns"
	_ "github.com/berth-project/berth/internal/userns/join" // joins the shared rootless user namespace before Go starts
	_ "github.com/berth-project/berth/libcontainer/nsenter" // joins namespaces for exec before Go starts
)

func main() {
	// A child entering berth's user namespace waits here for its id maps.
	userns.Init()
	// Re-exec modes (container init, helpers) run before cobra sees argv.
	if reexec.Init() {
		return
	}
	// Linked as a systemd generator, berth turns Quadlet files into units.
	if quadlet.IsGenerator(os.Args[0]) {
		os.Exit(quadlet.RunGenerator(os.Args, os.Stderr))
	}
	args := os.Args[1:]
	// Invoked as berth-runtime (a symlink), berth is a runc-compatible OCI runtime.
	if filepath.Base(os.Args[0]) == "berth-runtime" {
		args = append([]string{"runtime"}, args...)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	class := errdefs.ClassRun // the runtime is run's engine: its failures are berth's own
	if rest, ok := runtimeArgs(args); ok {
		err = runtime.Run(ctx, rest)
	} else {
		g := &cli.Globals{}
		root := newRootCommand(g)
		root.SetArgs(args)
		var cmd *cobra.Command
		if err = checkGlobalFlags(root, args); err == nil {
			cmd, err = root.ExecuteContextC(ctx)
		}
		class = cli.ExitClass(cmd)
		g.Close()
	}
	if err != nil {
		if msg := formatError(err); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
		}
	}
	return exitCode(err, class)
}

// exitCode is the one place an error becomes berth's exit status, through errdefs' table
// (documented in `berth --help`).
func exitCode(err error, class errdefs.Class) int {
	return errdefs.ExitCode(err, class)
}

// formatError renders err as "Error: ..."; a container's own exit status prints nothing.
func formatError(err error) string {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ""
	}
	return "Error: " + err.Error()
}

// runtimeArgs finds `berth [globals] runtime ARGS...` and returns ARGS: the runtime parses
// runc's flags itself, and berth's globals do not apply to it.
func runtimeArgs(args []string) ([]string, bool) {
	withValue := map[string]bool{"--root": true, "--runroot": true, "--storage-driver": true, "--log-level": true, "--config": true, "--runtime": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "runtime":
			return args[i+1:], true
		case withValue[a]:
			i++
		case strings.HasPrefix(a, "--") && withValue[strings.SplitN(a, "=", 2)[0]]:
		default:
			return nil, false
		}
	}
	return nil, false
}
