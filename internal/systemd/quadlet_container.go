package systemd

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// translator turns loaded Quadlet files into units; files lets one file refer to another
// (Volume=data.volume, Pod=web.pod, Image=base.image).
type translator struct {
	o     QuadletOptions
	files map[string]*quadletFile
}

// diags collects one file's diagnostics.
type diags struct {
	path string
	list []Diagnostic
}

func (d *diags) add(e Entry, fatal bool, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Path: d.path, Line: e.Line, Key: e.Key, Msg: fmt.Sprintf(format, args...), Fatal: fatal})
}

// A quadletKey maps one key of a Quadlet file's own section to berth arguments.
type quadletKey struct {
	flag string
	// words splits the value into words, one flag per word (Environment=A=1 B=2).
	words bool
	// check validates one value (or word); nil accepts anything.
	check func(string) error
	// unsafe: a bad value stops the unit, since running without it would confine the
	// container less than the file asks (or start it without what it needs).
	unsafe bool
	// boolean keys add flag for true and nothing for false.
	boolean bool
	// path: a file path relative to the Quadlet file's directory.
	path bool
}

// args translates the value of e into flags; a bad value is reported (fatally when unsafe) and
// adds none. An empty value adds none.
func (k quadletKey) args(qf *quadletFile, d *diags, e Entry) []string {
	if e.Value == "" {
		return nil
	}
	if k.boolean {
		v, ok := parseBool(e.Value)
		if !ok {
			d.add(e, k.unsafe, "%q is not a boolean (true or false)", e.Value)
		} else if v {
			return []string{k.flag}
		}
		return nil
	}
	vals := []string{e.Value}
	if k.words {
		vals = d.words(e)
	}
	var args []string
	for _, v := range vals {
		if k.check != nil {
			if err := k.check(v); err != nil {
				d.add(e, k.unsafe, "%v", err)
				continue
			}
		}
		if k.path && !filepath.IsAbs(v) {
			v = filepath.Join(filepath.Dir(qf.path), v)
		}
		args = append(args, k.flag, v)
	}
	return args
}

var (
	capName  = regexp.MustCompile(`^(?i)(all|(cap_)?[a-z_]+)$`)
	portSpec = regexp.MustCompile(`^(\[?[0-9a-fA-F.:]*\]?:)?([0-9]+(-[0-9]+)?)?:?[0-9]+(-[0-9]+)?(/(tcp|udp|sctp))?$`)
)

func checkInt(s string) error {
	if _, err := strconv.ParseInt(s, 10, 64); err != nil {
		return fmt.Errorf("%q is not an integer", s)
	}
	return nil
}

func checkDuration(s string) error {
	if _, err := time.ParseDuration(s); err != nil {
		return fmt.Errorf("%q is not a duration (like 30s or 1m30s)", s)
	}
	return nil
}

func checkKV(s string) error {
	if k, _, ok := strings.Cut(s, "="); !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", s)
	}
	return nil
}

func checkCap(s string) error {
	if !capName.MatchString(s) {
		return fmt.Errorf("%q is not a capability name", s)
	}
	return nil
}

func checkPort(s string) error {
	if !portSpec.MatchString(s) {
		return fmt.Errorf("%q is not [[IP:][HOSTPORT]:]CONTAINERPORT[/PROTOCOL]", s)
	}
	return nil
}

