package systemd

import (
	"path/filepath"
	"sort"
)

// simpleArgs translates the keys of sec found in keys; the others go to other (nil: unknown).
func simpleArgs(qf *quadletFile, sec *Section, d *diags, keys map[string]quadletKey, unsupported map[string]string,
	other func(e Entry) bool) []string {
	var args []string
	for _, e := range sec.Entries {
		if k, ok := keys[e.Key]; ok {
			args = append(args, k.args(qf, d, e)...)
			continue
		}
		if why, ok := unsupported[e.Key]; ok {
			d.add(e, true, "not supported: %s", why)
			continue
		}
		if other != nil && other(e) {
			continue
		}
		d.add(e, false, "unknown key in section [%s]", sec.Name)
	}
	return args
}

// section returns the file's own section, reporting its absence.
func section(qf *quadletFile, d *diags, name string) *Section {
	checkSections(qf, d, name)
	sec := qf.unit.Lookup(name)
	if sec == nil {
		sec = &Section{Name: name}
	}
	return sec
}

// oneshot makes the [Service] of a unit that does its work once and stays active.
func (t *translator) oneshot(out *Unit) *Section {
	svc := out.Section("Service")
	svc.Add("Type", "oneshot")
	svc.Add("RemainAfterExit", "yes")
	svc.Add("SyslogIdentifier", "%N")
	return svc
}

// oneshotUnit is the unit of a file whose service runs one berth command and stays active after it.
func (t *translator) oneshotUnit(qf *quadletFile, d *diags, argv []string) *QuadletUnit {
	out := t.newServiceUnit(qf)
	t.oneshot(out).Add("ExecStart", t.exe(argv...))
	return t.finishRender(qf, out, d)
}

// finishRender finishes out and renders it into the unit returned.
func (t *translator) finishRender(qf *quadletFile, out *Unit, d *diags) *QuadletUnit {
	qu := t.finish(qf, out, d)
	qu.render(out)
	return qu
}

func (t *translator) translateVolume(qf *quadletFile, d *diags) *QuadletUnit {
	sec := section(qf, d, "Volume")
	name := "systemd-" + qf.base()
	args := simpleArgs(qf, sec, d, map[string]quadletKey{
		"Label":  {flag: "--label", words: true, check: checkKV},
		"Driver": {flag: "--driver"},
	}, map[string]string{
		"Options": "berth volume create takes no mount options: the volume would not be the one asked for",
		"Device":  "berth volume create takes no device: the volume would not be the one asked for",
		"Type":    "berth volume create takes no filesystem type: the volume would not be the one asked for",
		"Image":   "berth has no image volumes",
	}, func(e Entry) bool {
		switch e.Key {
		case "VolumeName":
			name = e.Value
		case "Copy", "User", "Group":
			d.add(e, false, "ignored: berth's volumes are created empty and owned by root")
		default:
			return false
		}
		return true
	})
	return t.oneshotUnit(qf, d, append(append([]string{"volume", "create", "--ignore"}, args...), name))
}

func (t *translator) translateNetwork(qf *quadletFile, d *diags) *QuadletUnit {
	sec := section(qf, d, "Network")
	name := "systemd-" + qf.base()
	args := simpleArgs(qf, sec, d, map[string]quadletKey{
		"Label":    {flag: "--label", words: true, check: checkKV},
		"Driver":   {flag: "--driver"},
		"Subnet":   {flag: "--subnet"},
		"Gateway":  {flag: "--gateway"},
		"IPRange":  {flag: "--ip-range"},
		"Internal": {flag: "--internal", boolean: true},
		"IPv6":     {flag: "--ipv6", boolean: true},
		"Options":  {flag: "--opt", words: true},
	}, map[string]string{
		"DNS":                 "berth networks take no DNS server option",
		"IPAMDriver":          "berth has one IPAM driver",
		"DisableDNS":          "berth networks always resolve their containers' names",
		"NetworkDeleteOnStop": "berth keeps the network when the unit stops",
	}, func(e Entry) bool {
		if e.Key == "NetworkName" {
			name = e.Value
			return true
		}
		return false
	})
	return t.oneshotUnit(qf, d, append(append([]string{"network", "create", "--ignore"}, args...), name))
}

func (t *translator) translateImage(qf *quadletFile, d *diags) *QuadletUnit {
	sec := section(qf, d, "Image")
	image := ""
	var args []string
	simpleArgs(qf, sec, d, nil, map[string]string{
		"AuthFile": "berth pull reads the auth file of berth login only",
		"CertDir":  "berth pull takes no certificate directory",
		"Creds":    "berth pull takes no credentials on the command line",
		"AllTags":  "berth pull pulls one tag",
	}, func(e Entry) bool {
		switch e.Key {
		case "Image":
			image = e.Value
		case "Arch", "OS", "Variant":
			d.add(e, false, "ignored: berth pulls the host's platform unless --platform is given in PodmanArgs")
		case "PodmanArgs", "TLSVerify":
		default:
			return false
		}
		return true
	})
	// TLSVerify=false is the one value that changes anything.
	if e, ok := sec.Last("TLSVerify"); ok {
		if v, ok := parseBool(e.Value); !ok {
			d.add(e, false, "%q is not a boolean (true or false)", e.Value)
		} else if !v {
			args = append(args, "--tls-verify=false")
		}
	}
	for _, e := range sec.All("PodmanArgs") {
		args = append(args, d.words(e)...)
	}
	if image == "" {
		d.list = append(d.list, Diagnostic{Path: qf.path, Key: "Image", Msg: "missing: an .image file names the image to pull", Fatal: true})
		return nil
	}
	return t.oneshotUnit(qf, d, append(append([]string{"image", "pull"}, args...), image))
}

