package build

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func TestRunOutputWholeLines(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, false)
	var wg sync.WaitGroup
	for _, word := range []string{"alpha", "beta"} {
		wg.Add(1)
		go func(word string) {
			defer wg.Done()
			o := p.output()
			for i := 0; i < 200; i++ {
				// each line arrives in three pieces
				o.Write([]byte(word[:2]))
				o.Write([]byte(word[2:] + "-"))
				o.Write([]byte(word + "\n"))
			}
			o.Write([]byte("tail-" + word))
			o.flush(false)
		}(word)
	}
	wg.Wait()
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		switch l {
		case "alpha-alpha", "beta-beta", "tail-alpha", "tail-beta":
		default:
			t.Fatalf("line %q mixes two writers' output", l)
		}
	}
}

func TestProgressPrefixAndQuiet(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, false)
	p.prefix = true
	p.linef("builder", "STEP %d/%d: %s", 1, 2, "FROM busybox")
	p.linef("", "COMMIT x")
	if got, want := buf.String(), "[builder] STEP 1/2: FROM busybox\nCOMMIT x\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
	buf.Reset()
	q := newProgress(&buf, true)
	q.linef("", "STEP 1/1: FROM x")
	o := q.output()
	o.Write([]byte("noise\n"))
	o.flush(false)
	q.result("sha256:abc")
	if got := buf.String(); got != "sha256:abc\n" {
		t.Errorf("quiet output = %q, want only the ID", got)
	}
	if got := shortID("sha256:0123456789abcdef"); got != "0123456789ab" {
		t.Errorf("shortID = %q", got)
	}
}
