// Package cdi holds `berth cdi ...`: list the Container Device Interface devices the specs
// describe, and generate an NVIDIA spec from a host's driver.
package cdi

import (
	"fmt"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/cdi"
)

// Command returns the `cdi` group.
func Command() *cobra.Command {
	return cli.Group("cdi", "Manage Container Device Interface (CDI) devices",
		listCommand(), generateCommand())
}

func listCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the CDI devices that --device and --gpus can name",
		Args:    cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := cli.Engine(cmd).CDI()
			if err != nil {
				return err
			}
			for _, e := range reg.Errors() {
				logrus.Warnf("CDI spec: %s", e)
			}
			for _, d := range reg.Devices() {
				fmt.Fprintln(cmd.OutOrStdout(), d)
			}
			return nil
		},
	}
}

func generateCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "generate nvidia",
		Short: "Write a CDI spec for the host's NVIDIA GPUs from its driver (devices, libraries, utilities)",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "nvidia" {
				return cli.Invalid("cdi generate: unknown vendor %q: only nvidia is supported", args[0])
			}
			spec, err := cdi.GenerateNVIDIA(cdi.DefaultNVIDIAHost())
			if err != nil {
				return err
			}
			if output == "-" {
				data, err := cdi.MarshalSpec(spec)
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := cdi.WriteSpec(spec, output); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Generated CDI spec %s with %d devices\n", output, len(spec.Devices))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "/var/run/cdi/nvidia.yaml", "File to write the spec to (- for standard output)")
	return cmd
}
