package container

import (
	"regexp"
	"sort"
	"strings"

	"github.com/berth-project/berth/cmd/berth/cli"
	"github.com/berth-project/berth/internal/engine"
)

// sortContainers orders cs for ps --sort: newest first for created (and runningfor, size, which
// Podman sorts the same way here), else ascending by the field.
func sortContainers(cs []*engine.Container, by string) error {
	var key func(c *engine.Container) string
	switch by {
	case "created", "runningfor", "size", "":
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].Created.After(cs[j].Created) })
		return nil
	case "id":
		key = func(c *engine.Container) string { return c.ID }
	case "image":
		key = func(c *engine.Container) string { return c.Options.Image }
	case "names":
		key = func(c *engine.Container) string { return c.Name }
	case "status":
		key = func(c *engine.Container) string { return c.State }
	case "command":
		key = func(c *engine.Container) string { return strings.Join(c.Options.Cmd, " ") }
	default:
		return cli.Invalid("invalid --sort %q: want command, created, id, image, names, runningfor, size or status", by)
	}
	sort.SliceStable(cs, func(i, j int) bool { return key(cs[i]) < key(cs[j]) })
	return nil
}

// nameMatches is the name filter as Docker and Podman apply it: a regular expression found
// in the name (a substring, when the value is not a valid expression).
func nameMatches(name, pattern string) bool {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return strings.Contains(name, pattern)
	}
	return re.MatchString(name)
}
