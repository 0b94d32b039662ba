// Package format writes command results the way Docker does: a default table, a
// `table TEMPLATE`, a bare Go template per item, or `json`. A template that does not parse or
// run is the user's error (errdefs.ErrInvalid).
package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/berth-project/berth/internal/errdefs"
)

// Funcs are the template functions the docker CLI's --format offers (its templates package),
// beside Go's own (print, println, printf, index, len, ...).
var Funcs = template.FuncMap{
	"json":     jsonString,
	"upper":    strings.ToUpper,
	"lower":    strings.ToLower,
	"title":    func(s string) string { return strings.Title(s) }, //nolint:staticcheck // Docker's behaviour
	"split":    strings.Split,
	"join":     join,
	"println":  fmt.Sprintln,
	"truncate": truncate,
	"pad":      pad,
}

// jsonString is Docker's json: no HTML escaping, no trailing newline.
func jsonString(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// join joins strings, or the printed elements of any slice, or a map's values sorted.
func join(elems any, sep string) (string, error) {
	if elems == nil {
		return "", nil
	}
	if ss, ok := elems.([]string); ok {
		return strings.Join(ss, sep), nil
	}
	rv := reflect.ValueOf(elems)
	var out []string
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			out = append(out, fmt.Sprint(rv.Index(i).Interface()))
		}
	case reflect.Map:
		for _, k := range rv.MapKeys() {
			out = append(out, fmt.Sprint(rv.MapIndex(k).Interface()))
		}
		sort.Strings(out)
	default:
		return "", fmt.Errorf("join: expected a slice, got %T", elems)
	}
	return strings.Join(out, sep), nil
}

func truncate(s string, n int) string {
	if n >= 0 && len(s) > n {
		return s[:n]
	}
	return s
}

// pad surrounds a non-empty string with spaces (Docker leaves an empty one empty).
func pad(s string, l, r int) string {
	if s == "" {
		return s
	}
	return strings.Repeat(" ", l) + s + strings.Repeat(" ", r)
}

// List describes how one listing command prints its rows.
type List struct {
	// Format is what the user passed to --format ("" means Default).
	Format string
	// Default is the command's own table, e.g. "table {{.ID}}\t{{.Image}}".
	Default string
	// Headers maps a field name to its column header; missing fields get FIELD NAME upper-cased.
	Headers map[string]string
	// Quiet is the field printed alone with -q.
	Quiet string
	// QuietOn selects Quiet.
	QuietOn bool
	// NoHeading leaves out a table's header line (Podman's --noheading).
	NoHeading bool
}

// fieldRE finds the first .Field an action names: {{.Names}}, {{upper .Names}}, {{json .Labels}}.
var fieldRE = regexp.MustCompile(`\{\{-?[^}]*?\.(\w+)[^}]*\}\}`)

