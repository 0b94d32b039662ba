package image

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libimage"
)

func saveCommand() *cobra.Command {
	var output, archive string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  cli.MinimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			return cli.WriteArchive(cmd, output, func(w io.Writer) error { return s.Save(ctx, args, archive, w) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	cmd.Flags().StringVar(&archive, "format", libimage.FormatDocker, "Archive format: docker-archive or oci-archive")
	cmd.Flags().BoolP("quiet", "q", false, "Suppress the output (save prints none but the archive)")
	return cmd
}

func loadCommand() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := cmd.InOrStdin()
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return errdefs.Newf(errdefs.ErrNotFound, "load: %v", err)
				}
				defer f.Close()
				r = f
			} else if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return cli.Invalid("requested load from stdin, but stdin is empty")
			}
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			imgs, err := s.Load(ctx, r, nil)
			if err != nil {
				return err
			}
			for _, img := range imgs {
				if len(img.Names) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image ID: %s\n", img.ID)
				}
				for _, n := range img.Names {
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image: %s\n", libimage.FamiliarName(n))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func importCommand() *cobra.Command {
	var changes []string
	var message, platform string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  cli.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if platform != "" {
				if _, err := libimage.ParsePlatform(platform); err != nil {
					return err
				}
			}
			opts := &libimage.ImportOptions{Changes: changes, Message: message}
			if len(args) == 2 {
				opts.Name = args[1]
				if _, err := libimage.ParseReference(opts.Name); err != nil {
					return err
				}
			}
			for _, c := range changes { // validate before reading a possibly large input
				if err := libimage.ApplyChange(&v1.Config{}, c); err != nil {
					return err
				}
			}
			r, closeFn, err := openSource(cmd, args[0])
			if err != nil {
				return err
			}
			defer closeFn()
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			img, err := s.Import(ctx, r, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), img.ID)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if the server is multi-platform capable")
	return cmd
}

// openSource opens an import source: "-" is stdin, http(s) URLs are fetched, anything else is a file.
func openSource(cmd *cobra.Command, src string) (io.Reader, func(), error) {
	switch {
	case src == "-":
		return cmd.InOrStdin(), func() {}, nil
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, src, nil)
		if err != nil {
			return nil, nil, cli.Invalid("import: bad URL %q: %v", src, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, fmt.Errorf("import: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, nil, fmt.Errorf("import: %s: %s", src, resp.Status)
		}
		return resp.Body, func() { resp.Body.Close() }, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, nil, errdefs.Newf(errdefs.ErrNotFound, "import: %v", err)
	}
	return f, func() { f.Close() }, nil
}
