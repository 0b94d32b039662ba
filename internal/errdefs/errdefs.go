// Package errdefs holds the error kinds berth classifies failures by, and the one table that
// turns them into exit statuses. Callers wrap these sentinels with context and test them with
// errors.Is; wording never matters.
package errdefs

import (
	"errors"
	"fmt"
	"strconv"
)

var (
	// ErrNotFound: a named object (container, image, volume, network, pod) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: the name is taken.
	ErrExists = errors.New("already exists")
	// ErrInUse: the object's state refuses the operation (a running container removed
	// without force; an image, volume or network in use; a pod with running containers).
	ErrInUse = errors.New("in use")
	// ErrConflict: the object is not in a state the operation needs (exec in a stopped
	// container, unpause of a running one), which Docker answers with 409.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the user's input is wrong (a value, a filter, the number of arguments).
	ErrInvalid = errors.New("invalid argument")
	// ErrUsage: a flag the command does not know or cannot parse.
	ErrUsage = errors.New("usage")
	// ErrArgs: the command got too few or too many arguments (Docker answers 1, even for run).
	ErrArgs = errors.New("wrong number of arguments")
	// ErrUnauthorized: a registry refused the credentials.
	ErrUnauthorized    = errors.New("unauthorized")
	ErrNotSupported    = errors.New("not supported")
	ErrCannotInvoke    = errors.New("cannot invoke command")
	ErrCommandNotFound = errors.New("command not found")
)

// Exit statuses berth uses, Docker's and Podman's.
const (
	ExitOK              = 0
	ExitNotFound        = 1 // also Docker's status for the other user errors of non-run commands
	ExitState           = 2 // an object's state refuses the operation, as Podman answers rm
	ExitEngine          = 125
	ExitCannotInvoke    = 126
	ExitCommandNotFound = 127
)

// Class is how a command reports failures: Docker's run and create answer every failure of
// their own with 125 (a container's status would be ambiguous otherwise); start does too,
// except for an unknown container; every other command answers user errors with 1.
type Class int

const (
	ClassOther Class = iota
	ClassStart
	ClassRun // run and create
)

// exitTable is berth's exit-code table; the first kind err matches decides. A container's own
// status (an error with ExitCode) comes before it; anything unclassified is ExitEngine.
var exitTable = []struct {
	kind              error
	other, start, run int
}{
	{ErrCannotInvoke, ExitCannotInvoke, ExitCannotInvoke, ExitCannotInvoke},
	{ErrCommandNotFound, ExitCommandNotFound, ExitCommandNotFound, ExitCommandNotFound},
	{ErrUsage, ExitEngine, ExitEngine, ExitEngine},
	{ErrArgs, 1, 1, 1},
	{ErrNotFound, ExitNotFound, ExitNotFound, ExitEngine},
	{ErrInUse, ExitState, ExitEngine, ExitEngine},
	{ErrConflict, 1, ExitEngine, ExitEngine},
	{ErrExists, 1, ExitEngine, ExitEngine},
	{ErrInvalid, 1, ExitEngine, ExitEngine},
	{ErrUnauthorized, 1, ExitEngine, ExitEngine},
	{ErrNotSupported, 1, ExitEngine, ExitEngine},
}

// ExitTable is the table as the help text shows it.
const ExitTable = `Exit status:
  0    success
  1    a named container, image, volume, network or pod does not exist; the wrong
       number of arguments or an unknown command; any other user error of a command
       other than run, create and start (as Docker answers)
  2    the object's state refuses the operation: a running container removed without
       -f, an image, volume or network in use, a pod with running containers
  125  berth itself failed: any failure of run, create and kube play, of start but an unknown
       container, flag errors, and internal errors of every command
  126  the container's command cannot be invoked
  127  the container's command is not found
  N    run, start -a, exec, wait and attach exit with the container's own status`

// ExitError carries a container's own exit status up to main.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return "exit status " + strconv.Itoa(e.Code) }

// ExitCode returns the status main should exit with.
func (e *ExitError) ExitCode() int { return e.Code }

// ExitCode maps an error of a command of class c to berth's exit status through exitTable.
func ExitCode(err error, c Class) int {
	if err == nil {
		return ExitOK
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	for _, row := range exitTable {
		if errors.Is(err, row.kind) {
			switch c {
			case ClassRun:
				return row.run
			case ClassStart:
				return row.start
			}
			return row.other
		}
	}
	return ExitEngine
}

// kindError is a message classified by a sentinel without the sentinel's text in it.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Newf returns an error reading exactly the formatted message that errors.Is matches to kind.
func Newf(kind error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// Multi is the failure of a command over several targets: it reads as its last error (the
// others were reported as they happened) and matches every kind of every error, so the exit
// table decides by the first row any of them matches (an unknown name wins, as in Podman).
type Multi struct{ Errs []error }

func (m *Multi) Error() string   { return m.Errs[len(m.Errs)-1].Error() }
func (m *Multi) Unwrap() []error { return m.Errs }
