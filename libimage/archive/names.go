package archive

import (
	"fmt"
	"path"
	"strings"
)

// Whiteout names of the OCI image spec (layer.md, "Whiteouts").
const (
	WhiteoutPrefix = ".wh."
	OpaqueMarker   = ".wh..wh..opq"
)

// cleanName validates a tar entry name and returns it relative to the root ("" for the
// root itself). It refuses absolute names and any ".." component, rather than silently
// re-rooting them, so a hostile layer fails loudly.
func cleanName(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("entry %q: absolute path", name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("entry %q: path escapes the root", name)
		}
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("entry %q: NUL in name", name)
	}
	p := path.Clean(name)
	if p == "." {
		return "", nil
	}
	return p, nil
}
