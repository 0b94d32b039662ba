// Command berth-monitor is the one small process that stays with a running container, in
// conmon's role: it creates the container through the OCI runtime, holds its stdio, writes its
// log (k8s-file format, rotated), reaps it, records its exit status, and runs the exit command
// (`berth container cleanup ID`). It keeps working when every berth CLI process is gone. It
// links neither the CLI, SQLite nor registry code: only the standard library and x/sys.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type options struct {
	id, runtime, runtimeRoot, bundle, logPath, exitFile string
	logMaxSize                                          int64
	logMaxFiles                                         int
	exitCommand                                         []string
}

func main() {
	var o options
	flag.StringVar(&o.id, "id", "", "container id")
	flag.StringVar(&o.runtime, "runtime", "berth-runtime", "OCI runtime binary")
	flag.StringVar(&o.runtimeRoot, "runtime-root", "", "the runtime's --root")
	flag.StringVar(&o.bundle, "bundle", "", "OCI bundle")
	flag.StringVar(&o.logPath, "log", "", "log file (k8s-file format); empty for none")
	flag.Int64Var(&o.logMaxSize, "log-max-size", 0, "rotate the log at this many bytes (0: never)")
	flag.IntVar(&o.logMaxFiles, "log-max-files", 1, "rotated log files to keep")
	flag.StringVar(&o.exitFile, "exit-file", "", "where to record the exit status")
	flag.Parse()
	o.exitCommand = flag.Args()
	if o.id == "" || o.bundle == "" || o.exitFile == "" {
		fmt.Fprintln(os.Stderr, "usage: berth-monitor --id ID --bundle DIR --exit-file FILE [options] [-- EXIT-COMMAND...]")
		os.Exit(2)
	}
	// fd 3, when open, is the ready pipe to the berth that started us.
	ready := os.NewFile(3, "ready")
	if err := run(&o, ready); err != nil {
		fmt.Fprintf(ready, "error %v\n", err)
		os.Exit(1)
	}
}

func run(o *options, ready *os.File) error {
	// Orphaned container processes (the init, once the runtime exits) become our children.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("subreaper: %w", err)
	}
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return err
	}
	pidFile := filepath.Join(filepath.Dir(o.exitFile), "pid")
	args := []string{}
	if o.runtimeRoot != "" {
		args = append(args, "--root", o.runtimeRoot)
	}
	args = append(args, "create", "--bundle", o.bundle, "--pid-file", pidFile, o.id)
	create := exec.Command(o.runtime, args...)
	devnull, _ := os.Open(os.DevNull)
	// Plain files, so that Run does not wait for the container to close its copy of them.
	create.Stdin, create.Stdout, create.Stderr = devnull, outW, errW
	if err := create.Run(); err != nil {
		errW.Close()
		outW.Close()
		msg, _ := io.ReadAll(errR) // the runtime's own error: the container never started
		if m := strings.TrimPrefix(strings.TrimSpace(string(msg)), "Error: "); m != "" {
			return errors.New(m)
		}
		return fmt.Errorf("%s create: %w", o.runtime, err)
	}
	outW.Close()
	errW.Close()
	devnull.Close()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("bad pid file: %q", b)
	}
	lw := &logWriter{path: o.logPath, maxSize: o.logMaxSize, maxFiles: o.logMaxFiles}
	if err := lw.open(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for stream, r := range map[string]*os.File{"stdout": outR, "stderr": errR} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lw.copy(stream, r)
		}()
	}
	fmt.Fprintf(ready, "ok %d\n", pid)
	ready.Close()

	status := waitFor(pid)
	wg.Wait() // the container's last output is in the log before its status is
	lw.close()
	tmp := o.exitFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d %d\n", status, time.Now().UnixNano())), 0o644); err == nil {
		_ = os.Rename(tmp, o.exitFile)
	}
	if len(o.exitCommand) > 0 {
		cmd := exec.Command(o.exitCommand[0], o.exitCommand[1:]...)
		_ = cmd.Run()
	}
	return nil
}

// waitFor reaps children until pid exits and returns its status (128+N for a signal).
func waitFor(pid int) int {
	for {
		var ws unix.WaitStatus
		p, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255
		}
		if p != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// logWriter writes k8s-file lines: "TIME STREAM F|P TEXT", rotating at maxSize.
type logWriter struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
}

func (l *logWriter) open() error {
	if l.path == "" {
		return nil
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	st, _ := f.Stat()
	l.f, l.size = f, st.Size()
	return nil
}

func (l *logWriter) copy(stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, 32<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			tag := "F"
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			} else {
				tag = "P"
			}
			l.write(stream, tag, line)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

func (l *logWriter) write(stream, tag string, text []byte) {
	if l.f == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	rec := make([]byte, 0, len(text)+64)
	rec = time.Now().UTC().AppendFormat(rec, time.RFC3339Nano)
	rec = append(rec, ' ')
	rec = append(rec, stream...)
	rec = append(rec, ' ')
	rec = append(rec, tag...)
	rec = append(rec, ' ')
	rec = append(rec, text...)
	rec = append(rec, '\n')
	if l.maxSize > 0 && l.size+int64(len(rec)) > l.maxSize && l.size > 0 {
		l.rotate()
	}
	n, _ := l.f.Write(rec)
	l.size += int64(n)
}

// rotate shifts log -> log.1 -> ... keeping maxFiles files in all.
func (l *logWriter) rotate() {
	l.f.Close()
	if l.maxFiles <= 1 {
		_ = os.Truncate(l.path, 0)
	} else {
		for i := l.maxFiles - 1; i >= 1; i-- {
			src := l.path
			if i > 1 {
				src = fmt.Sprintf("%s.%d", l.path, i-1)
			}
			_ = os.Rename(src, fmt.Sprintf("%s.%d", l.path, i))
		}
	}
	if err := l.open(); err != nil {
		l.f = nil
	}
}

func (l *logWriter) close() {
	if l.f != nil {
		l.f.Close()
	}
}
