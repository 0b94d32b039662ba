package engine

import (
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fakeNotifySocket binds a datagram socket where systemd's would be and returns a function
// that reads what was sent to it ("" when nothing came within a short while).
func fakeNotifySocket(t *testing.T) func() string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", p)
	return func() string {
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := conn.Read(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
}

func TestNotifyStarted(t *testing.T) {
	tests := []struct {
		mode, want string
	}{
		{"", "MAINPID=4242\nREADY=1"},
		{"conmon", "MAINPID=4242\nREADY=1"},
		{"healthy", "MAINPID=4242"},   // the monitor says READY=1 once healthy
		{"container", "MAINPID=4242"}, // the container says READY=1 through the monitor
		{"ignore", ""},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			recv := fakeNotifySocket(t)
			notifyStarted(&Container{Name: "c", Options: CreateOptions{SdNotify: tc.mode}}, 4242)
			if got := recv(); got != tc.want {
				t.Errorf("notifyStarted(%q) sent %q, want %q", tc.mode, got, tc.want)
			}
		})
	}
}

func TestNotifyStartedWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	notifyStarted(&Container{Name: "c"}, 1) // nothing to send to: no error, no panic
}

func TestNotifyArgsAndEnv(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	e := &Engine{}
	tests := []struct {
		mode string
		want []string
	}{
		{"conmon", nil},
		{"ignore", nil},
		{"healthy", []string{"--sdnotify", "healthy", "--notify-socket", "/run/systemd/notify"}},
		{"container", []string{"--sdnotify", "container", "--notify-socket", "/run/systemd/notify"}},
	}
	for _, tc := range tests {
		got := e.notifyArgs(&Container{Options: CreateOptions{SdNotify: tc.mode}})
		if !slices.Equal(got, tc.want) {
			t.Errorf("notifyArgs(%q) = %q, want %q", tc.mode, got, tc.want)
		}
	}
	for _, kv := range monitorEnv() {
		if len(kv) >= 14 && kv[:14] == "NOTIFY_SOCKET=" {
			t.Errorf("monitorEnv() keeps %q: a runtime such as runc would act on it", kv)
		}
	}
}

func TestValidateSdNotify(t *testing.T) {
	health := &Healthcheck{Test: []string{"CMD-SHELL", "true"}}
	tests := []struct {
		o    CreateOptions
		want string
	}{
		{CreateOptions{}, ""},
		{CreateOptions{SdNotify: "container"}, ""},
		{CreateOptions{SdNotify: "healthy", Health: health}, ""},
		{CreateOptions{SdNotify: "healthy"}, "--sdnotify=healthy needs a health check (--health-cmd)"},
		{CreateOptions{SdNotify: "healthy", Health: &Healthcheck{Test: []string{"NONE"}}}, "--sdnotify=healthy needs a health check (--health-cmd)"},
		{CreateOptions{SdNotify: "sometimes"}, `invalid --sdnotify "sometimes": want conmon, container, healthy or ignore`},
	}
	for _, tc := range tests {
		err := ValidateSdNotify(&tc.o)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("ValidateSdNotify(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}
