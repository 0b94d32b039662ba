package libimage

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

func TestClampTar(t *testing.T) {
	epoch := time.Unix(1700000000, 0).UTC()
	before := time.Unix(1600000000, 0).UTC()
	after := time.Unix(1800000000, 500).UTC()
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	for _, h := range []*tar.Header{
		{Name: "old", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: before, Format: tar.FormatPAX},
		{Name: "new", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3, ModTime: after, AccessTime: after, ChangeTime: after, Format: tar.FormatPAX},
		{Name: "gnu", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: after, Format: tar.FormatGNU},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, "abc"[:h.Size])
	}
	tw.Close()
	clamp := func(epoch *time.Time) []byte {
		var out bytes.Buffer
		if err := clampTar(context.Background(), bytes.NewReader(in.Bytes()), &out, epoch); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	out := clamp(&epoch)
	want := map[string]time.Time{"old": before, "new": epoch, "gnu": epoch}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(want[h.Name]) || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: mtime %v atime %v ctime %v, want mtime %v and no atime/ctime", h.Name, h.ModTime, h.AccessTime, h.ChangeTime, want[h.Name])
		}
		if h.Name == "new" {
			if b, _ := io.ReadAll(tr); string(b) != "abc" {
				t.Errorf("new: content %q", b)
			}
		}
	}
	if !bytes.Equal(out, clamp(&epoch)) {
		t.Error("clamping the same input twice differs")
	}
	// Without an epoch times only lose their sub-second part.
	tr = tar.NewReader(bytes.NewReader(clamp(nil)))
	tr.Next()
	if h, _ := tr.Next(); !h.ModTime.Equal(after.Truncate(time.Second)) {
		t.Errorf("no epoch: mtime %v, want %v", h.ModTime, after.Truncate(time.Second))
	}
}
