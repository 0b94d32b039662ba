package libimage

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/berth-project/berth/internal/errdefs"
)

// Reference is a parsed image reference in its fully qualified form.
type Reference struct {
	Registry   string // "docker.io" for Docker Hub
	Repository string // "library/busybox"
	Tag        string // "" when pinned by digest only
	Digest     string // "sha256:..." or ""
}

// ParseReference parses s the way docker does: short names resolve to
// docker.io/library/NAME:latest and name@sha256:... pins a digest.
func ParseReference(s string) (Reference, error) {
	if s == "" || strings.TrimSpace(s) != s {
		return Reference{}, errdefs.Newf(errdefs.ErrInvalid, "invalid reference format: %q", s)
	}
	r, err := name.ParseReference(s, name.WithDefaultRegistry("docker.io"))
	if err != nil {
		return Reference{}, errdefs.Newf(errdefs.ErrInvalid, "invalid reference format: %q: %v", s, unwrapNameErr(err))
	}
	ref := Reference{Registry: r.Context().RegistryStr(), Repository: r.Context().RepositoryStr()}
	if ref.Registry == name.DefaultRegistry {
		ref.Registry = "docker.io"
	}
	switch v := r.(type) {
	case name.Tag:
		ref.Tag = v.TagStr()
		// "name:tag@digest" parses as a digest; keep the tag when it was given.
	case name.Digest:
		ref.Digest = v.DigestStr()
		if before, _, ok := strings.Cut(s, "@"); ok {
			if t, err := name.NewTag(before, name.WithDefaultRegistry("docker.io")); err == nil && strings.Contains(lastPart(before), ":") {
				ref.Tag = t.TagStr()
			}
		}
	}
	return ref, nil
}

func lastPart(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// unwrapNameErr is ggcr's reason without its prefix, on one line: it quotes the input
// unescaped, control characters included (found by FuzzParseReference).
func unwrapNameErr(err error) string {
	msg := strings.TrimPrefix(err.Error(), "could not parse reference: ")
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, msg)
}

// Repo is "registry/repository".
func (r Reference) Repo() string { return r.Registry + "/" + r.Repository }

// String is the fully qualified form: registry/repo:tag, registry/repo@digest, or both.
func (r Reference) String() string {
	s := r.Repo()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// WithDefaultTag is r with Docker's default tag, latest, when it names neither a tag nor a
// digest.
func (r Reference) WithDefaultTag() Reference {
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r
}

// TagName is registry/repo:tag ("" when the reference has no tag).
func (r Reference) TagName() string {
	if r.Tag == "" {
		return ""
	}
	return r.Repo() + ":" + r.Tag
}

// remote returns the go-containerregistry reference for registry calls.
func (r Reference) remote(insecure bool) (name.Reference, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	s := r.Repo()
	if r.Digest != "" {
		s += "@" + r.Digest
	} else {
		s += ":" + r.Tag
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("parse reference %q: %w", s, err)
	}
	return ref, nil
}

// FamiliarName shortens a stored name the way docker prints it: docker.io/library/busybox:1
// is busybox:1, docker.io/user/app:1 is user/app:1; other registries stay as they are.
func FamiliarName(n string) string {
	if rest, ok := strings.CutPrefix(n, "docker.io/"); ok {
		return strings.TrimPrefix(rest, "library/")
	}
	return n
}

// SplitName splits a stored name into repository and tag (or digest), for listings.
func SplitName(n string) (repo, tag string) {
	if i := strings.LastIndex(n, "@"); i >= 0 {
		return n[:i], n[i+1:]
	}
	if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
		return n[:i], n[i+1:]
	}
	return n, ""
}
