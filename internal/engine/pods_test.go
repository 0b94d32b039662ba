package engine

import (
	"errors"
	"reflect"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/userns"
	"github.com/berth-project/berth/libnet"
)

func TestParsePodShare(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"net,ipc,uts", []string{"ipc", "net", "uts"}, false},
		{"net", []string{"net"}, false},
		{"+pid", []string{"ipc", "net", "pid", "uts"}, false},
		{"none", []string{}, false},
		{"", []string{}, false},
		{"net,mnt", nil, true},
		{"none,net", nil, true},
		{"user", nil, true},
	}
	for _, tc := range tests {
		got, err := ParsePodShare(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("ParsePodShare(%q) = %v, %v, want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestPodState(t *testing.T) {
	ctrs := func(states ...string) []*Container {
		var out []*Container
		for _, s := range states {
			out = append(out, &Container{State: s})
		}
		return out
	}
	tests := []struct {
		name   string
		states []string
		want   string
	}{
		{"empty", nil, PodCreated},
		{"all created", []string{StateCreated, StateCreated}, PodCreated},
		{"all running", []string{StateRunning, StateRunning}, PodRunning},
		{"restarting counts as running", []string{StateRunning, StateRestarting}, PodRunning},
		{"all paused", []string{StatePaused, StatePaused}, PodPaused},
		{"some running", []string{StateRunning, StateExited}, PodDegraded},
		{"running and paused", []string{StateRunning, StatePaused}, PodDegraded},
		{"all exited", []string{StateExited, StateExited}, PodExited},
		{"exited and never started", []string{StateExited, StateCreated}, PodExited},
	}
	for _, tc := range tests {
		if got := PodState(ctrs(tc.states...)); got != tc.want {
			t.Errorf("%s: PodState(%v) = %s, want %s", tc.name, tc.states, got, tc.want)
		}
	}
}

func TestJoinPod(t *testing.T) {
	pod := &Pod{ID: "p1", Name: "web", InfraID: "infra1"}
	noNet := &Pod{ID: "p2", Name: "solo", InfraID: "infra2", Options: PodOptions{Share: []string{ShareIPC}}}
	tests := []struct {
		name    string
		pod     *Pod
		in      CreateOptions
		want    CreateOptions
		wantErr error
	}{
		{"joins the infra's network and hostname", pod, CreateOptions{Image: "bb"},
			CreateOptions{Image: "bb", Pod: "p1", Network: "container:infra1", Hostname: "web"}, nil},
		{"pod's own hostname may be repeated", pod, CreateOptions{Hostname: "web"},
			CreateOptions{Pod: "p1", Network: "container:infra1", Hostname: "web"}, nil},
		{"ports belong to the pod", pod, CreateOptions{Ports: []libnet.PortMapping{{ContainerPort: 80}}}, CreateOptions{}, errdefs.ErrInvalid},
		{"-P too", pod, CreateOptions{PublishAll: true}, CreateOptions{}, errdefs.ErrInvalid},
		{"network belongs to the pod", pod, CreateOptions{Network: "host"}, CreateOptions{}, errdefs.ErrInvalid},
		{"dns belongs to the pod", pod, CreateOptions{DNS: []string{"1.1.1.1"}}, CreateOptions{}, errdefs.ErrInvalid},
		{"hostname belongs to the pod", pod, CreateOptions{Hostname: "other"}, CreateOptions{}, errdefs.ErrInvalid},
		{"user namespace belongs to the pod", pod, CreateOptions{UserNS: "auto"}, CreateOptions{}, errdefs.ErrInvalid},
		{"id maps too", pod, CreateOptions{UIDMaps: []userns.IDMap{{Container: 0, Host: 100000, Size: 65536}}}, CreateOptions{}, errdefs.ErrInvalid},
		{"userns host is fine", pod, CreateOptions{UserNS: "host"}, CreateOptions{UserNS: "host", Pod: "p1", Network: "container:infra1", Hostname: "web"}, nil},
		{"no shared network: own ports", noNet, CreateOptions{Ports: []libnet.PortMapping{{ContainerPort: 80}}, Hostname: "x"},
			CreateOptions{Pod: "p2", Ports: []libnet.PortMapping{{ContainerPort: 80}}, Hostname: "x"}, nil},
	}
	for _, tc := range tests {
		o := tc.in
		err := joinPod(tc.pod, &o)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: joinPod = %v, want %v", tc.name, err, tc.wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(o, tc.want) {
			t.Errorf("%s: joinPod options = %+v, want %+v", tc.name, o, tc.want)
		}
	}
}

func TestValidatePodOptions(t *testing.T) {
	tests := []struct {
		name    string
		in      PodOptions
		wantErr error
	}{
		{"defaults", PodOptions{}, nil},
		{"bad name", PodOptions{Name: "-x"}, errdefs.ErrInvalid},
		{"bad exit policy", PodOptions{ExitPolicy: "restart"}, errdefs.ErrInvalid},
		{"userns host", PodOptions{UserNS: "host"}, nil},
		{"userns auto", PodOptions{UserNS: "auto"}, errdefs.ErrNotSupported},
		{"no infra sharing", PodOptions{NoInfra: true, Share: []string{ShareNet}}, errdefs.ErrInvalid},
		{"no infra ports", PodOptions{NoInfra: true, Ports: []libnet.PortMapping{{ContainerPort: 80}}}, errdefs.ErrInvalid},
		{"no infra image", PodOptions{NoInfra: true, InfraImage: "x"}, errdefs.ErrInvalid},
		{"hostname without uts", PodOptions{Hostname: "h", Share: []string{ShareNet}}, errdefs.ErrInvalid},
		{"ports without net", PodOptions{Share: []string{ShareIPC}, Ports: []libnet.PortMapping{{ContainerPort: 80}}}, errdefs.ErrInvalid},
		{"network without net shared", PodOptions{Share: []string{ShareIPC}, Network: NetworkHost}, nil},
		{"container network", PodOptions{Network: "container:x"}, errdefs.ErrInvalid},
	}
	for _, tc := range tests {
		o := tc.in
		if err := validatePodOptions(&o); !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: validatePodOptions(%+v) = %v, want %v", tc.name, tc.in, err, tc.wantErr)
		}
	}
}
