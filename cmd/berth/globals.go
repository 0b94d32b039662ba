package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/internal/errdefs"
)

// checkGlobalFlags finds an unknown flag before the command name and reports it as a flag.
// Cobra would take `berth --nosuch stop x` for the command "x" (it assumes an unknown flag
// takes the next word as its value).
func checkGlobalFlags(root *cobra.Command, args []string) error {
	lookup := func(name string, short bool) *pflag.Flag {
		for _, fs := range []*pflag.FlagSet{root.PersistentFlags(), root.Flags()} {
			if short {
				if f := fs.ShorthandLookup(name); f != nil {
					return f
				}
			} else if f := fs.Lookup(name); f != nil {
				return f
			}
		}
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			return nil
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		short := !strings.HasPrefix(a, "--")
		if short && len(name) > 1 { // -abc: only the last may take a value
			name = name[len(name)-1:]
		}
		if name == "help" || name == "h" || name == "version" || name == "v" {
			continue
		}
		f := lookup(name, short)
		if f == nil {
			return errdefs.Newf(errdefs.ErrUsage, "unknown flag: %s\nSee 'berth --help'", strings.SplitN(a, "=", 2)[0])
		}
		if !hasValue && f.NoOptDefVal == "" {
			i++ // its value
		}
	}
	return nil
}
