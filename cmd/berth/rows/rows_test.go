package rows

import (
	"testing"
	"time"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/libnet"
)

func TestNewContainer(t *testing.T) {
	c := &engine.Container{ID: "0123456789abcdef0123", Name: "web", State: engine.StateCreated, Created: time.Now(),
		Options: engine.CreateOptions{Image: "busybox", Cmd: []string{"sh", "-c", "echo a very long command line"},
			Labels: map[string]string{"b": "2", "a": "1"},
			Mounts: []engine.Mount{{Type: "volume", Source: "data", Target: "/d"}, {Type: "bind", Source: "/host", Target: "/h"}}}}
	for _, c2 := range []struct {
		name        string
		trunc       bool
		id, command string
	}{
		{"table", true, "0123456789ab", `"sh -c echo a very l…"`},
		{"no-trunc", false, "0123456789abcdef0123", `"sh -c echo a very long command line"`},
	} {
		r := NewContainer(c, nil, c2.trunc)
		if r.ID != c2.id || r.Command != c2.command {
			t.Errorf("%s: ID %q Command %q, want %q %q", c2.name, r.ID, r.Command, c2.id, c2.command)
		}
		if r.Labels != "a=1,b=2" || r.Label("b") != "2" || r.Label("nope") != "" {
			t.Errorf("%s: Labels %q Label(b) %q", c2.name, r.Labels, r.Label("b"))
		}
		if r.Mounts != "data,/host" || r.LocalVolumes != "1" || r.Status != "Created" || r.State != "created" {
			t.Errorf("%s: Mounts %q LocalVolumes %q Status %q", c2.name, r.Mounts, r.LocalVolumes, r.Status)
		}
	}
}

func TestNewVolumeAndNetwork(t *testing.T) {
	v := NewVolume(&engine.Volume{Name: "v", Driver: "local", Labels: map[string]string{"k": "v"}}, -1, -1)
	if v.Links != "N/A" || v.Size != "N/A" || v.Label("k") != "v" || v.Labels != "k=v" {
		t.Errorf("volume row %+v", v)
	}
	if v := NewVolume(&engine.Volume{Name: "v"}, 2, 4096); v.Links != "2" || v.Size != "4.1kB" {
		t.Errorf("measured volume row %+v", v)
	}
	n := NewNetwork(&engine.Network{Network: libnet.Network{ID: "0123456789abcdef", Name: "n", Driver: "bridge", Labels: map[string]string{"k": "v"}}}, true)
	if n.ID != "0123456789ab" || n.Label("k") != "v" || n.Scope != "local" || n.Internal != "false" {
		t.Errorf("network row %+v", n)
	}
}
