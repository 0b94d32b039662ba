package container

import (
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
)

// stream connects our stdio to an attached container until it exits or we detach. With a
// terminal on both sides, ours is put in raw mode and its size follows ours.
func stream(cmd *cobra.Command, c *engine.Container, conn *engine.AttachConn, keys []byte, sigProxy bool) (int, error) {
	e, ctx := cli.Engine(cmd), cmd.Context()
	aio := engine.AttachIO{Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), RemoveAfter: c.Options.Rm}
	if c.Options.Interactive {
		aio.Stdin, aio.DetachKeys = cmd.InOrStdin(), keys
	}
	if c.Options.TTY {
		aio.Stderr = aio.Stdout
		if restore := rawTerminal(cmd.InOrStdin(), c.Options.Interactive); restore != nil {
			defer restore()
		}
		if stop := followSize(cmd.OutOrStdout(), func(rows, cols uint16) { _ = conn.Resize(rows, cols) }); stop != nil {
			defer stop()
		}
	}
	if sigProxy {
		sigs := make(chan os.Signal, 8)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				if _, err := e.KillContainer(ctx, c.ID, s.(syscall.Signal)); err != nil {
					logrus.Debugf("forward %v: %v", s, err)
				}
			}
		}()
	}
	return conn.Stream(ctx, aio)
}

// rawTerminal puts r in raw mode when it is a terminal we read from; it returns the restore.
func rawTerminal(r io.Reader, reading bool) func() {
	f, ok := r.(*os.File)
	if !ok || !reading || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	st, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		return nil
	}
	return func() { _ = term.Restore(int(f.Fd()), st) }
}

// terminalSize returns w's terminal size, or zeros.
func terminalSize(w io.Writer) (rows, cols uint16) {
	if f, ok := w.(*os.File); ok {
		if c, r, err := term.GetSize(int(f.Fd())); err == nil {
			return uint16(r), uint16(c)
		}
	}
	return 0, 0
}

// followSize calls resize with w's terminal size now and on every SIGWINCH; it returns the stop.
func followSize(w io.Writer, resize func(rows, cols uint16)) func() {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	send := func() {
		if cols, rows, err := term.GetSize(int(f.Fd())); err == nil {
			resize(uint16(rows), uint16(cols))
		}
	}
	send()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	go func() {
		for range ch {
			send()
		}
	}()
	return func() { signal.Stop(ch); close(ch) }
}

// setSize sets a terminal's size.
func setSize(f *os.File, rows, cols uint16) {
	_ = unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}
