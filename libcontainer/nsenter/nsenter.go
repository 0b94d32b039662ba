//go:build linux && cgo

// Package nsenter joins a running container's namespaces from a C constructor that runs
// before the Go runtime starts (see nsenter.c). Importing it is all it takes; it does nothing
// unless the _BERTH_NSENTER_* environment variables are set.
package nsenter

/*
#cgo CFLAGS: -Wall
*/
import "C"
