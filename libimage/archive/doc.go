// Package archive turns layer tars into directories and directories back into layer tars.
// Extraction is safe against hostile archives: every entry is created relative to a directory
// fd of the root, parents are resolved with openat2(RESOLVE_IN_ROOT) so no symlink can lead
// outside, and names with ".." or a leading "/" are refused. It never holds a layer in memory.
package archive
