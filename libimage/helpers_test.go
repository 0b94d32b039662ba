//go:build linux

package libimage_test

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func appendLayer(base v1.Image, l v1.Layer) (v1.Image, error) { return mutate.AppendLayers(base, l) }
