// Package events owns berth's durable event log: every berth command appends the events of
// what it did (container, image, volume, network and pod events, Docker's shape), and
// `berth events` and the Engine API read a window of it or follow it live.
//
// The log is a directory of segments, events-NNNNNNNNNNNNNNNNNNNN.log, each a file of JSON
// lines. Writers take an flock on the directory's lock file, append whole lines with O_APPEND,
// start a new segment when the newest one is full and unlink the oldest beyond the limit.
// Readers never lock: a segment they hold open stays readable after a writer unlinks it, so
// no reader loses the event it is positioned on. Every event has a cursor (segment and byte
// offset) from which a later reader resumes exactly, across rotations too. Followers wait
// on inotify, never poll.
//
// The package never decides what an event means: the engine emits, this package stores,
// filters and replays.
package events
