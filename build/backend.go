package build

import (
	"context"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is an image a build starts from or produces.
type Image struct {
	ID     string        // the store's ID ("sha256:..."); "" is scratch
	Config v1.ConfigFile // the whole config: Config, History, RootFS.DiffIDs, Created
}

// RunSpec is one RUN step as the backend executes it.
type RunSpec struct {
	Args       []string // argv; the shell form is already wrapped in SHELL
	Env        []string // KEY=value: the image's ENV plus build args in scope
	User       string   // USER, "" for root
	Workdir    string   // WORKDIR, "" for /; created when missing
	Network    string   // "" (default), "none" or "host"
	Mounts     []RunMount
	ContextDir string // the build context, for bind mounts with From == ""
	Stdout     io.Writer
	Stderr     io.Writer
}

// RunMount is one RUN --mount.
type RunMount struct {
	Type     string // "bind", "cache", "tmpfs", "secret"
	Target   string // path inside the container
	Source   string // bind: path inside From (or the context); secret: host file; cache: unused
	From     Image  // bind and cache: the image to take Source from; zero for the context / an empty cache
	ID       string // cache: the cache's id (defaults to Target); secret: the secret's id
	ReadOnly bool
	Sharing  string // cache: "shared" (default), "private" or "locked"
	Mode     uint32 // secret and cache: permission bits (0: 0400 secret, 0755 cache)
	UID, GID int
	Size     int64 // tmpfs: bytes, 0 for the default
	Required bool  // secret: fail when missing
}

// CommitOptions describe the image a Run or Commit produces on top of its parent.
type CommitOptions struct {
	Config v1.Config
	// History holds the entries this commit appends: first those of config-only steps since
	// the parent (EmptyLayer set), then, when a layer is added, the entry for that layer.
	History []v1.History
	Created time.Time
	// Epoch, when set, clamps every file time in the new layer to it, so two builds of the
	// same input produce the same digest (--timestamp, SOURCE_DATE_EPOCH).
	Epoch *time.Time
}

// Backend is what the builder needs from the engine: images, a place to run RUN steps,
// commits and the layer cache. internal/engine implements it; tests use a fake.
type Backend interface {
	// Pull resolves a FROM (or COPY --from, RUN --mount from=) image reference to a local
	// image, pulling it when it is missing, or always when pull is true.
	Pull(ctx context.Context, ref string, pull bool) (Image, error)
	// Run runs spec in a container whose root is an overlay of parent; when the command exits
	// 0 it commits the container's changes as one new layer on parent. A non-zero exit
	// returns an error with ExitCode() int; nothing is stored then.
	Run(ctx context.Context, parent Image, spec RunSpec, c CommitOptions) (Image, error)
	// Commit stores parent plus layer, an uncompressed tar stream (nil: a config-only commit).
	Commit(ctx context.Context, parent Image, layer io.Reader, c CommitOptions) (Image, error)
	// Mount makes img's root filesystem readable at dir until release is called.
	Mount(ctx context.Context, img Image) (dir string, release func(), err error)
	// CacheGet returns the image a step with this key produced before; ok is false on a miss.
	CacheGet(ctx context.Context, key string) (img Image, ok bool, err error)
	// CachePut records that the step with this key produced img.
	CachePut(ctx context.Context, key string, img Image) error
	// Tag gives img the names; the builder calls it once, after the whole build succeeded.
	Tag(ctx context.Context, img Image, names []string) error
}

// Options are one build's inputs, already validated by the CLI.
type Options struct {
	ContextDir     string // the build context on disk; "" when there is none
	Dockerfile     []byte
	DockerfileName string            // for messages, e.g. "Dockerfile"
	BuildArgs      map[string]string // --build-arg KEY=VALUE (KEY alone takes the environment's value)
	Target         string
	NoCache        bool
	Pull           bool
	Secrets        map[string]string // id -> host file holding the secret
	Labels         map[string]string
	Network        string // default network for RUN: "", "none" or "host"
	// Devices are --device values (host paths or CDI names) for the backend's RUN
	// containers; the builder itself does not read them, and they are not part of cache keys
	// (as with docker and podman).
	Devices []string
	// UserNS, UIDMaps and GIDMaps are --userns, --uidmap and --gidmap for the backend's RUN
	// containers, as run takes them; like Devices the builder itself does not read them.
	UserNS           string
	UIDMaps, GIDMaps []string
	Platform         string // "" or the host's; the CLI refuses others
	Timestamp        *time.Time
	Tags             []string
	Quiet            bool
	Progress         string    // "auto", "plain" or "tty"
	Out              io.Writer // step lines and RUN output
}
