package libimage

import (
	"errors"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestParseReference(t *testing.T) {
	const d = "sha256:0123456789012345678901234567890123456789012345678901234567890123"
	cases := []struct {
		in, want string
	}{
		{"busybox", "docker.io/library/busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36"},
		{"user/app", "docker.io/user/app:latest"},
		{"docker.io/library/busybox:1", "docker.io/library/busybox:1"},
		{"index.docker.io/library/busybox:1", "docker.io/library/busybox:1"},
		{"localhost/demo", "localhost/demo:latest"},
		{"127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b:c"},
		{"busybox@" + d, "docker.io/library/busybox@" + d},
		{"busybox:1@" + d, "docker.io/library/busybox:1@" + d},
	}
	for _, c := range cases {
		r, err := ParseReference(c.in)
		if err != nil {
			t.Errorf("ParseReference(%q) = %v", c.in, err)
			continue
		}
		if r.String() != c.want {
			t.Errorf("ParseReference(%q) = %q, want %q", c.in, r.String(), c.want)
		}
	}
	for _, bad := range []string{"", "UPPER/case", "a::b", "busybox@sha256:zz", " busybox", "a/b:c:d"} {
		if _, err := ParseReference(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseReference(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestFamiliarAndSplit(t *testing.T) {
	cases := []struct{ in, fam, repo, tag string }{
		{"docker.io/library/busybox:1", "busybox:1", "docker.io/library/busybox", "1"},
		{"docker.io/user/app:x", "user/app:x", "docker.io/user/app", "x"},
		{"localhost:5000/a:b", "localhost:5000/a:b", "localhost:5000/a", "b"},
		{"quay.io/a@sha256:ab", "quay.io/a@sha256:ab", "quay.io/a", "sha256:ab"},
	}
	for _, c := range cases {
		if got := FamiliarName(c.in); got != c.fam {
			t.Errorf("FamiliarName(%q) = %q, want %q", c.in, got, c.fam)
		}
		if r, tg := SplitName(c.in); r != c.repo || tg != c.tag {
			t.Errorf("SplitName(%q) = %q %q", c.in, r, tg)
		}
	}
}
