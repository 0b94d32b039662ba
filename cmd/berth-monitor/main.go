// Command berth-monitor is the one small process that stays with a running container, in
// conmon's role. It is written in C (monitor.c) and runs from an ELF constructor before the Go
// runtime starts, so that a running container costs its monitor about a megabyte: the Go
// runtime alone would take most of the 2 MB budget. It links neither the CLI, SQLite nor
// registry code. The same binary is `run --init`'s init (berth_init_main) and a pod's infra
// process (berth_pause_main).
package main

/*
#cgo CFLAGS: -O2 -Wall -Wno-unused-result
#include <string.h>
extern int berth_monitor_main(int argc, char **argv);
extern int berth_init_main(int argc, char **argv);
extern int berth_pause_main(int argc, char **argv);

// As /run/berth-init in a container (run --init) the same binary is the container's init; as
// /berth-pause in the pause image it is a pod's infra process.
__attribute__((constructor)) static void berth_monitor(int argc, char **argv) {
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (!strcmp(base, "berth-init")) berth_init_main(argc, argv);
	if (!strcmp(base, "berth-pause")) berth_pause_main(argc, argv);
	berth_monitor_main(argc, argv);
}
*/
import "C"

func main() {}
