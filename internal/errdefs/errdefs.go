// Package errdefs holds the error kinds berth classifies failures by. Callers wrap these
// sentinels with context and test them with errors.Is; wording never matters.
package errdefs

import (
	"errors"
	"fmt"
)

var (
	ErrNotFound        = errors.New("not found")
	ErrExists          = errors.New("already exists")
	ErrInUse           = errors.New("in use")
	ErrInvalid         = errors.New("invalid argument")
	ErrNotSupported    = errors.New("not supported")
	ErrCannotInvoke    = errors.New("cannot invoke command")
	ErrCommandNotFound = errors.New("command not found")
)

// ExitError carries a container's own exit status up to main.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return "exit status " + itoa(e.Code) }

// ExitCode returns the status main should exit with.
func (e *ExitError) ExitCode() int { return e.Code }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// ExitCode maps an error to berth's exit status: the container's own status when the error
// carries one, 126 when the command cannot be invoked, 127 when it is not found, else 125.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	switch {
	case errors.Is(err, ErrCannotInvoke):
		return 126
	case errors.Is(err, ErrCommandNotFound):
		return 127
	}
	return 125
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
