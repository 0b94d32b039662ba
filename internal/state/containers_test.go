package state

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestContainerMentioning(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i, r := range []struct{ id, network string }{
		{"aaa1", ""},
		{"bbb2", "container:aaa1"},
		{"ccc3", "container:bbb2"},
		{"ddd4", "container:aaa1"},
	} {
		if err := d.Containers().Insert(ctx, r.id, "n-"+r.id, int64(i), map[string]string{"ID": r.id, "Network": r.network}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ s, want string }{
		{"aaa1", "ddd4 bbb2 aaa1"}, // newest first; itself included (the caller checks what it needs)
		{"bbb2", "ccc3 bbb2"},
		{"zzz9", ""},
	} {
		var got []string
		err := d.Containers().Mentioning(ctx, tc.s, func(data []byte) error {
			var r map[string]string
			if err := json.Unmarshal(data, &r); err != nil {
				return err
			}
			got = append(got, r["ID"])
			return nil
		})
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("Mentioning(%q) = %q, %v, want %q", tc.s, got, err, tc.want)
		}
	}
}

func TestContainerGet(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i, id := range []string{"ab12ff", "ab34ee", "cd56dd"} {
		if err := d.Containers().Insert(ctx, id, "n"+id[:2]+id[4:], int64(i), map[string]string{"ID": id}); err != nil {
			t.Fatal(err)
		}
	}
	// A container named like another's id prefix: the name wins.
	if err := d.Containers().Insert(ctx, "ef78cc", "cd", 3, map[string]string{"ID": "ef78cc"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ref, want, err string }{
		{"ab12ff", "ab12ff", ""},
		{"ab1", "ab12ff", ""},
		{"ab", "", "ambiguous"},
		{"nabff", "ab12ff", ""},
		{"cd", "ef78cc", ""},
		{"cd5", "cd56dd", ""},
		{"ab%", "", "no such container"},
		{"a_12", "", "no such container"},
		{"AB1", "", "no such container"},
		{"", "", "no such container"},
	} {
		var r map[string]string
		id, err := d.Containers().Get(ctx, tc.ref, &r)
		if id != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Get(%q) = %q, %v, want %q, %q", tc.ref, id, err, tc.want, tc.err)
		}
	}
}
