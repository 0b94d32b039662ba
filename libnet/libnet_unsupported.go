//go:build !linux

package libnet

import (
	"context"

	"github.com/berth-project/berth/internal/errdefs"
)

func notSupported(what string) error {
	return errdefs.Newf(errdefs.ErrNotSupported, "%s: networking is supported on Linux only", what)
}

// NewNetNS is not supported off Linux.
func NewNetNS(path string) error { return notSupported("create network namespace") }

// RemoveNetNS is not supported off Linux.
func RemoveNetNS(path string) error { return notSupported("remove network namespace") }

// EnsureNetwork is not supported off Linux.
func EnsureNetwork(ctx context.Context, n Network) error { return notSupported("set up network") }

// RemoveNetwork is not supported off Linux.
func RemoveNetwork(ctx context.Context, n Network) error { return notSupported("remove network") }

// Setup is not supported off Linux.
func Setup(ctx context.Context, nsPath string, o SetupOptions) error {
	return notSupported("set up container network")
}

// Teardown is not supported off Linux.
func Teardown(ctx context.Context, nsPath string, o SetupOptions) error {
	return notSupported("tear down container network")
}

// Prune is not supported off Linux.
func Prune(ctx context.Context, keepContainer func(id string) bool, keepNetwork func(name string) bool) error {
	return notSupported("prune networks")
}

// TaggedRules is not supported off Linux.
func TaggedRules(id string) ([]string, error) { return nil, notSupported("list rules") }

// Release is not supported off Linux.
func Release(ctx context.Context, nsPath string, o SetupOptions) error {
	return notSupported("release container network")
}

// DefaultUserNet is not supported off Linux.
func DefaultUserNet(preferred string) (string, error) { return "", notSupported("rootless network") }

// CheckUserNet is not supported off Linux.
func CheckUserNet(u UserNet) error { return notSupported("rootless network") }

// StartUserNet is not supported off Linux.
func StartUserNet(ctx context.Context, nsPath string, u UserNet, o UserNetOptions) error {
	return notSupported("rootless network")
}

// StopUserNet is not supported off Linux.
func StopUserNet(dir, id string) error { return notSupported("rootless network") }

// UserNetIDs finds nothing off Linux.
func UserNetIDs(dir string) []string { return nil }

// HostGateway is unknown off Linux.
func (u UserNet) HostGateway() string { return "" }
