// Package system holds berth's host-level commands: version, info, unshare, events and the
// `system` group (df, prune, reset, info, events).
package system

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/format"
)

// Commands returns the top-level system commands and the `system` group.
func Commands() []*cobra.Command {
	group := cli.Group("system", "Manage berth: disk usage, prune, reset, info")
	group.AddCommand(dfCommand(), pruneCommand(), resetCommand(), infoCommand(), eventsCommand(), serviceCommand())
	return []*cobra.Command{versionCommand(), infoCommand(), unshareCommand(), eventsCommand(), group}
}

func versionCommand() *cobra.Command {
	var f string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the berth version",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			// berth is client and server in one: both halves carry the same build, so
			// docker's {{.Server.Version}} and podman's {{.Client.Version}} both answer.
			part := versionPart{Version: engine.Version, APIVersion: engine.APIVersion, GoVersion: runtime.Version(),
				GitCommit: engine.Version, Os: runtime.GOOS, Arch: runtime.GOARCH, OsArch: runtime.GOOS + "/" + runtime.GOARCH}
			part.ApiVersion = part.APIVersion
			v := versionInfo{Client: part, Server: part, Version: engine.Version, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
			if f == "json" {
				b, err := json.Marshal(v)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return nil
			}
			if f != "" {
				return format.Object(cmd.OutOrStdout(), f, v)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Version:    %s\nGo version: %s\nOS/Arch:    %s/%s\n", v.Version, v.GoVersion, v.OS, v.Arch)
			return nil
		},
	}
	cmd.Flags().StringVarP(&f, "format", "f", "", "Format the output with a Go template or json")
	return cmd
}

// versionPart is one half of `version`: Docker's field names, and Podman's APIVersion and OsArch.
type versionPart struct {
	Version, ApiVersion, APIVersion, GoVersion, GitCommit, Os, Arch, OsArch string //nolint:revive // Docker's name
}

// versionInfo is what `version --format` sees: Docker's and Podman's .Client and .Server, and
// berth's own top-level fields.
type versionInfo struct {
	Client, Server               versionPart
	Version, GoVersion, OS, Arch string
}

func infoCommand() *cobra.Command {
	var f string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Display system-wide information",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			i, err := cli.Engine(cmd).Info(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if f == "json" { // Docker's shape
				return format.Object(w, "json", i.Docker())
			}
			if f != "" {
				// Templates see Podman's .Host, .Store and .Version and Docker's top-level names.
				return format.Inspect(w, f, []any{infoTemplateData(i)})
			}
			fmt.Fprintf(w, "host:\n  kernel: %s\n  os: %s\n  arch: %s\n  cgroupVersion: %s\n  cgroupManager: %s\n  rootless: %t\n",
				i.Host.Kernel, i.Host.OS, i.Host.Arch, i.Host.CgroupVersion, i.Host.CgroupManager, i.Host.Rootless)
			fmt.Fprintf(w, "store:\n  driver: %s\n  root: %s\n  runRoot: %s\n  configFiles: %v\n  images: %d\n  containers: %d\n",
				i.Store.Driver, i.Store.Root, i.Store.RunRoot, i.Store.ConfigFile, i.Store.Images, i.Store.Containers)
			fmt.Fprintf(w, "version: %s\n", i.Version)
			return nil
		},
	}
	cmd.Flags().StringVarP(&f, "format", "f", "", "Format the output with a Go template or json")
	return cmd
}

func unshareCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unshare [COMMAND [ARG...]]",
		Short: "Run a command in the rootless user namespace berth uses for storage",
		Long:  "Run a command in the user namespace where a rootless berth keeps image files with their in-image owners. As root it simply runs the command.",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				sh := os.Getenv("SHELL")
				if sh == "" {
					sh = "/bin/sh"
				}
				args = []string{sh}
			}
			path, err := exec.LookPath(args[0])
			if err != nil {
				return errdefs.Newf(errdefs.ErrCommandNotFound, "unshare: %v", err)
			}
			if err := syscall.Exec(path, args, os.Environ()); err != nil {
				return errdefs.Newf(errdefs.ErrCannotInvoke, "unshare: %s: %v", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// infoTemplateData merges Podman's info (.Host, .Store, .Version) with Docker's top-level
// fields (.ServerVersion, .Driver, .Containers, ...), which do not collide.
func infoTemplateData(i *engine.Info) map[string]any {
	out := map[string]any{}
	for k, v := range i.Docker() {
		out[k] = v
	}
	b, _ := json.Marshal(i)
	var podman map[string]any
	_ = json.Unmarshal(b, &podman)
	for k, v := range podman {
		out[k] = v
	}
	return out
}
