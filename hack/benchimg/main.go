// Command benchimg pushes a random image (for benchmarks) to a registry over plain HTTP.
//
//	benchimg -layers 8 -size 26214400 127.0.0.1:5000/bench/big:1
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	layers := flag.Int("layers", 8, "number of layers")
	size := flag.Int64("size", 25<<20, "bytes per layer")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: benchimg [-layers N] [-size BYTES] REF")
		os.Exit(2)
	}
	if err := push(flag.Arg(0), *size, *layers); err != nil {
		fmt.Fprintln(os.Stderr, "benchimg:", err)
		os.Exit(1)
	}
}

func push(ref string, size int64, layers int) error {
	img, err := random.Image(size, int64(layers))
	if err != nil {
		return err
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	return remote.Write(r, img)
}
