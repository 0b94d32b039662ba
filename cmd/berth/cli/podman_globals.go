package cli

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/berth-project/berth/internal/errdefs"
)

// podmanGlobals are Podman's global flags. --noout works as in Podman; the others are taken
// with the value that describes what berth does anyway, and refused as not supported with
// any other, so a Podman user's command line fails clearly instead of as an unknown flag.
type podmanGlobals struct {
	noout                                   bool
	runtimeFlags, storageOpts               []string
	eventsBackend, cgroupManager            string
	networkCmdPath, tmpdir, url, connection string
	identity                                string
	remote                                  bool
}

func (p *podmanGlobals) add(fs *pflag.FlagSet) {
	str := func(dst *string, name, usage string) {
		if fs.Lookup(name) == nil { // another part of berth may implement it for real
			fs.StringVar(dst, name, "", usage)
		}
	}
	fs.BoolVar(&p.noout, "noout", false, "Do not print to standard output")
	fs.StringArrayVar(&p.runtimeFlags, "runtime-flag", nil, "Add global flags for the OCI runtime (not supported: berth passes none)")
	fs.StringArrayVar(&p.storageOpts, "storage-opt", nil, "Storage driver option (berth's drivers take none; an empty value is accepted)")
	str(&p.eventsBackend, "events-backend", "Events backend: file (berth's durable event log)")
	str(&p.cgroupManager, "cgroup-manager", "Cgroup manager: cgroupfs (berth manages cgroups itself)")
	str(&p.networkCmdPath, "network-cmd-path", "Path to the slirp4netns binary (not supported: berth finds pasta or slirp4netns in PATH)")
	str(&p.tmpdir, "tmpdir", "Podman's libpod temporary directory (not supported: berth keeps runtime state under --runroot)")
	str(&p.url, "url", "Remote service URL (not supported: berth has no remote client)")
	str(&p.connection, "connection", "Remote connection name (not supported: berth has no remote client)")
	str(&p.identity, "identity", "Remote connection SSH key (not supported: berth has no remote client)")
	if fs.Lookup("remote") == nil {
		fs.BoolVarP(&p.remote, "remote", "r", false, "Access a remote service (not supported: berth has no remote client)")
	}
}

// apply validates the flags that were given and performs --noout.
func (p *podmanGlobals) apply(fs *pflag.FlagSet) error {
	unsupported := func(name, why string) error {
		return errdefs.Newf(errdefs.ErrNotSupported, "--%s is not supported: %s", name, why)
	}
	changed := func(name string, p *string) bool {
		return fs.Changed(name) && p != nil && *p != "" || fs.Changed(name) && p == nil
	}
	if len(p.runtimeFlags) > 0 {
		return unsupported("runtime-flag "+p.runtimeFlags[0], "berth passes no extra flags to the OCI runtime")
	}
	for _, o := range p.storageOpts {
		if o != "" {
			return unsupported("storage-opt "+o, "berth's storage drivers take no options")
		}
	}
	if changed("events-backend", &p.eventsBackend) && p.eventsBackend != "file" {
		return unsupported("events-backend "+p.eventsBackend, "berth writes its events to a file in its root (--events-backend file)")
	}
	if changed("cgroup-manager", &p.cgroupManager) && p.cgroupManager != "cgroupfs" {
		return unsupported("cgroup-manager "+p.cgroupManager, "berth manages cgroups itself (--cgroup-manager cgroupfs)")
	}
	for _, f := range []struct {
		name string
		val  *string
		why  string
	}{
		{"network-cmd-path", &p.networkCmdPath, "berth finds pasta or slirp4netns in PATH"},
		{"tmpdir", &p.tmpdir, "berth keeps its runtime state under --runroot"},
		{"url", &p.url, "berth has no remote client"},
		{"connection", &p.connection, "berth has no remote client"},
		{"identity", &p.identity, "berth has no remote client"},
	} {
		if changed(f.name, f.val) {
			return unsupported(f.name, f.why)
		}
	}
	if p.remote {
		return unsupported("remote", "berth has no remote client")
	}
	if p.noout {
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		os.Stdout = null
	}
	return nil
}
