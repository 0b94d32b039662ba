package libimage

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

// FuzzParseReference: any string is a reference whose fully qualified form parses back to the
// same reference, or an invalid-input error on one line.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"busybox", "docker.io/library/busybox:1.36", "localhost:5000/a/b@sha256:0123456789012345678901234567890123456789012345678901234567890123",
		"a:b@sha256:0123456789012345678901234567890123456789012345678901234567890123", "UPPER", "a//b", ":", "@", "x:\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseReference(%q): error %q", s, err)
			}
			return
		}
		if ref.Registry == "" || ref.Repository == "" || (ref.Tag == "" && ref.Digest == "") {
			t.Fatalf("ParseReference(%q) = %+v: incomplete", s, ref)
		}
		again, err := ParseReference(ref.String())
		if err != nil || again != ref {
			t.Errorf("ParseReference(%q) = %+v, but its String %q parses to %+v, %v", s, ref, ref.String(), again, err)
		}
	})
}
