package libimage

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/berth-project/berth/internal/errdefs"
)

// dockerHubAuthKey is the key docker uses for Docker Hub credentials in config.json.
const dockerHubAuthKey = "https://index.docker.io/v1/"

// authFile is the credentials file: the configured one, $REGISTRY_AUTH_FILE, or docker's
// config.json ($DOCKER_CONFIG/config.json or ~/.docker/config.json), so docker and berth share logins.
func (s *Store) authFile() string {
	if s.Registries.AuthFile != "" {
		return s.Registries.AuthFile
	}
	if f := os.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		return f
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker", "config.json")
}

func normalizeHost(r string) string {
	r = strings.TrimPrefix(strings.TrimPrefix(r, "https://"), "http://")
	r = strings.TrimSuffix(strings.SplitN(r, "/", 2)[0], "/")
	if r == "" || r == "docker.io" || r == "index.docker.io" || r == "registry-1.docker.io" {
		return "docker.io"
	}
	return r
}

func authKey(host string) string {
	if host == "docker.io" {
		return dockerHubAuthKey
	}
	return host
}

type authEntry struct {
	Auth string `json:"auth,omitempty"`
}

// readConfig reads the whole file as raw JSON fields, so saving keeps what docker put there.
func readConfig(path string) (map[string]json.RawMessage, map[string]authEntry, error) {
	raw := map[string]json.RawMessage{}
	auths := map[string]authEntry{}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return raw, auths, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read auth file %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	if a, ok := raw["auths"]; ok {
		if err := json.Unmarshal(a, &auths); err != nil {
			return nil, nil, fmt.Errorf("auth file %s: auths: %w", path, err)
		}
	}
	return raw, auths, nil
}

func writeConfig(path string, raw map[string]json.RawMessage, auths map[string]authEntry) error {
	a, err := json.Marshal(auths)
	if err != nil {
		return err
	}
	raw["auths"] = a
	b, err := json.MarshalIndent(raw, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write auth file %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

func saveAuth(path, host, user, password string) error {
	raw, auths, err := readConfig(path)
	if err != nil {
		return err
	}
	auths[authKey(host)] = authEntry{Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}
	return writeConfig(path, raw, auths)
}

func removeAuth(path, host string) error {
	raw, auths, err := readConfig(path)
	if err != nil {
		return err
	}
	if _, ok := auths[authKey(host)]; !ok {
		return errdefs.Newf(errdefs.ErrNotFound, "not logged in to %s", host)
	}
	delete(auths, authKey(host))
	return writeConfig(path, raw, auths)
}

// fileKeychain resolves credentials from a docker config.json file.
type fileKeychain struct{ path string }

func (k fileKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	_, auths, err := readConfig(k.path)
	if err != nil {
		return nil, err
	}
	e, ok := auths[authKey(normalizeHost(r.RegistryStr()))]
	if !ok || e.Auth == "" {
		return authn.Anonymous, nil
	}
	dec, err := base64.StdEncoding.DecodeString(e.Auth)
	if err != nil {
		return nil, fmt.Errorf("auth file %s: bad credentials for %s", k.path, r.RegistryStr())
	}
	user, pass, _ := strings.Cut(string(dec), ":")
	return &authn.Basic{Username: user, Password: pass}, nil
}
