// Package quadlet holds `berth quadlet` and the systemd generator entry point: Quadlet files
// (.container, .volume, .network, .image, .kube, .pod) turned into service units.
package quadlet

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/systemd"
)

// Generator names: `make install` links berth under them in systemd's generator directories.
const (
	SystemGenerator = "berth-system-generator"
	UserGenerator   = "berth-user-generator"
)

// Command returns `berth quadlet`.
func Command() *cobra.Command {
	var dryrun, user bool
	cmd := &cobra.Command{
		Use:   "quadlet [OPTIONS] [OUTPUTDIR]",
		Short: "Translate Quadlet files into systemd units",
		Long: "Translate the Quadlet files (.container, .volume, .network, .image, .kube, .pod) of the search path\n" +
			"($QUADLET_UNIT_DIRS, else /etc/containers/systemd and /usr/share/containers/systemd, or for --user\n" +
			"~/.config/containers/systemd and /etc/containers/systemd/users) into units in OUTPUTDIR, or print them\n" +
			"with --dryrun. Every problem is reported with its file, line and key; with --dryrun any problem fails.",
		Args: cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !dryrun && len(args) == 0 {
				return cli.Invalid("quadlet needs an output directory, or --dryrun")
			}
			o, err := options(user)
			if err != nil {
				return err
			}
			o.GlobalArgs = cli.UnitGlobalArgs(cli.Engine(cmd))
			units, diags := systemd.GenerateQuadlet(o)
			for _, d := range diags {
				fmt.Fprintln(cmd.ErrOrStderr(), d.Error())
			}
			if dryrun {
				printUnits(cmd.OutOrStdout(), units)
				if len(diags) > 0 {
					return errdefs.Newf(errdefs.ErrInvalid, "%d problem%s in Quadlet files", len(diags), plural(len(diags)))
				}
				return nil
			}
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return fmt.Errorf("create output directory: %w", err)
			}
			return systemd.WriteQuadletUnits(args[0], units)
		},
	}
	cmd.Flags().BoolVar(&dryrun, "dryrun", false, "Print the units instead of writing them")
	cmd.Flags().BoolVar(&user, "user", false, "Translate the user's Quadlet files (rootless units)")
	return cmd
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func options(user bool) (systemd.QuadletOptions, error) {
	exe, err := os.Executable()
	if err != nil {
		return systemd.QuadletOptions{}, fmt.Errorf("find the berth binary: %w", err)
	}
	home, _ := os.UserHomeDir()
	return systemd.QuadletOptions{Dirs: systemd.QuadletDirs(user, os.Getuid(), home, os.Getenv), Executable: exe, User: user}, nil
}

func printUnits(w io.Writer, units []systemd.QuadletUnit) {
	for _, u := range units {
		fmt.Fprintf(w, "---%s---\n%s\n", u.Name, u.Text)
	}
}

// IsGenerator says whether berth runs as a systemd generator (by the name it was called by).
func IsGenerator(argv0 string) bool {
	b := filepath.Base(argv0)
	return b == SystemGenerator || b == UserGenerator
}

// RunGenerator is berth as a systemd generator: systemd runs it early at boot and at every
// daemon-reload with three output directories; the units go into the first. Problems are
// logged (systemd puts a generator's stderr in the journal) and never stop the others.
func RunGenerator(argv []string, stderr io.Writer) int {
	if len(argv) < 2 {
		fmt.Fprintf(stderr, "%s: usage: %s NORMAL-DIR [EARLY-DIR LATE-DIR]\n", filepath.Base(argv[0]), filepath.Base(argv[0]))
		return 1
	}
	o, err := options(filepath.Base(argv[0]) == UserGenerator)
	if err != nil {
		fmt.Fprintf(stderr, "berth-quadlet: %v\n", err)
		return 1
	}
	units, diags := systemd.GenerateQuadlet(o)
	// Generators run before any log daemon: like systemd's own, this one logs to the kernel's
	// buffer (where the journal finds it later), and to stderr for whoever runs it by hand.
	kmsg, _ := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	for _, d := range diags {
		level, prio := "warning", 4
		if d.Fatal {
			level, prio = "error (unit not generated)", 3
		}
		line := fmt.Sprintf("berth-quadlet: %s: %s", level, strings.TrimSpace(d.Error()))
		fmt.Fprintln(stderr, line)
		if kmsg != nil {
			fmt.Fprintf(kmsg, "<%d>%s\n", prio, line)
		}
	}
	if kmsg != nil {
		kmsg.Close()
	}
	if err := systemd.WriteQuadletUnits(argv[1], units); err != nil {
		fmt.Fprintf(stderr, "berth-quadlet: %v\n", err)
		return 1
	}
	return 0
}
