//go:build !linux

package cdi

import (
	"errors"

	cdispec "tags.cncf.io/container-device-interface/specs-go"
)

// NVIDIAHost says where GenerateNVIDIA looks; see the Linux implementation.
type NVIDIAHost struct {
	Root             string
	LibDirs, BinDirs []string
	LinkerCache      func() ([]string, error)
}

// DefaultNVIDIAHost is the running host.
func DefaultNVIDIAHost() NVIDIAHost { return NVIDIAHost{Root: "/"} }

// GenerateNVIDIA needs Linux.
func GenerateNVIDIA(NVIDIAHost) (*cdispec.Spec, error) {
	return nil, errors.New("cdi generate nvidia: not supported on this platform")
}
