// Package config loads berth's settings with the precedence of DESIGN.md:
// command-line flag > BERTH_* environment variable > user file > system file > built-in default.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/berth-project/berth/internal/paths"
)

// Config is every setting berth reads from files, env or flags.
type Config struct {
	Root          string     `toml:"root" env:"BERTH_ROOT"`
	RunRoot       string     `toml:"runroot" env:"BERTH_RUNROOT"`
	StorageDriver string     `toml:"storage_driver" env:"BERTH_STORAGE_DRIVER"`
	LogLevel      string     `toml:"log_level" env:"BERTH_LOG_LEVEL"`
	Runtime       string     `toml:"runtime" env:"BERTH_RUNTIME"`
	Registries    Registries `toml:"registries"`
	Network       Network    `toml:"network"`
	CDI           CDI        `toml:"cdi"`
	Events        Events     `toml:"events"`

	Rootless bool     `toml:"-"`
	Files    []string `toml:"-"` // config files that were read, in order
}

// Registries configures registry access.
type Registries struct {
	// Insecure registries are reached over plain HTTP or TLS without verification.
	Insecure []string `toml:"insecure"`
	// Mirrors maps a registry host to mirrors tried before it, in order.
	Mirrors map[string][]string `toml:"mirrors"`
	// AuthFile overrides the credentials file (Docker's config.json format).
	AuthFile string `toml:"auth_file" env:"BERTH_AUTH_FILE"`
}

// Network configures the default network.
type Network struct {
	DefaultNetwork string `toml:"default_network"`
	DefaultSubnet  string `toml:"default_subnet" env:"BERTH_DEFAULT_SUBNET"`
	// DefaultRootlessNetworkCmd is the helper of a rootless container's default network,
	// "pasta" or "slirp4netns" (podman's containers.conf key); unset, pasta when installed.
	DefaultRootlessNetworkCmd string `toml:"default_rootless_network_cmd" env:"BERTH_ROOTLESS_NETWORK_CMD"`
}

// CDI configures Container Device Interface specs.
type CDI struct {
	// SpecDirs are searched for CDI specs, later ones winning; empty means /etc/cdi and
	// /var/run/cdi. BERTH_CDI_SPEC_DIRS sets them as a colon-separated list.
	SpecDirs []string `toml:"spec_dirs" env:"BERTH_CDI_SPEC_DIRS"`
}

// Events bounds the event log's storage (internal/events): segments of SegmentSize bytes, at
// most MaxSegments of them; zero means the log's defaults.
type Events struct {
	SegmentSize int64 `toml:"segment_size"`
	MaxSegments int   `toml:"max_segments"`
}

// DefaultSubnet is the default network's subnet unless configured: a /16 as Docker's and
// Podman's defaults are (room for 65,533 containers), holding berth's earlier default
// 10.123.0.0/24 (LegacyDefaultSubnet), so that a root made with that keeps its addresses when
// its network is widened. Not Podman's 10.88.0.0/16: both engines share hosts.
const DefaultSubnet = "10.123.0.0/16"

// LegacyDefaultSubnet is the default network's subnet in roots made before it was a /16.
const LegacyDefaultSubnet = "10.123.0.0/24"

// Default returns the built-in settings for the user described by env.
func Default(env paths.Env) Config {
	d := paths.For(env)
	return Config{
		Root:          d.Root,
		RunRoot:       d.RunRoot,
		StorageDriver: "overlay",
		LogLevel:      "warn",
		Rootless:      d.Rootless,
		Network:       Network{DefaultNetwork: "berth", DefaultSubnet: DefaultSubnet},
	}
}

// Load builds the configuration: defaults, then the system file, then the user file (or
// only explicit when it is set), then BERTH_* variables from getenv. Flags are applied by the caller.
func Load(env paths.Env, explicit string, getenv func(string) string) (Config, error) {
	c := Default(env)
	d := paths.For(env)
	files := []string{d.SystemConfig, d.UserConfig}
	if explicit != "" {
		files = []string{explicit}
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		err := c.mergeFile(f)
		if errors.Is(err, fs.ErrNotExist) && explicit == "" {
			continue
		}
		if err != nil {
			return c, err
		}
	}
	applyEnv(reflect.ValueOf(&c).Elem(), getenv)
	return c, nil
}

func (c *Config) mergeFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config %s: %w", path, err)
	}
	md, err := toml.Decode(string(data), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("config %s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("config %s: unknown key %q", path, und[0].String())
	}
	c.Files = append(c.Files, path)
	return nil
}

// applyEnv sets every string field tagged `env:"NAME"` whose variable is non-empty, and
// every string list field from its variable's colon-separated parts.
func applyEnv(v reflect.Value, getenv func(string) string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			applyEnv(f, getenv)
			continue
		}
		name := t.Field(i).Tag.Get("env")
		val := ""
		if name != "" {
			val = strings.TrimSpace(getenv(name))
		}
		switch {
		case val == "":
		case f.Kind() == reflect.String:
			f.SetString(val)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			f.Set(reflect.ValueOf(strings.Split(val, ":")))
		}
	}
}
