// Package systemd turns containers and Quadlet files into systemd units: `berth generate systemd`
// (one unit per container, optionally recreating it from its create command), the Quadlet
// translator (.container, .volume, .network, .kube, .image and .pod files to .service units)
// with the generator entry point systemd runs at boot, the berth-restart.service unit, and the
// sd_notify client berth uses to tell systemd a container is up.
//
// Generation is pure: records and files in, unit text out. It never starts units nor touches
// the engine; the commands in cmd/berth do that.
package systemd
