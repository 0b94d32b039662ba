package systemd

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Quadlet file kinds, by extension, and the service each becomes.
var quadletKinds = map[string]string{
	".container": "", ".volume": "-volume", ".network": "-network", ".image": "-image", ".kube": "", ".pod": "-pod",
}

// Diagnostic is one problem in a Quadlet file: its file, line and key, and whether it stops
// the unit from being generated (a missing Image=, a key whose bad value would make the
// container run less confined or without what it needs).
type Diagnostic struct {
	Path  string
	Line  int
	Key   string
	Msg   string
	Fatal bool
}

func (d Diagnostic) Error() string {
	loc := d.Path
	if d.Line > 0 {
		loc += ":" + strconv.Itoa(d.Line)
	}
	if d.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, d.Key, d.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, d.Msg)
}

// QuadletOptions are what the translation needs beside the files.
type QuadletOptions struct {
	// Dirs are the search directories, highest priority first (QuadletDirs).
	Dirs []string
	// Executable is berth's path in the units, GlobalArgs its global flags (--root, --runroot).
	Executable string
	GlobalArgs []string
	User       bool // units for the user's service manager
}

// QuadletUnit is one generated service: its name, text, the Quadlet file it came from and the
// targets its [Install] section asks to be wanted or required by.
type QuadletUnit struct {
	Name, Text, Source string
	// LinkAs is the name the .wants/.requires links use: a template's DefaultInstance.
	LinkAs     string
	WantedBy   []string
	RequiredBy []string
	Alias      []string
}

// QuadletDirs are the directories searched for Quadlet files, highest priority first:
// $QUADLET_UNIT_DIRS (colon-separated) when set, else podman's standard paths for the system or
// for a user (uid, home and $XDG_CONFIG_HOME given).
func QuadletDirs(user bool, uid int, home string, getenv func(string) string) []string {
	if v := getenv("QUADLET_UNIT_DIRS"); v != "" {
		var out []string
		for _, d := range strings.Split(v, ":") {
			if d != "" {
				out = append(out, d)
			}
		}
		return out
	}
	if !user {
		return []string{"/run/containers/systemd", "/etc/containers/systemd", "/usr/share/containers/systemd"}
	}
	cfg := getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		cfg = filepath.Join(home, ".config")
	}
	return []string{filepath.Join(cfg, "containers", "systemd"),
		filepath.Join("/etc/containers/systemd/users", strconv.Itoa(uid)), "/etc/containers/systemd/users"}
}

// quadletFile is one Quadlet file found, with its drop-ins merged.
type quadletFile struct {
	name, kind, path string // web.container, .container, /etc/containers/systemd/web.container
	unit             *Unit
}

// base is the file name without its extension: web for web.container.
func (f *quadletFile) base() string { return strings.TrimSuffix(f.name, f.kind) }

// serviceName is the unit the file becomes: web.service, data-volume.service.
func (f *quadletFile) serviceName() string {
	b := f.base()
	suffix := quadletKinds[f.kind]
	if strings.HasSuffix(b, "@") { // a template: web@.container -> web@.service
		return strings.TrimSuffix(b, "@") + suffix + "@.service"
	}
	if i := strings.Index(b, "@"); i >= 0 { // an instance: web@a.container -> web@a.service
		return b[:i] + suffix + b[i:] + ".service"
	}
	return b + suffix + ".service"
}

// findQuadletFiles lists the Quadlet files of dirs (and their subdirectories), a name found
// in a higher-priority directory hiding the same name in the others.
func findQuadletFiles(dirs []string) (map[string]string, []Diagnostic) {
	found := map[string]string{}
	var diags []Diagnostic
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == dir && os.IsNotExist(err) {
					return filepath.SkipDir
				}
				diags = append(diags, Diagnostic{Path: p, Msg: fmt.Sprintf("cannot read: %v", err)})
				return nil
			}
			if d.IsDir() {
				if strings.HasSuffix(d.Name(), ".d") && p != dir {
					return filepath.SkipDir // drop-ins, read with their unit
				}
				return nil
			}
			if _, ok := quadletKinds[filepath.Ext(d.Name())]; !ok {
				return nil
			}
			if _, seen := found[d.Name()]; !seen {
				found[d.Name()] = p
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			diags = append(diags, Diagnostic{Path: dir, Msg: fmt.Sprintf("cannot read: %v", err)})
		}
	}
	return found, diags
}