// Write prints rows (each a struct or map) in the selected format.
func (l List) Write(w io.Writer, rows []any) error {
	// Buffered: the table writer and templates write cell by cell, a system call each.
	bw := bufio.NewWriter(w)
	err := l.write(bw, rows)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

func (l List) write(w io.Writer, rows []any) error {
	f := l.Format
	if l.QuietOn {
		f = "{{." + l.Quiet + "}}"
	}
	if f == "" || f == "table" {
		f = l.Default
	}
	if f == "json" {
		for _, r := range rows {
			s, err := jsonString(r)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintln(w, s); err != nil {
				return err
			}
		}
		return nil
	}
	table := strings.HasPrefix(f, "table")
	if table {
		f = strings.TrimPrefix(f, "table")
	}
	f = Unescape(strings.Trim(f, " "))
	tmpl, err := Parse(f + "\n")
	if err != nil {
		return errdefs.Newf(errdefs.ErrInvalid, "parse format %q: %v", l.Format, err)
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
		if !l.NoHeading {
			fmt.Fprintln(tw, l.header(f))
		}
	}
	for _, r := range rows {
		if err := tmpl.Execute(out, r); err != nil {
			return errdefs.Newf(errdefs.ErrInvalid, "format %q: %v", l.Format, err)
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// header turns each action of the template into its column name.
func (l List) header(tmpl string) string {
	return fieldRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := fieldRE.FindStringSubmatch(m)[1]
		if h, ok := l.Headers[name]; ok {
			return h
		}
		return strings.ToUpper(splitCamel(name))
	})
}

func splitCamel(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' && !(s[i-1] >= 'A' && s[i-1] <= 'Z') {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Parse parses a template with the docker CLI's functions.
func Parse(text string) (*template.Template, error) {
	return template.New("format").Funcs(Funcs).Parse(text)
}

// Unescape turns the \t and \n a user types in a shell-quoted --format into a tab and a
// newline, as the docker CLI does, but only in the text between actions: inside {{...}} a
// quoted "\n" is Go's own escape and must reach the template parser unchanged (Docker
// replaces it there too, which breaks `{{"\n"}}`; Podman does not).
func Unescape(s string) string {
	r := strings.NewReplacer(`\t`, "\t", `\n`, "\n")
	var b strings.Builder
	for {
		open := strings.Index(s, "{{")
		if open < 0 {
			b.WriteString(r.Replace(s))
			return b.String()
		}
		b.WriteString(r.Replace(s[:open]))
		end := actionEnd(s[open:])
		if end < 0 {
			b.WriteString(s[open:])
			return b.String()
		}
		b.WriteString(s[open : open+end])
		s = s[open+end:]
	}
}

// actionEnd returns the length of the action s starts with, through its closing "}}",
// skipping quoted strings and raw strings; -1 when it never closes.
func actionEnd(s string) int {
	for i := 2; i < len(s); i++ {
		switch s[i] {
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '`':
			for i++; i < len(s) && s[i] != '`'; i++ {
			}
		case '\'':
			for i++; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '}':
			if i+1 < len(s) && s[i+1] == '}' {
				return i + 2
			}
		}
	}
	return -1
}

// writeIndented writes v as JSON indented by indent, and a newline.
func writeIndented(w io.Writer, v any, indent string) error {
	b, err := json.MarshalIndent(v, "", indent)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// parseLine parses a template the user gave, to print one line per value.
func parseLine(format string) (*template.Template, error) {
	tmpl, err := Parse(Unescape(format) + "\n")
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "parse format %q: %v", format, err)
	}
	return tmpl, nil
}

// Inspect prints objects as a Docker-style indented JSON array, or each through a template.
func Inspect(w io.Writer, format string, objs []any) error {
	if format == "" || format == "json" {
		if objs == nil {
			objs = []any{} // nothing found prints [] as Docker does, not null
		}
		return writeIndented(w, objs, "    ")
	}
	tmpl, err := parseLine(format)
	if err != nil {
		return err
	}
	for _, o := range objs {
		// Templates see the JSON shape (Docker's field names), not Go's.
		generic, err := jsonShape(o)
		if err != nil {
			return err
		}
		aliasIDs(generic)
		if err := tmpl.Execute(w, generic); err != nil {
			return errdefs.Newf(errdefs.ErrInvalid, "format %q: %v", format, err)
		}
	}
	return nil
}

// jsonShape turns v into what its JSON decodes to, with whole numbers as int64 rather than
// float64, so `{{if eq .State.ExitCode 0}}` compares and `{{.Host.MemTotal}}` prints digits as
// they do over Docker's typed structs.
func jsonShape(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return numbers(generic), nil
}

func numbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = numbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbers(e)
		}
	}
	return v
}

// Object prints one value through a template that sees its Go fields and methods, or as
// indented JSON for `json`.
func Object(w io.Writer, format string, v any) error {
	if format == "json" {
		return writeIndented(w, v, "  ")
	}
	tmpl, err := parseLine(format)
	if err != nil {
		return err
	}
	if err := tmpl.Execute(w, v); err != nil {
		return errdefs.Newf(errdefs.ErrInvalid, "format %q: %v", format, err)
	}
	return nil
}

// aliasIDs adds ID beside every JSON "Id", nested ones included: Docker's and Podman's
// templates run over typed structs, whose id field is ID ({{.ID}}, {{(index .Containers 0).ID}}
// of pod inspect), so those work here too.
func aliasIDs(v any) {
	switch x := v.(type) {
	case map[string]any:
		if _, has := x["ID"]; !has && x["Id"] != nil {
			x["ID"] = x["Id"]
		}
		for k, e := range x {
			if k != "ID" {
				aliasIDs(e)
			}
		}
	case []any:
		for _, e := range x {
			aliasIDs(e)
		}
	}
}
