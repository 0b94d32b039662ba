// Package format writes command results the way Docker does: a default table, a
// `table TEMPLATE`, a bare Go template per item, or `json`.
package format

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"text/template"
)

// Funcs are the template functions Docker's --format offers.
var Funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"upper":   strings.ToUpper,
	"lower":   strings.ToLower,
	"title":   func(s string) string { return strings.Title(s) }, //nolint:staticcheck // Docker's behaviour
	"split":   strings.Split,
	"join":    strings.Join,
	"println": fmt.Sprintln,
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad": func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
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

var fieldRE = regexp.MustCompile(`\{\{\s*\.(\w+)[^}]*\}\}`)

// Write prints rows (each a struct or map) in the selected format.
func (l List) Write(w io.Writer, rows []any) error {
	f := l.Format
	if l.QuietOn {
		f = "{{." + l.Quiet + "}}"
	}
	if f == "" || f == "table" {
		f = l.Default
	}
	if f == "json" {
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	table := strings.HasPrefix(f, "table")
	if table {
		f = strings.TrimSpace(strings.TrimPrefix(f, "table"))
	}
	f = unescape(f)
	tmpl, err := template.New("format").Funcs(Funcs).Parse(f + "\n")
	if err != nil {
		return fmt.Errorf("parse format %q: %w", l.Format, err)
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
			return fmt.Errorf("format %q: %w", l.Format, err)
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// header turns each {{.Field}} of the template into its column name.
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

// unescape lets users type \t and \n in a shell-quoted --format, as Docker allows.
func unescape(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(s)
}

// Inspect prints objects as a Docker-style indented JSON array, or each through a template.
func Inspect(w io.Writer, format string, objs []any) error {
	if format == "" || format == "json" {
		b, err := json.MarshalIndent(objs, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	tmpl, err := template.New("format").Funcs(Funcs).Parse(unescape(format) + "\n")
	if err != nil {
		return fmt.Errorf("parse format %q: %w", format, err)
	}
	for _, o := range objs {
		// Templates see the JSON shape (Docker's field names), not Go's.
		var generic any
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &generic); err != nil {
			return err
		}
		if err := tmpl.Execute(w, generic); err != nil {
			return fmt.Errorf("format %q: %w", format, err)
		}
	}
	return nil
}
