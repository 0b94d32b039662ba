package libimage

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/errdefs"
)

// PullOptions tunes Pull; nil means defaults.
type PullOptions struct {
	Platform  string // "os/arch[/variant]"; "" is the host platform
	TLSVerify *bool  // false: plain HTTP or unverified TLS for this pull
	Progress  ProgressFunc
}

// PushOptions tunes Push; nil means defaults.
type PushOptions struct {
	TLSVerify *bool
}

// insecure reports whether host is reached without TLS verification.
func (s *Store) insecure(host string, tlsVerify *bool) bool {
	if tlsVerify != nil && !*tlsVerify {
		return true
	}
	for _, h := range s.Registries.Insecure {
		if h == host {
			return true
		}
	}
	return isLoopback(host)
}

// isLoopback reports whether host names this machine; like Docker, berth reaches such
// registries over plain HTTP without asking.
func isLoopback(host string) bool {
	h := host
	if sh, _, err := net.SplitHostPort(host); err == nil {
		h = sh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (s *Store) remoteOptions(ctx context.Context, insecure bool) []remote.Option {
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by --tls-verify=false
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithTransport(tr),
		remote.WithAuthFromKeychain(fileKeychain{path: s.authFile()}), remote.WithJobs(maxParallelDownloads)}
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(p string) (*v1.Platform, error) {
	if p == "" {
		return &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, nil
	}
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid platform %q: want os/arch[/variant]", p)
	}
	pl := &v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		pl.Variant = parts[2]
	}
	return pl, nil
}

// Pull fetches ref from its registry (trying configured mirrors first) into the store.
func (s *Store) Pull(ctx context.Context, ref string, opts *PullOptions) (*Image, error) {
	if opts == nil {
		opts = &PullOptions{}
	}
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	r = r.WithDefaultTag()
	platform, err := ParsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for _, host := range append(s.Registries.Mirrors[r.Registry], r.Registry) {
		src := r
		src.Registry = host
		img, err := s.pullFrom(ctx, src, r, platform, opts)
		if err == nil {
			s.event("pull", img, r.String())
			return img, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		if host != r.Registry {
			logrus.WithFields(logrus.Fields{"mirror": host, "error": err}).Debug("mirror failed, trying next")
		}
		lastErr = err
	}
	return nil, lastErr
}

func (s *Store) pullFrom(ctx context.Context, src, want Reference, platform *v1.Platform, opts *PullOptions) (*Image, error) {
	nref, err := src.remote(s.insecure(src.Registry, opts.TLSVerify))
	if err != nil {
		return nil, err
	}
	ropts := append(s.remoteOptions(ctx, s.insecure(src.Registry, opts.TLSVerify)), remote.WithPlatform(*platform))
	desc, err := remote.Get(nref, ropts...)
	if err != nil {
		return nil, registryError("pull", want.String(), err)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, registryError("pull", want.String(), err)
	}
	if opts.Platform != "" {
		if cf, err := img.ConfigFile(); err == nil && (cf.OS != platform.OS || cf.Architecture != platform.Architecture) {
			return nil, errdefs.Newf(errdefs.ErrNotFound, "pull %s: no image for platform %s (image is %s/%s)", want, opts.Platform, cf.OS, cf.Architecture)
		}
	}
	wo := writeOptions{progress: opts.Progress, digests: []string{want.Repo() + "@" + desc.Digest.String()}}
	if want.Tag != "" {
		wo.names = []string{want.TagName()}
	}
	out, err := s.write(ctx, img, wo)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", want, err)
	}
	return out, nil
}

// registryError turns registry failures into one clear line.
func registryError(op, ref string, err error) error {
	var te *transport.Error
	if asTransportError(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			return errdefs.Newf(errdefs.ErrNotFound, "%s %s: manifest unknown: not found in registry", op, ref)
		case http.StatusUnauthorized:
			// Docker's words, which scripts look for.
			return errdefs.Newf(errdefs.ErrUnauthorized, "%s %s: unauthorized: authentication required (not logged in, or wrong credentials)", op, ref)
		case http.StatusForbidden:
			return errdefs.Newf(errdefs.ErrUnauthorized, "%s %s: denied: requested access to the resource is denied", op, ref)
		}
	}
	return fmt.Errorf("%s %s: %w", op, ref, err)
}

