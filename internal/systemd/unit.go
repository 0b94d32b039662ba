package systemd

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Entry is one Key=Value line of a unit file, with the line it started on (0 for generated entries).
type Entry struct {
	Key, Value string
	Line       int
}

// Section is one [Name] of a unit file, its entries in file order.
type Section struct {
	Name    string
	Entries []Entry
}

// Unit is a systemd unit file: its sections in order of first appearance. The same section may
// be given several times in a file; its entries are merged, as systemd does.
type Unit struct {
	// Path names the file for error messages; the unit's name for generated units.
	Path     string
	Sections []*Section
}

// ParseError is a unit file error with the file and line it is about, like
// "/etc/containers/systemd/web.container:7: unknown key Imagee in section [Container]".
type ParseError struct {
	Path string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// ParseUnit reads a unit file. Lines ending in a backslash continue on the next line (comment
// lines inside a continuation are skipped), # and ; start comments, and keys outside a section
// are an error.
func ParseUnit(path string, r io.Reader) (*Unit, error) {
	u := &Unit{Path: path}
	var cur *Section
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		start := lineNo
		for strings.HasSuffix(line, "\\") && sc.Scan() {
			lineNo++
			next := strings.TrimSpace(sc.Text())
			if next != "" && (next[0] == '#' || next[0] == ';') {
				continue // systemd skips comments inside continued lines
			}
			line = line[:len(line)-1] + " " + next
		}
		line = strings.TrimSpace(strings.TrimSuffix(line, "\\"))
		if line == "" {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, &ParseError{path, start, fmt.Sprintf("invalid section header %q", line)}
			}
			cur = u.Section(line[1 : len(line)-1])
			continue
		}
		if cur == nil {
			return nil, &ParseError{path, start, fmt.Sprintf("assignment outside of any section: %q", line)}
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, &ParseError{path, start, fmt.Sprintf("missing '=' in %q", line)}
		}
		cur.Entries = append(cur.Entries, Entry{Key: k, Value: strings.TrimSpace(v), Line: start})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return u, nil
}

// Section returns the named section, adding it at the end when missing.
func (u *Unit) Section(name string) *Section {
	if s := u.Lookup(name); s != nil {
		return s
	}
	s := &Section{Name: name}
	u.Sections = append(u.Sections, s)
	return s
}

// Lookup returns the named section or nil.
func (u *Unit) Lookup(name string) *Section {
	for _, s := range u.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Merge appends a drop-in's sections: its entries come after the unit's own, so a later
// single-valued key wins and list keys accumulate, as in systemd.
func (u *Unit) Merge(d *Unit) {
	for _, s := range d.Sections {
		t := u.Section(s.Name)
		t.Entries = append(t.Entries, s.Entries...)
	}
}

// Add appends Key=Value to a section.
func (s *Section) Add(key, value string) {
	s.Entries = append(s.Entries, Entry{Key: key, Value: value})
}

// Set replaces every Key= of a section with one Key=Value in place of the first.
func (s *Section) Set(key, value string) {
	out := s.Entries[:0]
	done := false
	for _, e := range s.Entries {
		if e.Key != key {
			out = append(out, e)
		} else if !done {
			out = append(out, Entry{Key: key, Value: value, Line: e.Line})
			done = true
		}
	}
	s.Entries = out
	if !done {
		s.Add(key, value)
	}
}

// Last returns the last value of key, as systemd reads single-valued keys.
func (s *Section) Last(key string) (Entry, bool) {
	if s == nil {
		return Entry{}, false
	}
	for i := len(s.Entries) - 1; i >= 0; i-- {
		if s.Entries[i].Key == key {
			return s.Entries[i], true
		}
	}
	return Entry{}, false
}

// All returns every value of key in order; an empty value resets the list, as in systemd.
func (s *Section) All(key string) []Entry {
	if s == nil {
		return nil
	}
	var out []Entry
	for _, e := range s.Entries {
		if e.Key != key {
			continue
		}
		if e.Value == "" {
			out = out[:0]
			continue
		}
		out = append(out, e)
	}
	return out
}

// String renders the unit file: sections separated by blank lines, in order.
func (u *Unit) String() string {
	var b strings.Builder
	for i, s := range u.Sections {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "[%s]\n", s.Name)
		for _, e := range s.Entries {
			fmt.Fprintf(&b, "%s=%s\n", e.Key, e.Value)
		}
	}
	return b.String()
}

// SplitWords splits a value into words as systemd does for ExecStart= and list keys: words are
// separated by spaces, single or double quotes (anywhere in a word) group words, and
// backslashes escape.
func SplitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote, inWord = c, true // quotes may start mid-word: A="b c" is one word, A=b c
		case quote == 0 && (c == ' ' || c == '\t' || c == '\n'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			switch s[i] {
			case 'n':
				cur.WriteByte('\n')
			case 't':
				cur.WriteByte('\t')
			default:
				cur.WriteByte(s[i])
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unbalanced quotes in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// QuoteWord quotes a word for an Exec line when systemd would split or expand it: spaces,
// quotes, backslashes, $ (environment expansion) and % (specifiers) are escaped.
func QuoteWord(w string) string {
	if w == "" {
		return `""`
	}
	if !strings.ContainsAny(w, " \t\n\"'\\$%;") {
		return w
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range w {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '$':
			b.WriteString("$$")
		case '%':
			b.WriteString("%%")
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// JoinWords quotes each word and joins them with spaces.
func JoinWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = QuoteWord(w)
	}
	return strings.Join(q, " ")
}
