package cgroups

import (
	"path"
	"strings"
)

// Root is where hosts mount their cgroup hierarchies, and where a container sees its own.
const Root = "/sys/fs/cgroup"

// Hierarchy is one cgroup hierarchy mounted directly under /sys/fs/cgroup, as
// /proc/self/mountinfo shows it.
type Hierarchy struct {
	Mountpoint string   // /sys/fs/cgroup/memory, /sys/fs/cgroup/unified, /sys/fs/cgroup
	Root       string   // the directory of the hierarchy mounted there, "/" for a host's own mounts
	Options    []string // the superblock options: the controllers ("cpu", "cpuacct") or "name=systemd"
	V2         bool     // cgroup2
}

// ParseMountinfo lists the cgroup hierarchies mounted at root or directly under it.
func ParseMountinfo(data, root string) []Hierarchy {
	var out []Hierarchy
	for _, line := range strings.Split(data, "\n") {
		// 35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:15 - cgroup cgroup rw,memory
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || (g[0] != "cgroup" && g[0] != "cgroup2") {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp != root && path.Dir(mp) != root {
			continue
		}
		out = append(out, Hierarchy{Mountpoint: mp, Root: unescapeMountinfo(f[3]), Options: strings.Split(g[2], ","), V2: g[0] == "cgroup2"})
	}
	return out
}

// unescapeMountinfo undoes mountinfo's octal escapes of space, tab, newline and backslash.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, ok := octal(s[i+1 : i+4]); ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal(s string) (byte, bool) {
	if len(s) != 3 {
		return 0, false
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int(c-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}

// ProcCgroup is one line of /proc/PID/cgroup: the hierarchy's controllers ("" for cgroup2)
// and the process's cgroup in it.
type ProcCgroup struct {
	Controllers []string
	Path        string
}

// ParseProcCgroup reads /proc/PID/cgroup.
func ParseProcCgroup(data string) []ProcCgroup {
	var out []ProcCgroup
	for _, line := range strings.Split(data, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		var ctrls []string
		if f[1] != "" {
			ctrls = strings.Split(f[1], ",")
		}
		out = append(out, ProcCgroup{Controllers: ctrls, Path: f[2]})
	}
	return out
}

// View is what a container sees at /sys/fs/cgroup/Name: the host directory Source, its own
// cgroup in one hierarchy.
type View struct {
	Name   string // the hierarchy's directory under /sys/fs/cgroup ("" for a v2 host's single hierarchy)
	Source string
}

// Views pairs each hierarchy with the process's cgroup in it. A hierarchy where the process's
// cgroup lies outside the mounted root (the host is itself confined) is left out: nothing of
// it can be shown.
func Views(hs []Hierarchy, own []ProcCgroup) []View {
	var out []View
	for _, h := range hs {
		for _, c := range own {
			if !h.matches(c) {
				continue
			}
			rel, ok := within(h.Root, c.Path)
			if !ok {
				break
			}
			name := path.Base(h.Mountpoint)
			if h.Mountpoint == Root {
				name = ""
			}
			out = append(out, View{Name: name, Source: path.Join(h.Mountpoint, rel)})
			break
		}
	}
	return out
}

// matches says whether the /proc/PID/cgroup line c belongs to hierarchy h.
func (h Hierarchy) matches(c ProcCgroup) bool {
	if h.V2 || len(c.Controllers) == 0 {
		return h.V2 && len(c.Controllers) == 0
	}
	for _, ctrl := range c.Controllers {
		found := false
		for _, o := range h.Options {
			if o == ctrl {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// within returns p relative to root when p lies inside it.
func within(root, p string) (string, bool) {
	root, p = path.Clean("/"+root), path.Clean("/"+p)
	if root == "/" {
		return p, true
	}
	if p == root {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, root+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}
