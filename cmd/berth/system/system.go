// Package system holds berth's host-level commands: version and info.
package system

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

// Commands returns the top-level system commands.
func Commands() []*cobra.Command {
	return []*cobra.Command{versionCommand(), infoCommand()}
}

func versionCommand() *cobra.Command {
	var f string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the berth version",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := struct {
				Version, GoVersion, OS, Arch string
			}{engine.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH}
			if f != "" {
				return format.Inspect(cmd.OutOrStdout(), f, []any{v})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Version:    %s\nGo version: %s\nOS/Arch:    %s/%s\n", v.Version, v.GoVersion, v.OS, v.Arch)
			return nil
		},
	}
	cmd.Flags().StringVarP(&f, "format", "f", "", "Format the output with a Go template or json")
	return cmd
}

func infoCommand() *cobra.Command {
	var f string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show host and storage information",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			i, err := cli.Engine(cmd).Info(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if f != "" {
				if f == "json" {
					b, _ := json.MarshalIndent(i, "", "  ")
					fmt.Fprintln(w, string(b))
					return nil
				}
				return format.Inspect(w, f, []any{i})
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
