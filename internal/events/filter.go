package events

import (
	"sort"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// Filter selects events as `docker events --filter` does: values of one key OR, keys AND
// (label values AND, as Docker's do). A nil Filter passes every event.
type Filter map[string][]string

// filterKeys are the keys Docker and podman accept, and health_status, berth's shorthand
// for `event=health_status: VALUE`.
var filterKeys = map[string]bool{"container": true, "image": true, "volume": true, "network": true, "pod": true,
	"type": true, "event": true, "label": true, "scope": true, "health_status": true}

// ParseFilter reads --filter arguments, each KEY=VALUE.
func ParseFilter(args []string) (Filter, error) {
	f := Filter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "bad format of filter %q (expected name=value)", a)
		}
		if !filterKeys[k] {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid filter '%s'", k)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// NewFilter checks the keys of m, the Engine API's filters parameter ({"type":["container"]}),
// and returns it as a Filter.
func NewFilter(m map[string][]string) (Filter, error) {
	f := Filter{}
	for k, vs := range m {
		if !filterKeys[k] {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "invalid filter '%s'", k)
		}
		f[k] = append([]string(nil), vs...)
	}
	return f, nil
}

// String renders f as KEY=VALUE arguments, sorted.
func (f Filter) String() string {
	var out []string
	for k, vs := range f {
		for _, v := range vs {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// Match says whether ev passes f.
func (f Filter) Match(ev *Event) bool {
	if len(f) == 0 {
		return true
	}
	attrs := ev.Actor.Attributes
	return f.exact("type", string(ev.Type)) &&
		f.exact("scope", ev.Scope) &&
		f.matchEvent(ev.Action) &&
		f.matchHealth(ev) &&
		f.fuzzyName("container", ev) &&
		f.fuzzyName("volume", ev) &&
		f.fuzzyName("network", ev) &&
		f.matchPod(ev) &&
		f.matchImage(ev) &&
		f.matchLabels(attrs)
}

// exact passes when key is unset or one of its values is s.
func (f Filter) exact(key, s string) bool {
	vs, ok := f[key]
	if !ok {
		return true
	}
	for _, v := range vs {
		if v == s {
			return true
		}
	}
	return false
}

// fuzzy passes when key is unset or s equals or starts with one of its values (Docker's
// FuzzyMatch: an ID prefix, or a name's).
func (f Filter) fuzzy(key string, ss ...string) bool {
	vs, ok := f[key]
	if !ok {
		return true
	}
	for _, v := range vs {
		for _, s := range ss {
			if s != "" && strings.HasPrefix(s, v) {
				return true
			}
		}
	}
	return false
}

// matchEvent matches actions exactly, except that health_status, exec_create and exec_start
// also match their suffixed forms ("health_status: healthy", "exec_start: sh -c ..."), as
// Docker does (moby#25798).
func (f Filter) matchEvent(action string) bool {
	vs, ok := f["event"]
	if !ok {
		return true
	}
	for _, v := range vs {
		if v == action {
			return true
		}
		switch v {
		case "health_status", "exec_create", "exec_start":
			if strings.HasPrefix(action, v+":") {
				return true
			}
		}
	}
	return false
}

// matchHealth passes health_status events with the given status.
func (f Filter) matchHealth(ev *Event) bool {
	vs, ok := f["health_status"]
	if !ok {
		return true
	}
	for _, v := range vs {
		if ev.Type == Container && ev.Action == "health_status: "+v {
			return true
		}
	}
	return false
}

// fuzzyName matches the object's ID or name, whatever the event's type (Docker's rule).
func (f Filter) fuzzyName(key string, ev *Event) bool {
	return f.fuzzy(key, ev.Actor.ID, ev.Actor.Attributes["name"])
}

// matchPod matches a pod's own events by ID or name, and other events (its containers') by
// their "pod" attribute.
func (f Filter) matchPod(ev *Event) bool {
	if ev.Type == Pod {
		return f.fuzzyName("pod", ev)
	}
	return f.fuzzy("pod", ev.Actor.Attributes["pod"])
}

// matchImage matches an image event's ID or name, and a container event's image, with and
// without the tag (Docker's matchImage).
func (f Filter) matchImage(ev *Event) bool {
	if _, ok := f["image"]; !ok {
		return true
	}
	name := ev.Actor.Attributes["image"]
	if ev.Type == Image {
		name = ev.Actor.Attributes["name"]
	}
	id := ev.Actor.ID
	for _, s := range []string{id, name, stripTag(id), stripTag(name)} {
		if s != "" && !f.exact("image", s) {
			continue
		}
		if s != "" {
			return true
		}
	}
	return false
}

// stripTag drops a reference's tag or digest: "busybox:1.36" -> "busybox".
func stripTag(ref string) string {
	if strings.HasPrefix(ref, "sha256:") {
		return ref
	}
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}

// matchLabels passes when every label filter holds: KEY present, or KEY=VALUE equal.
func (f Filter) matchLabels(attrs map[string]string) bool {
	for _, want := range f["label"] {
		k, v, hasValue := strings.Cut(want, "=")
		got, ok := attrs[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}
