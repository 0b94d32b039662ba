// Package dockerapi serves the Docker Engine API (`berth system service`) the daemonless
// way: HTTP handlers decode the official API types (github.com/moby/moby/api) and call
// internal/engine, the same operations, records and locks as the CLI; nothing here keeps
// containers alive. The server exits once idle (no request and no open stream) for its
// idle time. Endpoints it does not serve answer Docker's JSON error with 501.
package dockerapi
