package system

import (
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/dockerapi"
	"github.com/berth-project/berth/internal/paths"
)

// DefaultServiceURI is where `system service` listens without a URI: /run/berth/berth.sock,
// or $XDG_RUNTIME_DIR/berth/berth.sock for a rootless user.
func DefaultServiceURI() string {
	return "unix://" + filepath.Join(paths.For(paths.FromOS()).RunRoot, "berth.sock")
}

func serviceCommand() *cobra.Command {
	var idle uint
	cmd := &cobra.Command{
		Use:   "service [OPTIONS] [URI]",
		Short: "Serve the Docker Engine API on a socket, exiting when idle",
		Long: "Serve the Docker Engine API on a Unix socket (default " + DefaultServiceURI() + ") or on the socket\n" +
			"systemd passes (socket activation). The service exits after --time seconds with no request and no\n" +
			"open stream; 0 serves until stopped.",
		Args: cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			uri := DefaultServiceURI()
			if len(args) == 1 {
				uri = args[0]
			}
			e := cli.Engine(cmd)
			l, err := dockerapi.Listen(uri, e.Config.Rootless)
			if err != nil {
				return err
			}
			defer l.Close()
			return dockerapi.New(e).Serve(cmd.Context(), l, time.Duration(idle)*time.Second)
		},
	}
	cmd.Flags().UintVarP(&idle, "time", "t", 5, "Seconds without a request before the service exits (0: never)")
	return cmd
}
