package image

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/libimage"
)

// tlsVerify returns nil unless --tls-verify was given, so the config's insecure list applies.
func tlsVerify(cmd *cobra.Command, v bool) *bool {
	if cmd.Flags().Changed("tls-verify") {
		return &v
	}
	return nil
}

func pullCommand() *cobra.Command {
	var (
		platform string
		quiet    bool
		verify   bool
	)
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := libimage.ParseReference(args[0])
			if err != nil {
				return err
			}
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if ref.Tag == "" && ref.Digest == "" {
				ref.Tag = "latest"
				if !quiet {
					fmt.Fprintln(w, "Using default tag: latest")
				}
			}
			var before string
			if old, err := s.Lookup(ctx, ref.String()); err == nil {
				before = old.ID
			}
			opts := &libimage.PullOptions{Platform: platform, TLSVerify: tlsVerify(cmd, verify)}
			var prog *progress
			if !quiet {
				tag := ref.Tag
				if tag == "" {
					tag = ref.Digest
				}
				fmt.Fprintf(w, "%s: Pulling from %s\n", tag, libimage.FamiliarName(ref.Repo()))
				prog = newProgress(w)
				opts.Progress = prog.event
			}
			img, err := s.Pull(ctx, ref.String(), opts)
			prog.done()
			if err != nil {
				return err
			}
			if !quiet {
				for _, d := range img.Digests {
					if repo, dg := libimage.SplitName(d); repo == ref.Repo() {
						fmt.Fprintf(w, "Digest: %s\n", dg)
						break
					}
				}
				status := "Downloaded newer image for "
				if before == img.ID {
					status = "Image is up to date for "
				}
				fmt.Fprintln(w, "Status: "+status+libimage.FamiliarName(ref.String()))
			}
			fmt.Fprintln(w, ref.String())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&platform, "platform", "", "Pull the image for this platform (os/arch[/variant])")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	fl.BoolVar(&verify, "tls-verify", true, "Require HTTPS and verify certificates")
	fl.BoolP("all-tags", "a", false, "Download all tagged images (not supported)")
	_ = fl.MarkHidden("all-tags")
	return cmd
}

func pushCommand() *cobra.Command {
	var quiet, verify bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG] [DESTINATION]",
		Short: "Upload an image to a registry",
		Args:  cli.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst := args[0], args[0]
			if len(args) == 2 {
				dst = args[1]
			}
			ref, err := libimage.ParseReference(dst)
			if err != nil {
				return err
			}
			ref = ref.WithDefaultTag()
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if !quiet {
				fmt.Fprintf(w, "The push refers to repository [%s]\n", ref.Repo())
			}
			d, err := s.Push(ctx, src, ref.String(), &libimage.PushOptions{TLSVerify: tlsVerify(cmd, verify)})
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(w, ref.String())
				return nil
			}
			tag := ref.Tag
			if tag == "" {
				tag = ref.Digest
			}
			fmt.Fprintf(w, "%s: digest: %s\n", tag, d)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	cmd.Flags().BoolVar(&verify, "tls-verify", true, "Require HTTPS and verify certificates")
	return cmd
}

func loginCommand() *cobra.Command {
	var user, password string
	var stdin, verify bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry",
		Args:  cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := "docker.io"
			if len(args) == 1 {
				server = args[0]
			}
			if stdin {
				if password != "" {
					return cli.Invalid("--password and --password-stdin are mutually exclusive")
				}
				if user == "" {
					return cli.Invalid("must provide --username with --password-stdin")
				}
				b, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return fmt.Errorf("read password from stdin: %w", err)
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" || password == "" {
				if !term.IsTerminal(int(os.Stdin.Fd())) {
					return cli.Invalid("login: username and password required (use -u and --password-stdin)")
				}
				r := bufio.NewReader(os.Stdin)
				if user == "" {
					fmt.Fprint(cmd.OutOrStdout(), "Username: ")
					line, _ := r.ReadString('\n')
					user = strings.TrimSpace(line)
				}
				if password == "" {
					fmt.Fprint(cmd.OutOrStdout(), "Password: ")
					b, err := term.ReadPassword(int(os.Stdin.Fd()))
					fmt.Fprintln(cmd.OutOrStdout())
					if err != nil {
						return fmt.Errorf("read password: %w", err)
					}
					password = string(b)
				}
			}
			s, ctx, err := store(cmd)
			if err != nil {
				return err
			}
			if err := s.Login(ctx, server, user, password, tlsVerify(cmd, verify)); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&user, "username", "u", "", "Username")
	fl.StringVarP(&password, "password", "p", "", "Password")
	fl.BoolVar(&stdin, "password-stdin", false, "Take the password from stdin")
	fl.BoolVar(&verify, "tls-verify", true, "Require HTTPS and verify certificates")
	return cmd
}

func logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := "docker.io"
			if len(args) == 1 {
				server = args[0]
			}
			s, _, err := store(cmd)
			if err != nil {
				return err
			}
			if err := s.Logout(server); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", server)
			return nil
		},
	}
}
