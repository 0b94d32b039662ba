package userns

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSubIDs(t *testing.T) {
	f := filepath.Join(t.TempDir(), "subuid")
	os.WriteFile(f, []byte("alice:100000:65536\n# comment\nbob:200000:1000\n1001:300000:10\nalice:bad:1\n"), 0o644)
	got, err := SubIDs(f, "alice", 1000)
	if err != nil || !reflect.DeepEqual(got, []Range{{100000, 65536}}) {
		t.Errorf("alice: %v %v", got, err)
	}
	if got, err := SubIDs(f, "carol", 1001); err != nil || !reflect.DeepEqual(got, []Range{{300000, 10}}) {
		t.Errorf("by uid: %v %v", got, err)
	}
	if _, err := SubIDs(f, "dave", 1002); err == nil || !strings.Contains(err.Error(), "usermod --add-subuids") {
		t.Errorf("missing user: %v", err)
	}
	if _, err := SubIDs(filepath.Join(t.TempDir(), "none"), "alice", 1000); err == nil {
		t.Error("missing file: no error")
	}
}