func asTransportError(err error, te **transport.Error) bool {
	for err != nil {
		if t, ok := err.(*transport.Error); ok {
			*te = t
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// Push sends the local image nameOrID to dest ("" means its own name), uploading only the
// blobs the registry lacks. It returns the pushed manifest digest.
func (s *Store) Push(ctx context.Context, nameOrID, dest string, opts *PushOptions) (string, error) {
	if opts == nil {
		opts = &PushOptions{}
	}
	img, err := s.Lookup(ctx, nameOrID)
	if err != nil {
		return "", err
	}
	if dest == "" {
		dest = nameOrID
	}
	r, err := ParseReference(dest)
	if err != nil {
		return "", err
	}
	r = r.WithDefaultTag()
	insecure := s.insecure(r.Registry, opts.TLSVerify)
	nref, err := r.remote(insecure)
	if err != nil {
		return "", err
	}
	vimg, err := s.V1(img)
	if err != nil {
		return "", err
	}
	if err := remote.Write(nref, vimg, s.remoteOptions(ctx, insecure)...); err != nil {
		return "", registryError("push", r.String(), err)
	}
	d, err := vimg.Digest()
	if err != nil {
		return "", err
	}
	// Remember where it went, as docker shows RepoDigests after a push.
	rec := img.ImageRecord
	rec.Digests = appendUnique(rec.Digests, r.Repo()+"@"+d.String())
	rec.Names = nil
	if err := s.meta.PutImage(ctx, rec); err != nil {
		return "", err
	}
	s.event("push", img, r.String())
	return d.String(), nil
}

// Login checks user and password against registry and stores them in the auth file.
func (s *Store) Login(ctx context.Context, registry, user, password string, tlsVerify *bool) error {
	host := normalizeHost(registry)
	reg, err := name.NewRegistry(host, insecureOpt(s.insecure(host, tlsVerify))...)
	if err != nil {
		return errdefs.Newf(errdefs.ErrInvalid, "invalid registry %q: %v", registry, err)
	}
	auth := &authn.Basic{Username: user, Password: password}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	if s.insecure(host, tlsVerify) {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for
	}
	rt, err := transport.NewWithContext(ctx, reg, auth, tr, []string{reg.Scope(transport.PullScope)})
	var te *transport.Error
	if err != nil && asTransportError(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return errdefs.Newf(errdefs.ErrUnauthorized, "login to %s: unauthorized: incorrect username or password", host)
	}
	if err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return errdefs.Newf(errdefs.ErrUnauthorized, "login to %s: unauthorized: incorrect username or password (%s)", host, resp.Status)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("login to %s: registry answered %s", host, resp.Status)
	}
	return saveAuth(s.authFile(), host, user, password)
}

// Logout removes the stored credentials of registry.
func (s *Store) Logout(registry string) error {
	return removeAuth(s.authFile(), normalizeHost(registry))
}

func insecureOpt(insecure bool) []name.Option {
	if insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// RemoteID returns the ID (config digest) of the image ref names in its registry for this
// platform, without pulling it: `auto-update --dry-run` compares it with the local one.
func (s *Store) RemoteID(ctx context.Context, ref string, opts *PullOptions) (string, error) {
	if opts == nil {
		opts = &PullOptions{}
	}
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	r = r.WithDefaultTag()
	platform, err := ParsePlatform(opts.Platform)
	if err != nil {
		return "", err
	}
	nref, err := r.remote(s.insecure(r.Registry, opts.TLSVerify))
	if err != nil {
		return "", err
	}
	desc, err := remote.Get(nref, append(s.remoteOptions(ctx, s.insecure(r.Registry, opts.TLSVerify)), remote.WithPlatform(*platform))...)
	if err != nil {
		return "", registryError("check", r.String(), err)
	}
	img, err := desc.Image()
	if err != nil {
		return "", registryError("check", r.String(), err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return "", registryError("check", r.String(), err)
	}
	return cfg.String(), nil
}
