//go:build !linux

package kube

import "github.com/berth-project/berth/internal/errdefs"

// WriteFiles needs openat2; it is not supported off Linux.
func WriteFiles(root string, fs FileSet) error { return errdefs.ErrNotSupported }

// RemoveFiles is not supported off Linux.
func RemoveFiles(root, pod string) error { return errdefs.ErrNotSupported }
