package paths

import "testing"

func TestFor(t *testing.T) {
	cases := []struct {
		name string
		env  Env
		want Defaults
	}{
		{"root", Env{UID: 0, Home: "/root"}, Defaults{Root: "/var/lib/berth", RunRoot: "/run/berth", SystemConfig: "/etc/berth/berth.conf"}},
		{"rootless xdg", Env{UID: 1000, Home: "/home/u", XDGDataHome: "/d", XDGRuntimeDir: "/", XDGConfigHome: "/c"},
			Defaults{Root: "/d/berth", RunRoot: "/berth", SystemConfig: "/etc/berth/berth.conf", UserConfig: "/c/berth/berth.conf", Rootless: true}},
		{"rootless fallback", Env{UID: 1000, Home: "/home/u"},
			Defaults{Root: "/home/u/.local/share/berth", RunRoot: "/tmp/berth-1000", SystemConfig: "/etc/berth/berth.conf", UserConfig: "/home/u/.config/berth/berth.conf", Rootless: true}},
	}
	for _, c := range cases {
		if got := For(c.env); got != c.want {
			t.Errorf("%s: For(%+v) = %+v, want %+v", c.name, c.env, got, c.want)
		}
	}
}
