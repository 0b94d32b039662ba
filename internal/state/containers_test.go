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
