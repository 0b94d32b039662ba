package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	inUse := Newf(ErrInUse, "volume v is in use")
	missing := fmt.Errorf("remove: %w", Newf(ErrNotFound, "no such container: x"))
	cases := []struct {
		name              string
		err               error
		other, start, run int
	}{
		{"nil", nil, 0, 0, 0},
		{"plain", errors.New("boom"), 125, 125, 125},
		{"usage", Newf(ErrUsage, "unknown flag: --x"), 125, 125, 125},
		{"arguments", Newf(ErrArgs, `"berth run" requires at least 1 argument`), 1, 1, 1},
		{"invalid", fmt.Errorf("parse: %w", ErrInvalid), 1, 125, 125},
		{"not found", missing, 1, 1, 125},
		{"in use", inUse, 2, 125, 125},
		{"conflict", Newf(ErrConflict, "container x is not running"), 1, 125, 125},
		{"exists", Newf(ErrExists, "name taken"), 1, 125, 125},
		{"unauthorized", Newf(ErrUnauthorized, "unauthorized"), 1, 125, 125},
		{"cannot invoke", fmt.Errorf("exec /x: %w", ErrCannotInvoke), 126, 126, 126},
		{"command not found", fmt.Errorf("exec nope: %w", ErrCommandNotFound), 127, 127, 127},
		{"container status", fmt.Errorf("run: %w", &ExitError{Code: 3}), 3, 3, 3},
		{"signal", &ExitError{Code: 137}, 137, 137, 137},
		{"several, one missing", &Multi{Errs: []error{inUse, missing}}, 1, 1, 125},
		{"several in use", &Multi{Errs: []error{inUse, inUse}}, 2, 125, 125},
	}
	for _, c := range cases {
		for _, k := range []struct {
			class Class
			want  int
		}{{ClassOther, c.other}, {ClassStart, c.start}, {ClassRun, c.run}} {
			if got := ExitCode(c.err, k.class); got != k.want {
				t.Errorf("%s: ExitCode(%v, %d) = %d, want %d", c.name, c.err, k.class, got, k.want)
			}
		}
	}
	if got := (&ExitError{Code: -12}).Error(); got != "exit status -12" {
		t.Errorf("Error() = %q", got)
	}
	m := &Multi{Errs: []error{inUse, missing}}
	if m.Error() != missing.Error() {
		t.Errorf("Multi.Error() = %q, want the last error", m.Error())
	}
}
