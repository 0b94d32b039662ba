package userns

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// The --userns modes of run, create and build, as podman spells them.
const (
	ModeHost   = "host"    // the engine's own namespace: the host's for root, berth's for a user
	ModeKeepID = "keep-id" // the user's own uid and gid inside, their files stay theirs
	ModeNoMap  = "nomap"   // only subordinate ids: the user's uid is not mapped at all
	ModeAuto   = "auto"    // a range of its own, apart from every other auto container
)

// DefaultAutoSize is how many ids --userns=auto gives a container unless size= says.
const DefaultAutoSize = 1024

// Mode is a parsed --userns value.
type Mode struct {
	Kind     string // "" (the default, as host), ModeHost, ModeKeepID, ModeNoMap, ModeAuto
	UID, GID int    // keep-id: the ids the user has inside (-1: the user's own)
	Size     int    // auto: how many ids
}

// ParseMode parses --userns: host, keep-id[:uid=U,gid=G], nomap, auto[:size=N].
func ParseMode(s string) (Mode, error) {
	kind, opts, _ := strings.Cut(s, ":")
	m := Mode{Kind: kind, UID: -1, GID: -1}
	bad := func(why string) (Mode, error) {
		return m, errdefs.Newf(errdefs.ErrInvalid, "invalid --userns %q: %s", s, why)
	}
	switch kind {
	case "", ModeHost, ModeNoMap:
		if opts != "" {
			return bad("takes no options")
		}
	case ModeKeepID, ModeAuto:
		if kind == ModeAuto {
			m.Size = DefaultAutoSize
		}
		if opts == "" {
			break
		}
		for _, o := range strings.Split(opts, ",") {
			k, v, _ := strings.Cut(o, "=")
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return bad(fmt.Sprintf("option %q wants a number", o))
			}
			switch {
			case kind == ModeKeepID && k == "uid":
				m.UID = n
			case kind == ModeKeepID && k == "gid":
				m.GID = n
			case kind == ModeAuto && k == "size" && n > 0:
				m.Size = n
			default:
				return bad(fmt.Sprintf("unknown option %q", o))
			}
		}
	default:
		return bad("want host, keep-id, nomap or auto")
	}
	return m, nil
}

// ParseIDMap parses one --uidmap or --gidmap CONTAINER:HOST:SIZE.
func ParseIDMap(s string) (IDMap, error) {
	f := strings.Split(s, ":")
	var n [3]int
	if len(f) == 3 {
		for i, v := range f {
			x, err := strconv.Atoi(v)
			if err != nil || x < 0 {
				return IDMap{}, errdefs.Newf(errdefs.ErrInvalid, "invalid id map %q: want CONTAINER:HOST:SIZE", s)
			}
			n[i] = x
		}
	}
	if len(f) != 3 || n[2] == 0 {
		return IDMap{}, errdefs.Newf(errdefs.ErrInvalid, "invalid id map %q: want CONTAINER:HOST:SIZE", s)
	}
	return IDMap{Container: n[0], Host: n[1], Size: n[2]}, nil
}

// CheckMaps refuses maps whose container or host ranges overlap.
func CheckMaps(maps []IDMap) error {
	for i, a := range maps {
		for _, b := range maps[i+1:] {
			if a.Container < b.Container+b.Size && b.Container < a.Container+a.Size {
				return errdefs.Newf(errdefs.ErrInvalid, "id maps %d:%d:%d and %d:%d:%d overlap inside the container", a.Container, a.Host, a.Size, b.Container, b.Host, b.Size)
			}
			if a.Host < b.Host+b.Size && b.Host < a.Host+a.Size {
				return errdefs.Newf(errdefs.ErrInvalid, "id maps %d:%d:%d and %d:%d:%d overlap on the host", a.Container, a.Host, a.Size, b.Container, b.Host, b.Size)
			}
		}
	}
	return nil
}

// KeepIDMaps maps id to 0 of a parent namespace of n ids whose 0 is the user (berth's
// rootless namespace), and the others around it in order: 0..id-1 to 1..id, and the rest
// above id to themselves.
func KeepIDMaps(id, n int) []IDMap {
	out := []IDMap{}
	if id > 0 {
		out = append(out, IDMap{Container: 0, Host: 1, Size: min(id, n-1)})
	}
	out = append(out, IDMap{Container: id, Host: 0, Size: 1})
	if rest := n - id - 1; rest > 0 {
		out = append(out, IDMap{Container: id + 1, Host: id + 1, Size: rest})
	}
	return out
}

// NoMapMaps maps a namespace of n ids whose 0 is the user without the user: container ids
// 0..n-2 to the parent's 1..n-1.
func NoMapMaps(n int) []IDMap {
	if n < 2 {
		return nil
	}
	return []IDMap{{Container: 0, Host: 1, Size: n - 1}}
}

// AutoRange picks the first size ids of avail that none of used takes (host sides of other
// auto containers' maps), and returns the map of container 0..size-1 onto them.
func AutoRange(size int, avail Range, used []IDMap) (IDMap, error) {
	sort.Slice(used, func(i, j int) bool { return used[i].Host < used[j].Host })
	start := avail.Start
	for _, u := range used {
		if u.Host+u.Size <= start {
			continue
		}
		if u.Host >= start+size {
			break
		}
		start = u.Host + u.Size
	}
	if start+size > avail.Start+avail.Count {
		return IDMap{}, errdefs.Newf(errdefs.ErrInvalid, "--userns=auto: no free range of %d ids left among %d subordinate ids (add ranges to /etc/subuid and /etc/subgid, or remove auto containers)", size, avail.Count)
	}
	return IDMap{Container: 0, Host: start, Size: size}, nil
}

// IDMap maps Size ids from Container inside a user namespace to Host outside.
type IDMap struct{ Container, Host, Size int }

// Range is one subordinate id range.
type Range struct{ Start, Count int }
