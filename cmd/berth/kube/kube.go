// Package kube holds `berth kube ...`: play, down and generate of Kubernetes YAML.
package kube

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/kube"
)

// Command returns the `kube` group.
func Command() *cobra.Command {
	return cli.Group("kube", "Play and generate Kubernetes YAML",
		playCommand(), downCommand(), generateCommand())
}

func generateCommand() *cobra.Command {
	var o kube.GenerateOptions
	var file string
	cmd := &cobra.Command{
		Use:   "generate [OPTIONS] CONTAINER|POD [CONTAINER|POD...]",
		Short: "Generate Kubernetes YAML from containers and pods",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcs, err := kube.Sources(cmd.Context(), cli.Engine(cmd), args)
			if err != nil {
				return err
			}
			out, warnings, err := kube.Generate(srcs, o)
			if err != nil {
				return err
			}
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), w)
			}
			if file == "" {
				_, err = cmd.OutOrStdout().Write(out)
				return err
			}
			return writeNew(file, out)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Type, "type", "t", "pod", "Kind to generate: pod or deployment")
	fl.BoolVarP(&o.Service, "service", "s", false, "Also generate a Service selecting each pod")
	fl.StringVarP(&file, "filename", "f", "", "Write the YAML to this file (which must not exist) instead of stdout")
	return cmd
}

// writeNew writes data to a file that must not exist yet, through a temporary name so that a
// failure leaves nothing behind.
func writeNew(p string, data []byte) error {
	if _, err := os.Lstat(p); err == nil {
		return errdefs.Newf(errdefs.ErrExists, "cannot write %s: the file exists", p)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".berth-kube-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), p); err != nil { // refuses to replace a file made meanwhile
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// PlayCommand returns `play kube`, podman's older spelling of `kube play`.
func PlayCommand() *cobra.Command {
	group := cli.Group("play", "Play Kubernetes YAML (the older spelling of kube play)")
	play := playCommand()
	play.Use = "kube [OPTIONS] FILE|-|URL"
	group.AddCommand(play)
	return group
}

// GenerateKubeCommand returns `generate kube`, podman's older spelling of `kube generate`,
// for the generate group.
func GenerateKubeCommand() *cobra.Command {
	gen := generateCommand()
	gen.Use = "kube [OPTIONS] CONTAINER|POD [CONTAINER|POD...]"
	return gen
}
