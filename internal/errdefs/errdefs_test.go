package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("boom"), 125},
		{"invalid", fmt.Errorf("parse: %w", ErrInvalid), 125},
		{"cannot invoke", fmt.Errorf("exec /x: %w", ErrCannotInvoke), 126},
		{"not found", fmt.Errorf("exec nope: %w", ErrCommandNotFound), 127},
		{"container status", fmt.Errorf("run: %w", &ExitError{Code: 3}), 3},
		{"signal", &ExitError{Code: 137}, 137},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("%s: ExitCode(%v) = %d, want %d", c.name, c.err, got, c.want)
		}
	}
	if got := (&ExitError{Code: -12}).Error(); got != "exit status -12" {
		t.Errorf("Error() = %q", got)
	}
}
