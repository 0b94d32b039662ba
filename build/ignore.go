package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// loadIgnore reads contextDir/.dockerignore (or Podman's .containerignore when there is no
// .dockerignore); nil when there is none.
func loadIgnore(contextDir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(contextDir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.Open(filepath.Join(contextDir, ".containerignore"))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, invalidf(".dockerignore: %v", err)
	}
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, invalidf(".dockerignore: %v", err)
	}
	return pm, nil
}

// srcRoot is a tree COPY reads from: the context (filtered by .dockerignore) or the root
// of an image mounted by the backend (unfiltered, ownership kept).
type srcRoot struct {
	dir       string
	ignore    *patternmatcher.PatternMatcher
	keepOwner bool
}

// ignored reports whether rel, a slash path relative to the root, is excluded.
func (r *srcRoot) ignored(rel string) bool {
	if r.ignore == nil || rel == "." || rel == "" {
		return false
	}
	m, err := r.ignore.MatchesOrParentMatches(filepath.FromSlash(rel))
	return err == nil && m
}

// walkIn reports whether a walk must enter an excluded directory because a "!" pattern
// may bring back something inside it.
func (r *srcRoot) walkIn() bool {
	return r.ignore != nil && r.ignore.Exclusions()
}
