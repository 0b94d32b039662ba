package cgroups

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const hybridMountinfo = `25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 25 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 31 0:40 / /sys/fs/cgroup/memory/nested rw,relatime - cgroup cgroup rw,memory
60 25 0:41 / /mnt/other\040cg rw - cgroup cgroup rw,pids
`

const hybridCgroup = `12:name=systemd:/user.slice/session-1.scope
4:memory:/berth/abc
2:cpu,cpuacct:/berth/abc
0::/user.slice/session-1.scope
`

func TestParseMountinfo(t *testing.T) {
	got := ParseMountinfo(hybridMountinfo, Root)
	want := []Hierarchy{
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/", Options: []string{"rw", "cpu", "cpuacct"}},
		{Mountpoint: "/sys/fs/cgroup/memory", Root: "/", Options: []string{"rw", "memory"}},
		{Mountpoint: "/sys/fs/cgroup/systemd", Root: "/", Options: []string{"rw", "xattr", "name=systemd"}},
		{Mountpoint: "/sys/fs/cgroup/unified", Root: "/", Options: []string{"rw", "nsdelegate"}, V2: true},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseMountinfo (-want +got):\n%s", d)
	}
	v2 := ParseMountinfo("30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n", Root)
	if len(v2) != 1 || !v2[0].V2 || v2[0].Mountpoint != Root {
		t.Errorf("pure v2: %+v", v2)
	}
	esc := ParseMountinfo(`60 25 0:41 /a\040b /sys/fs/cgroup/x\134y rw - cgroup cgroup rw,pids`, Root)
	if len(esc) != 1 || esc[0].Root != "/a b" || esc[0].Mountpoint != `/sys/fs/cgroup/x\y` {
		t.Errorf("escapes: %+v", esc)
	}
}

func TestViews(t *testing.T) {
	hs := ParseMountinfo(hybridMountinfo, Root)
	cases := []struct {
		name string
		hs   []Hierarchy
		own  string
		want []View
	}{
		{"hybrid: each hierarchy shows the process's own cgroup", hs, hybridCgroup, []View{
			{Name: "cpu,cpuacct", Source: "/sys/fs/cgroup/cpu,cpuacct/berth/abc"},
			{Name: "memory", Source: "/sys/fs/cgroup/memory/berth/abc"},
			{Name: "systemd", Source: "/sys/fs/cgroup/systemd/user.slice/session-1.scope"},
			{Name: "unified", Source: "/sys/fs/cgroup/unified/user.slice/session-1.scope"},
		}},
		{"pure v2", []Hierarchy{{Mountpoint: Root, Root: "/", V2: true}}, "0::/berth/abc\n",
			[]View{{Name: "", Source: "/sys/fs/cgroup/berth/abc"}}},
		{"v2 mounted at a subtree (a nested host)", []Hierarchy{{Mountpoint: Root, Root: "/machine/ctr", V2: true}}, "0::/machine/ctr/berth/abc\n",
			[]View{{Name: "", Source: "/sys/fs/cgroup/berth/abc"}}},
		{"own cgroup outside the mounted subtree is not shown", []Hierarchy{{Mountpoint: Root, Root: "/machine/ctr", V2: true}}, "0::/machine/other\n", nil},
		{"prefix is not containment", []Hierarchy{{Mountpoint: Root, Root: "/a", V2: true}}, "0::/ab\n", nil},
		{"a controller line matches only its hierarchy", []Hierarchy{{Mountpoint: "/sys/fs/cgroup/pids", Root: "/", Options: []string{"rw", "pids"}}},
			"4:memory:/x\n0::/y\n", nil},
	}
	for _, c := range cases {
		got := Views(c.hs, ParseProcCgroup(c.own))
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%s: Views (-want +got):\n%s", c.name, d)
		}
	}
}

func TestParseProcCgroup(t *testing.T) {
	got := ParseProcCgroup(hybridCgroup)
	want := []ProcCgroup{{Controllers: []string{"name=systemd"}, Path: "/user.slice/session-1.scope"},
		{Controllers: []string{"memory"}, Path: "/berth/abc"}, {Controllers: []string{"cpu", "cpuacct"}, Path: "/berth/abc"},
		{Path: "/user.slice/session-1.scope"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseProcCgroup (-want +got):\n%s", d)
	}
}