func (t *translator) translateKube(qf *quadletFile, d *diags) *QuadletUnit {
	sec := section(qf, d, "Kube")
	yaml := ""
	out := t.newServiceUnit(qf)
	unit := out.Section("Unit")
	args := simpleArgs(qf, sec, d, map[string]quadletKey{
		"PublishPort": {flag: "--publish"},
		"ConfigMap":   {flag: "--configmap", path: true},
		"LogDriver":   {flag: "--log-driver"},
	}, map[string]string{
		"AutoUpdate":          "berth auto-update updates containers, not kube units",
		"ExitCodePropagation": "berth kube play has no service container to propagate exit codes",
		"UserNS":              "berth kube play takes no user namespace option",
	}, func(e Entry) bool {
		switch e.Key {
		case "Yaml":
			yaml = e.Value
			if !filepath.IsAbs(yaml) {
				yaml = filepath.Join(filepath.Dir(qf.path), yaml)
			}
		case "Network":
			n, ok := t.requireRef(d, e, unit, e.Value, ".network", "NetworkName")
			if !ok {
				return true
			}
			out.Section("X-Kube-Network").Add("Network", n) // collected below
		default:
			return false
		}
		return true
	})
	if nets := out.Lookup("X-Kube-Network"); nets != nil {
		for _, e := range nets.Entries {
			args = append(args, "--network", e.Value)
		}
		out.Sections = out.Sections[:len(out.Sections)-1]
	}
	if yaml == "" {
		d.list = append(d.list, Diagnostic{Path: qf.path, Key: "Yaml", Msg: "missing: a .kube file names its YAML file", Fatal: true})
		return nil
	}
	svc := t.oneshot(out)
	svc.Add("ExecStart", t.exe(append(append([]string{"kube", "play", "--replace"}, args...), yaml)...))
	svc.Add("ExecStopPost", t.exe("kube", "down", yaml))
	return t.finishRender(qf, out, d)
}

func (t *translator) translatePod(qf *quadletFile, d *diags) *QuadletUnit {
	sec := section(qf, d, "Pod")
	name := "systemd-" + qf.base()
	out := t.newServiceUnit(qf)
	unit := out.Section("Unit")
	var nets []string
	args := simpleArgs(qf, sec, d, map[string]quadletKey{
		"PublishPort": {flag: "--publish", check: checkPort},
		"Label":       {flag: "--label", words: true, check: checkKV},
		"AddHost":     {flag: "--add-host", words: true},
		"DNS":         {flag: "--dns", words: true},
		"DNSSearch":   {flag: "--dns-search", words: true},
		"DNSOption":   {flag: "--dns-option", words: true},
		"HostName":    {flag: "--hostname"},
	}, map[string]string{
		"Volume": "berth pods take no volumes: give them to the containers",
	}, func(e Entry) bool {
		switch e.Key {
		case "PodName":
			name = e.Value
		case "Network":
			n, ok := t.requireRef(d, e, unit, e.Value, ".network", "NetworkName")
			if !ok {
				return true
			}
			nets = append(nets, n)
		case "PodmanArgs":
		default:
			return false
		}
		return true
	})
	for _, n := range nets {
		args = append(args, "--network", n)
	}
	for _, e := range sec.All("PodmanArgs") {
		args = append(args, d.words(e)...)
	}
	// Starting the pod starts its containers (the files whose Pod= names this one).
	for _, other := range sortedFiles(t.files) {
		if other.kind != ".container" {
			continue
		}
		if p, ok := other.unit.Lookup("Container").Last("Pod"); ok && p.Value == qf.name {
			unit.Add("Wants", other.serviceName())
			unit.Add("Before", other.serviceName())
		}
	}
	svc := t.oneshot(out)
	svc.Add("ExecStartPre", t.exe(append(append([]string{"pod", "create", "--replace", "--exit-policy=stop"}, args...), "--name", name)...))
	svc.Add("ExecStart", t.exe("pod", "start", name))
	svc.Add("ExecStop", t.exe("pod", "stop", "--time=10", name))
	svc.Add("ExecStopPost", t.exe("pod", "rm", "--force", "--ignore", name))
	return t.finishRender(qf, out, d)
}

func sortedFiles(files map[string]*quadletFile) []*quadletFile {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*quadletFile, len(names))
	for i, n := range names {
		out[i] = files[n]
	}
	return out
}