// containerKeys are the [Container] keys translated one to one. Image, Exec, ContainerName,
// User, Group, Notify, AutoUpdate, Volume, Network, Pod, Secret, PodmanArgs and GlobalArgs
// are handled by translateContainer itself.
var containerKeys = map[string]quadletKey{
	"Environment":       {flag: "--env", words: true, check: checkKV},
	"EnvironmentFile":   {flag: "--env-file"},
	"PublishPort":       {flag: "--publish", check: checkPort},
	"Label":             {flag: "--label", words: true, check: checkKV},
	"WorkingDir":        {flag: "--workdir"},
	"HostName":          {flag: "--hostname"},
	"DropCapability":    {flag: "--cap-drop", words: true, check: checkCap, unsafe: true},
	"AddCapability":     {flag: "--cap-add", words: true, check: checkCap},
	"NoNewPrivileges":   {flag: "--security-opt=no-new-privileges", boolean: true, unsafe: true},
	"ReadOnly":          {flag: "--read-only", boolean: true, unsafe: true},
	"RunInit":           {flag: "--init", boolean: true},
	"HealthCmd":         {flag: "--health-cmd"},
	"HealthInterval":    {flag: "--health-interval", check: checkDuration},
	"HealthTimeout":     {flag: "--health-timeout", check: checkDuration},
	"HealthStartPeriod": {flag: "--health-start-period", check: checkDuration},
	"HealthRetries":     {flag: "--health-retries", check: checkInt},
	"Tmpfs":             {flag: "--tmpfs"},
	"Mount":             {flag: "--mount"},
	"DNS":               {flag: "--dns", words: true},
	"DNSSearch":         {flag: "--dns-search", words: true},
	"DNSOption":         {flag: "--dns-option", words: true},
	"AddHost":           {flag: "--add-host", words: true},
	"IP":                {flag: "--ip"},
	"StopTimeout":       {flag: "--stop-timeout", check: checkInt},
	"LogDriver":         {flag: "--log-driver"},
	"PidsLimit":         {flag: "--pids-limit", check: checkInt},
	"Ulimit":            {flag: "--ulimit", words: true},
	"AddDevice":         {flag: "--device"},
	"Timezone":          {flag: "--tz"},
	"Memory":            {flag: "--memory"},
	"Entrypoint":        {flag: "--entrypoint"},
}

// notSupported are Quadlet keys berth knows but cannot honour, with why.
var notSupported = map[string]string{
	"Secret":                "berth has no secret store: the container would start without the secret",
	"HealthOnFailure":       "berth's health checks have no on-failure action",
	"HealthStartupCmd":      "berth has no startup health checks",
	"HealthStartupInterval": "berth has no startup health checks",
	"HealthStartupRetries":  "berth has no startup health checks",
	"HealthStartupSuccess":  "berth has no startup health checks",
	"HealthStartupTimeout":  "berth has no startup health checks",
	"HealthLogDestination":  "berth keeps the last 5 health check results in the container's state",
	"HealthMaxLogCount":     "berth keeps the last 5 health check results in the container's state",
	"HealthMaxLogSize":      "berth keeps the last 5 health check results in the container's state",
	"ContainersConfModule":  "berth reads no containers.conf modules",
	"Rootfs":                "berth runs containers from images only",
}

// quoteArg quotes a word for ExecStart= when it has spaces or quotes, leaving $ and %
// alone: in a Quadlet file they are systemd's, as the user wrote them.
func quoteArg(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\n\"'\\") {
		return w
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(w) + `"`
}

func quoteArgs(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = quoteArg(w)
	}
	return strings.Join(q, " ")
}

// parseBool reads a systemd boolean.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "yes", "true", "on":
		return true, true
	case "0", "no", "false", "off":
		return false, true
	}
	return false, false
}

// words splits a value with systemd's rules, reporting a bad one.
func (d *diags) words(e Entry) []string {
	w, err := SplitWords(e.Value)
	if err != nil {
		d.add(e, true, "%v", err)
	}
	return w
}

// requireRef is value, or when it names another Quadlet file of kind (data.volume) the name ref
// finds, with unit made to require that file's service and start after it; false when the
// file is not there (reported).
func (t *translator) requireRef(d *diags, e Entry, unit *Section, value, kind, nameKey string) (string, bool) {
	if !strings.HasSuffix(value, kind) {
		return value, true
	}
	ref, svc, ok := t.ref(d, e, value, kind, nameKey)
	if !ok {
		return "", false
	}
	unit.Add("Requires", svc)
	unit.Add("After", svc)
	return ref, true
}

// ref resolves a reference to another Quadlet file (data.volume): the name berth knows it by
// (its VolumeName=, NetworkName=, PodName= or Image=, else systemd-BASE) and its service.
func (t *translator) ref(d *diags, e Entry, value, kind, nameKey string) (name, service string, ok bool) {
	qf := t.files[value]
	if qf == nil {
		d.add(e, true, "%s is not a Quadlet file in the search path", value)
		return "", "", false
	}
	sec := qf.unit.Lookup(strings.ToUpper(kind[1:2]) + kind[2:])
	if v, ok := sec.Last(nameKey); ok && v.Value != "" {
		return v.Value, qf.serviceName(), true
	}
	if kind == ".image" {
		d.add(e, true, "%s has no Image=", value)
		return "", "", false
	}
	return "systemd-" + qf.base(), qf.serviceName(), true
}

