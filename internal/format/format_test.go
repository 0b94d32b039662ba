package format

import (
	"bytes"
	"strings"
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
	b.Reset()
	if err := Inspect(&b, `{{.ID}}`, []any{o}); err != nil || b.String() != "x\n" {
		t.Errorf("Inspect {{.ID}} = %q, %v; want the Id, as over Docker's typed structs", b.String(), err)
	}
	b.Reset()
	if err := Inspect(&b, "", []any{o}); err != nil || strings.Contains(b.String(), `"ID"`) {
		t.Errorf("Inspect JSON = %q, %v; the ID alias is for templates only", b.String(), err)
	}
}

type labelled struct {
	Name   string
	Tags   []string
	labels map[string]string
}

func (l labelled) Label(k string) string { return l.labels[k] }

func TestFuncsAndEscapes(t *testing.T) {
	rows := []any{labelled{Name: "web", Tags: []string{"a", "b"}, labels: map[string]string{"tier": "front"}}}
	cases := []struct{ name, format, want string }{
		{"label method", `{{.Label "tier"}}`, "front\n"},
		{"label missing", `[{{.Label "nope"}}]`, "[]\n"},
		{"join", `{{join .Tags ","}}`, "a,b\n"},
		{"json", `{{json .Tags}}`, `["a","b"]` + "\n"},
		{"json no html escape", `{{json "<a&b>"}}`, `"<a&b>"` + "\n"},
		{"lower upper title", `{{upper .Name}} {{lower "AB"}} {{title "ab cd"}}`, "WEB ab Ab Cd\n"},
		{"split", `{{index (split "x:y" ":") 1}}`, "y\n"},
		{"pad", `[{{pad .Name 1 2}}][{{pad "" 1 1}}]`, "[ web  ][]\n"},
		{"truncate", `{{truncate .Name 2}} {{truncate .Name 10}}`, "we web\n"},
		{"println", `{{println .Name}}`, "web\n\n"},
		{"quoted newline in action", `{{.Name}}{{"\n"}}`, "web\n\n"},
		{"escaped newline between actions", `{{.Name}}\n{{.Name}}`, "web\nweb\n"},
		{"escaped tab", `{{.Name}}\t|`, "web\t|\n"},
		{"raw string in action", "{{`\\n`}}", "\\n\n"},
		{"range with newline", `{{range .Tags}}{{.}}{{"\n"}}{{end}}`, "a\nb\n\n"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		if err := (List{Format: c.format}).Write(&b, rows); err != nil {
			t.Errorf("%s: Write(%q): %v", c.name, c.format, err)
			continue
		}
		if b.String() != c.want {
			t.Errorf("%s: Write(%q) = %q, want %q", c.name, c.format, b.String(), c.want)
		}
	}
}

func TestTableHeaders(t *testing.T) {
	rows := []any{labelled{Name: "web", labels: map[string]string{"tier": "front"}}}
	var b bytes.Buffer
	if err := (List{Format: `table {{upper .Name}}\t{{.Label "tier"}}`}).Write(&b, rows); err != nil {
		t.Fatal(err)
	}
	if want := "NAME      LABEL\nWEB       front\n"; b.String() != want {
		t.Errorf("table = %q, want %q", b.String(), want)
	}
}

func TestUnescape(t *testing.T) {
	cases := []struct{ in, want string }{
		{`a\tb\nc`, "a\tb\nc"},
		{`{{"\n"}}\n`, "{{\"\\n\"}}\n"},
		{`{{"}}\n"}}\t`, "{{\"}}\\n\"}}\t"},
		{`{{.X`, `{{.X`},
	}
	for _, c := range cases {
		if got := Unescape(c.in); got != c.want {
			t.Errorf("Unescape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestObject(t *testing.T) {
	v := struct{ Items []labelled }{Items: []labelled{{Name: "a", labels: map[string]string{"k": "v"}}}}
	var b bytes.Buffer
	if err := Object(&b, `{{range .Items}}{{.Name}}={{.Label "k"}}{{end}}`, v); err != nil {
		t.Fatal(err)
	}
	if b.String() != "a=v\n" {
		t.Errorf("Object = %q", b.String())
	}
}

func TestInspectNothingFound(t *testing.T) {
	var b bytes.Buffer
	if err := Inspect(&b, "", nil); err != nil || b.String() != "[]\n" {
		t.Errorf("Inspect of nothing = %q, %v", b.String(), err)
	}
}

func TestInspectNumbers(t *testing.T) {
	type state struct {
		ExitCode int
		Pid      int64
		Ratio    float64
	}
	o := struct{ State state }{state{ExitCode: 0, Pid: 25276203008, Ratio: 0.5}}
	var b bytes.Buffer
	if err := Inspect(&b, `{{if eq .State.ExitCode 0}}zero{{end}} {{.State.Pid}} {{.State.Ratio}} {{gt .State.Pid 1}}`, []any{o}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "zero 25276203008 0.5 true\n" {
		t.Errorf("Inspect = %q", b.String())
	}
}

func TestInspectAliasesNestedIDs(t *testing.T) {
	type ctr struct {
		ID   string `json:"Id"`
		Name string
	}
	obj := struct {
		ID         string `json:"Id"`
		Containers []ctr
	}{"p1", []ctr{{"c1", "web"}}}
	tests := []struct{ format, want string }{
		{"{{.ID}}", "p1\n"},
		{"{{.Id}}", "p1\n"},
		{"{{(index .Containers 0).ID}} {{(index .Containers 0).Name}}", "c1 web\n"},
	}
	for _, tc := range tests {
		var b strings.Builder
		if err := Inspect(&b, tc.format, []any{obj}); err != nil || b.String() != tc.want {
			t.Errorf("Inspect(%q) = %q, %v, want %q", tc.format, b.String(), err, tc.want)
		}
	}
}
