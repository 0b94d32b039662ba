//go:build race

package dns

// raceEnabled: the race detector multiplies memory use, so RSS bounds do not apply.
const raceEnabled = true
