// Package reexec runs berth's own binary in another mode (container init, layer extraction
// in a user namespace, netns helpers). main calls Init before anything else; a mode is
// selected by argv[0], so `ps` shows what each helper process is.
package reexec

import (
	"fmt"
	"os"
	"os/exec"
)

var modes = map[string]func(){}

// Register makes fn the entrypoint for argv[0] == name. Call it from init only.
func Register(name string, fn func()) {
	if _, dup := modes[name]; dup {
		panic(fmt.Sprintf("reexec: %s registered twice", name))
	}
	modes[name] = fn
}

// Init runs the registered mode selected by argv[0] and reports whether it did.
func Init() bool {
	fn, ok := modes[os.Args[0]]
	if !ok {
		return false
	}
	fn()
	return true
}

// Self is the path that re-executes the running binary.
func Self() string { return "/proc/self/exe" }

// Command builds an exec.Cmd that starts the running binary in mode name. It fails loudly
// at run time if the binary has no such mode registered (the child exits 125).
func Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(Self(), args...)
	cmd.Args[0] = name
	return cmd
}
