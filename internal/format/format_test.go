package format

import (
	"bytes"
	"testing"
)

type row struct {
	ID, Image string
	Size      int
}

func TestList(t *testing.T) {
	rows := []any{row{"abc", "busybox", 3}, row{"defghi", "alpine", 10}}
	cases := []struct {
		name string
		l    List
		want string
	}{
		{"default", List{Default: "table {{.ID}}\t{{.Image}}", Headers: map[string]string{"ID": "CONTAINER ID"}},
			"CONTAINER ID   IMAGE\nabc            busybox\ndefghi         alpine\n"},
		{"template", List{Format: "{{.ID}}:{{.Size}}"}, "abc:3\ndefghi:10\n"},
		{"quiet", List{Quiet: "ID", QuietOn: true, Default: "table {{.Image}}"}, "abc\ndefghi\n"},
		{"json", List{Format: "json"}, "{\"ID\":\"abc\",\"Image\":\"busybox\",\"Size\":3}\n{\"ID\":\"defghi\",\"Image\":\"alpine\",\"Size\":10}\n"},
		{"table escaped tab", List{Format: `table {{.Image}}\t{{.Size}}`}, "IMAGE     SIZE\nbusybox   3\nalpine    10\n"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		if err := c.l.Write(&b, rows); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if b.String() != c.want {
			t.Errorf("%s: got\n%q\nwant\n%q", c.name, b.String(), c.want)
		}
	}
	if err := (List{Format: "{{.Nope"}).Write(&bytes.Buffer{}, rows); err == nil {
		t.Error("bad template accepted")
	}
}

func TestInspect(t *testing.T) {
	type obj struct {
		Id     string
		Config struct{ Labels map[string]string }
	}
	o := obj{Id: "x"}
	o.Config.Labels = map[string]string{"a": "b"}
	var b bytes.Buffer
	if err := Inspect(&b, `{{.Id}} {{index .Config.Labels "a"}}`, []any{o}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "x b\n" {
		t.Errorf("Inspect = %q", b.String())
	}
}
