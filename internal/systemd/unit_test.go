package systemd

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseUnit(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Entry // of section [S]
		err      string
	}{
		{"plain", "[S]\nA=1\nB = two words \n", []Entry{{"A", "1", 2}, {"B", "two words", 3}}, ""},
		{"comments", "# c\n; c\n[S]\n# A=0\nA=1\n", []Entry{{"A", "1", 5}}, ""},
		{"continuation", "[S]\nExec=a \\\n  b \\\n# skipped\n  c\nB=2\n", []Entry{{"Exec", "a  b  c", 2}, {"B", "2", 6}}, ""},
		{"repeated section", "[S]\nA=1\n[T]\nX=y\n[S]\nA=2\n", []Entry{{"A", "1", 2}, {"A", "2", 6}}, ""},
		{"empty value", "[S]\nA=\n", []Entry{{"A", "", 2}}, ""},
		{"outside section", "A=1\n", nil, "f:1: assignment outside of any section: \"A=1\""},
		{"no equals", "[S]\nA\n", nil, "f:2: missing '=' in \"A\""},
		{"bad header", "[S\n", nil, "f:1: invalid section header \"[S\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseUnit("f", strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("ParseUnit(%q) error = %v, want %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseUnit(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, u.Lookup("S").Entries); diff != "" {
				t.Errorf("ParseUnit(%q) [S] mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestSectionAllResets(t *testing.T) {
	s := &Section{Name: "S", Entries: []Entry{{"A", "1", 1}, {"A", "", 2}, {"A", "3", 3}}}
	if got := s.All("A"); len(got) != 1 || got[0].Value != "3" {
		t.Errorf("All(A) = %v, want only 3 (an empty value resets the list)", got)
	}
	if got, _ := s.Last("A"); got.Value != "3" {
		t.Errorf("Last(A) = %v", got)
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{`a b  c`, []string{"a", "b", "c"}, false},
		{`A="b c" D='e f'`, []string{"A=b c", "D=e f"}, false},
		{`"x\"y" z\ w`, []string{`x"y`, "z w"}, false},
		{`"open`, nil, true},
		{`trailing\`, nil, true},
	}
	for _, tc := range tests {
		got, err := SplitWords(tc.in)
		if (err != nil) != tc.err || !cmp.Equal(got, tc.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// FuzzParseUnit: any input parses or fails cleanly, and what parses renders to text that
// parses to the same sections.
func FuzzParseUnit(f *testing.F) {
	f.Add("[Container]\nImage=busybox\nExec=sh -c \"echo hi\" \\\n  more\n")
	f.Add("# c\n[Unit]\nA=\n[Service]\nB=1\n")
	f.Fuzz(func(t *testing.T, in string) {
		u, err := ParseUnit("f", strings.NewReader(in))
		if err != nil {
			return
		}
		again, err := ParseUnit("f", strings.NewReader(u.String()))
		if err != nil {
			t.Fatalf("rendered unit does not parse: %v\n%s", err, u.String())
		}
		for _, s := range u.Sections {
			a, b := s.Entries, again.Lookup(s.Name).Entries
			if len(a) != len(b) {
				t.Fatalf("section %s: %d entries, %d after a round trip", s.Name, len(a), len(b))
			}
		}
	})
}

// FuzzSplitWords: splitting never panics, and quoting what it returns gives the same words.
func FuzzSplitWords(f *testing.F) {
	f.Add(`a "b c" 'd' e\ f`)
	f.Fuzz(func(t *testing.T, in string) {
		words, err := SplitWords(in)
		if err != nil {
			return
		}
		again, err := SplitWords(quoteArgs(words))
		if err != nil || !cmp.Equal(words, again) && len(words) > 0 {
			t.Fatalf("SplitWords(quoteArgs(%q)) = %q, %v", words, again, err)
		}
	})
}