// newServiceUnit starts a generated unit: the file's [Unit] with SourcePath, and a [Service]
// holding BERTH_SYSTEMD_UNIT; finish adds the file's [Service] and [Install] after ours.
func (t *translator) newServiceUnit(qf *quadletFile) *Unit {
	out := &Unit{Path: qf.serviceName()}
	unit := out.Section("Unit")
	if s := qf.unit.Lookup("Unit"); s != nil {
		unit.Entries = append(unit.Entries, s.Entries...)
	}
	unit.Add("SourcePath", qf.path)
	out.Section("Service").Add("Environment", UnitEnv+"=%n")
	return out
}

// exe is the start of every berth command line in the units.
func (t *translator) exe(extra ...string) string {
	return quoteArgs(append(append([]string{t.o.Executable}, t.o.GlobalArgs...), extra...))
}

// finish appends the file's own [Service] (after ours, so that its keys win) and [Install],
// and records what [Install] asks for.
func (t *translator) finish(qf *quadletFile, out *Unit, d *diags) *QuadletUnit {
	svc := out.Section("Service")
	if s := qf.unit.Lookup("Service"); s != nil {
		svc.Entries = append(svc.Entries, s.Entries...)
	}
	qu := &QuadletUnit{Name: qf.serviceName(), Source: qf.path}
	if s := qf.unit.Lookup("Install"); s != nil {
		out.Section("Install").Entries = append(out.Section("Install").Entries, s.Entries...)
		instance := qu.Name
		if strings.HasSuffix(qu.Name, "@.service") {
			instance = ""
			if di, ok := s.Last("DefaultInstance"); ok && di.Value != "" {
				instance = strings.TrimSuffix(qu.Name, ".service") + di.Value + ".service"
			}
		}
		for _, key := range []string{"WantedBy", "RequiredBy", "Alias"} {
			for _, e := range s.All(key) {
				for _, w := range d.words(e) {
					switch {
					case instance == "":
						d.add(e, false, "a template without DefaultInstance= is not installed")
					case key == "WantedBy":
						qu.WantedBy = append(qu.WantedBy, w)
					case key == "RequiredBy":
						qu.RequiredBy = append(qu.RequiredBy, w)
					default:
						qu.Alias = append(qu.Alias, w)
					}
				}
			}
		}
		if instance != qu.Name {
			qu.LinkAs = instance // links to a template name its default instance
		}
	}
	return qu
}

// render sets the unit's text.
func (qu *QuadletUnit) render(out *Unit) {
	qu.Text = "# Generated by berth quadlet from " + qu.Source + "\n" + out.String()
}

// checkSections reports sections a file of this kind does not have.
func checkSections(qf *quadletFile, d *diags, own string) {
	for _, s := range qf.unit.Sections {
		switch {
		case s.Name == "Unit" || s.Name == "Service" || s.Name == "Install" || s.Name == own:
		case strings.HasPrefix(s.Name, "X-"):
		default:
			line := 0
			if len(s.Entries) > 0 {
				line = s.Entries[0].Line
			}
			d.list = append(d.list, Diagnostic{Path: qf.path, Line: line, Msg: fmt.Sprintf("unknown section [%s] in a %s file", s.Name, qf.kind)})
		}
	}
}

func (t *translator) translate(qf *quadletFile) (*QuadletUnit, []Diagnostic) {
	d := &diags{path: qf.path}
	var u *QuadletUnit
	switch qf.kind {
	case ".container":
		u = t.translateContainer(qf, d)
	case ".volume":
		u = t.translateVolume(qf, d)
	case ".network":
		u = t.translateNetwork(qf, d)
	case ".image":
		u = t.translateImage(qf, d)
	case ".kube":
		u = t.translateKube(qf, d)
	case ".pod":
		u = t.translatePod(qf, d)
	}
	return u, d.list
}

