package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCompletionsCurrent checks that completions/ matches what `make completions` generates
// from the current command tree.
func TestCompletionsCurrent(t *testing.T) {
	b := NewBerth(t)
	for shell, file := range map[string]string{"bash": "berth.bash", "zsh": "_berth", "fish": "berth.fish"} {
		want := b.Run("completion", shell).WantSuccess(t).Stdout
		got, err := os.ReadFile(filepath.Join("..", "completions", file))
		if err != nil {
			t.Fatalf("read completions/%s: %v (run make completions)", file, err)
		}
		if string(got) != want {
			t.Errorf("completions/%s is stale: run make completions", file)
		}
	}
}