// dropIns returns the drop-in files for a unit name, in the order systemd applies them: by
// file name, a name in a higher-priority directory hiding the same name in lower ones. The
// unit's own NAME.d comes after its template's (web@.container.d for web@a.container).
func dropIns(dirs []string, name, kind string) []string {
	var subdirs []string
	b := strings.TrimSuffix(name, kind)
	if i := strings.Index(b, "@"); i >= 0 && i < len(b)-1 {
		subdirs = append(subdirs, b[:i+1]+kind+".d")
	}
	subdirs = append(subdirs, name+".d")
	var out []string
	for _, sub := range subdirs {
		byName := map[string]string{}
		for i := len(dirs) - 1; i >= 0; i-- { // lower priority first, overwritten by higher
			entries, _ := os.ReadDir(filepath.Join(dirs[i], sub))
			for _, e := range entries {
				if !e.IsDir() && strings.HasSuffix(e.Name(), ".conf") {
					byName[e.Name()] = filepath.Join(dirs[i], sub, e.Name())
				}
			}
		}
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, byName[n])
		}
	}
	return out
}

func parseUnitFile(path string) (*Unit, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseUnit(path, f)
}

// loadQuadlet reads a Quadlet file with its drop-ins. An instance file (web@a.container) starts
// from its template (web@.container) when there is one.
func loadQuadlet(dirs []string, found map[string]string, name string) (*quadletFile, error) {
	kind := filepath.Ext(name)
	qf := &quadletFile{name: name, kind: kind, path: found[name]}
	u := &Unit{Path: qf.path}
	b := strings.TrimSuffix(name, kind)
	if i := strings.Index(b, "@"); i >= 0 && i < len(b)-1 {
		if tpl, ok := found[b[:i+1]+kind]; ok {
			t, err := parseUnitFile(tpl)
			if err != nil {
				return nil, err
			}
			u.Merge(t)
		}
	}
	own, err := parseUnitFile(qf.path)
	if err != nil {
		return nil, err
	}
	u.Merge(own)
	for _, d := range dropIns(dirs, name, kind) {
		du, err := parseUnitFile(d)
		if err != nil {
			return nil, err
		}
		u.Merge(du)
	}
	qf.unit = u
	return qf, nil
}

// GenerateQuadlet translates every Quadlet file of o.Dirs into units. Diagnostics name each
// problem; a unit with a fatal one is left out, the others are generated all the same.
func GenerateQuadlet(o QuadletOptions) ([]QuadletUnit, []Diagnostic) {
	if o.Executable == "" {
		o.Executable = "/usr/local/bin/berth"
	}
	found, diags := findQuadletFiles(o.Dirs)
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	files := map[string]*quadletFile{}
	for _, n := range names {
		qf, err := loadQuadlet(o.Dirs, found, n)
		if err != nil {
			var pe *ParseError
			if ok := asParseError(err, &pe); ok {
				diags = append(diags, Diagnostic{Path: pe.Path, Line: pe.Line, Msg: pe.Msg, Fatal: true})
			} else {
				diags = append(diags, Diagnostic{Path: found[n], Msg: err.Error(), Fatal: true})
			}
			continue
		}
		files[n] = qf
	}
	t := &translator{o: o, files: files}
	var units []QuadletUnit
	for _, n := range names {
		qf := files[n]
		if qf == nil {
			continue
		}
		u, ds := t.translate(qf)
		diags = append(diags, ds...)
		if u != nil && !hasFatal(ds) {
			units = append(units, *u)
		}
	}
	return units, diags
}

func asParseError(err error, pe **ParseError) bool {
	p, ok := err.(*ParseError)
	if ok {
		*pe = p
	}
	return ok
}

func hasFatal(ds []Diagnostic) bool {
	for _, d := range ds {
		if d.Fatal {
			return true
		}
	}
	return false
}

// WriteQuadletUnits writes the units into dir, as a generator does, with the .wants/.requires
// links and aliases their [Install] sections ask for (a generator cannot be enabled).
func WriteQuadletUnits(dir string, units []QuadletUnit) error {
	for _, u := range units {
		if err := os.WriteFile(filepath.Join(dir, u.Name), []byte(u.Text), 0o644); err != nil {
			return fmt.Errorf("write unit %s: %w", u.Name, err)
		}
		as := u.Name
		if u.LinkAs != "" {
			as = u.LinkAs
		}
		link := func(sub, name string) error {
			d := filepath.Join(dir, sub)
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", d, err)
			}
			p := filepath.Join(d, name)
			_ = os.Remove(p)
			if err := os.Symlink(filepath.Join("..", u.Name), p); err != nil {
				return fmt.Errorf("link %s: %w", p, err)
			}
			return nil
		}
		for _, t := range u.WantedBy {
			if err := link(t+".wants", as); err != nil {
				return err
			}
		}
		for _, t := range u.RequiredBy {
			if err := link(t+".requires", as); err != nil {
				return err
			}
		}
		for _, a := range u.Alias {
			p := filepath.Join(dir, a)
			_ = os.Remove(p)
			if err := os.Symlink(u.Name, p); err != nil {
				return fmt.Errorf("link alias %s: %w", p, err)
			}
		}
	}
	return nil
}
