//go:build linux && cgo

// Package join enters berth's persistent rootless user namespace from a C constructor that
// runs before the Go runtime starts threads (setns of a user namespace is refused to a
// threaded process). Importing it is all it takes; it does nothing unless
// _BERTH_USERNS_JOIN_FD names an open user namespace (see internal/userns).
package join

/*
#cgo CFLAGS: -Wall
*/
import "C"