func (t *translator) translateContainer(qf *quadletFile, d *diags) *QuadletUnit {
	checkSections(qf, d, "Container")
	sec := qf.unit.Lookup("Container")
	if sec == nil {
		d.list = append(d.list, Diagnostic{Path: qf.path, Msg: "no [Container] section", Fatal: true})
		return nil
	}
	out := t.newServiceUnit(qf)
	unit := out.Section("Unit")
	var args, globals, podmanArgs, exec []string
	var image, name, user, group string
	name = "systemd-%N"
	if strings.Contains(qf.serviceName(), "@") {
		name = "systemd-%p_%i" // container names have no @
	}
	notify := "conmon"
	for _, e := range sec.Entries {
		if k, ok := containerKeys[e.Key]; ok {
			args = append(args, k.args(qf, d, e)...)
			continue
		}
		if why, ok := notSupported[e.Key]; ok {
			d.add(e, e.Key == "Secret", "not supported: %s", why)
			continue
		}
		switch e.Key {
		case "Image":
			image = e.Value
			if ref, ok := t.requireRef(d, e, unit, image, ".image", "Image"); ok {
				image = ref
			}
		case "Exec":
			exec = d.words(e)
		case "ContainerName":
			name = e.Value
		case "User":
			user = e.Value
		case "Group":
			group = e.Value
		case "Notify":
			switch strings.ToLower(e.Value) {
			case "healthy":
				notify = "healthy"
			default:
				v, ok := parseBool(e.Value)
				if !ok {
					d.add(e, false, "%q is not true, false or healthy", e.Value)
				} else if v {
					notify = "container"
				} else {
					notify = "conmon"
				}
			}
		case "AutoUpdate":
			if e.Value != "registry" && e.Value != "local" {
				d.add(e, false, "%q is not registry or local", e.Value)
				continue
			}
			args = append(args, "--label", "io.containers.autoupdate="+e.Value)
		case "Volume":
			src, rest, hasDst := strings.Cut(e.Value, ":")
			if hasDst {
				var ok bool
				if src, ok = t.requireRef(d, e, unit, src, ".volume", "VolumeName"); !ok {
					continue
				}
			}
			if hasDst {
				args = append(args, "--volume", src+":"+rest)
			} else {
				args = append(args, "--volume", src)
			}
		case "Network":
			n, ok := t.requireRef(d, e, unit, e.Value, ".network", "NetworkName")
			if !ok {
				continue
			}
			args = append(args, "--network", n)
		case "Pod":
			if !strings.HasSuffix(e.Value, ".pod") {
				d.add(e, true, "%q is not a .pod file", e.Value)
				continue
			}
			ref, svc, ok := t.ref(d, e, e.Value, ".pod", "PodName")
			if !ok {
				continue
			}
			unit.Add("BindsTo", svc)
			unit.Add("After", svc)
			args = append(args, "--pod", ref)
		case "PodmanArgs":
			podmanArgs = append(podmanArgs, d.words(e)...)
		case "GlobalArgs":
			globals = append(globals, d.words(e)...)
		default:
			d.add(e, false, "unknown key in section [Container]")
		}
	}
	if image == "" {
		d.list = append(d.list, Diagnostic{Path: qf.path, Key: "Image", Msg: "missing: a container needs an image", Fatal: true})
		return nil
	}
	if user != "" || group != "" {
		if user == "" {
			user = "0"
		}
		if group != "" {
			user += ":" + group
		}
		args = append(args, "--user", user)
	}
	svc := out.Section("Service")
	svc.Add("KillMode", "mixed")
	svc.Add("ExecStop", t.exe(append(globals, "rm", "-v", "-f", "-i", "--cidfile=%t/%N.cid")...))
	svc.Add("ExecStopPost", "-"+t.exe(append(globals, "rm", "-v", "-f", "-i", "--cidfile=%t/%N.cid")...))
	svc.Add("Delegate", "yes")
	if notify == "ignore" {
		svc.Add("Type", "forking")
	} else {
		svc.Add("Type", "notify")
		svc.Add("NotifyAccess", "all")
	}
	svc.Add("SyslogIdentifier", "%N")
	run := append(append([]string{}, globals...), "run", "--name="+name, "--cidfile=%t/%N.cid", "--replace", "--rm",
		"--sdnotify="+notify, "-d")
	run = append(append(append(run, args...), podmanArgs...), image)
	qu := t.finish(qf, out, d)
	// ExecStart comes last, after the file's own [Service] keys, as in podman's units.
	out.Section("Service").Add("ExecStart", t.exe(run...)+execSuffix(exec))
	qu.render(out)
	return qu
}

func execSuffix(exec []string) string {
	if len(exec) == 0 {
		return ""
	}
	return " " + quoteArgs(exec)
}
