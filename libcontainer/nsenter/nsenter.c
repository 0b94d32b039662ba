// Joins a running container's namespaces before the Go runtime starts, while the process is
// still single-threaded (setns of a user or mount namespace is refused to threaded processes).
//
// Driven by the environment:
//   _BERTH_NSENTER_PID=<pid>        the container process whose namespaces to join
//   _BERTH_NSENTER_NS=user,ipc,...  which of them (user first, mnt last)
//   _BERTH_NSENTER_PIDFD=<fd>       where to write the pid of the process that goes on
// After joining, it forks so that the child is inside the pid namespace; the parent writes the
// child's pid and exits, and the child continues into Go.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static void die(const char *what, const char *ns) {
	fprintf(stderr, "Error: nsenter: %s %s: %s\n", what, ns ? ns : "", strerror(errno));
	_exit(125);
}

__attribute__((constructor)) static void berth_nsenter(void) {
	const char *pid = getenv("_BERTH_NSENTER_PID");
	const char *list = getenv("_BERTH_NSENTER_NS");
	const char *pidfd = getenv("_BERTH_NSENTER_PIDFD");
	if (!pid || !list || !pidfd)
		return;
	static const char *order[] = {"user", "cgroup", "ipc", "uts", "net", "pid", "time", "mnt"};
	int fds[8];
	int n = 0;
	char path[256];
	for (int i = 0; i < 8; i++) {
		const char *p = strstr(list, order[i]);
		if (!p)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, order[i]);
		fds[n] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[n] < 0)
			die("open", path);
		n++;
	}
	int k = 0;
	for (int i = 0; i < 8; i++) {
		if (!strstr(list, order[i]))
			continue;
		if (setns(fds[k], 0) < 0)
			die("setns", order[i]);
		close(fds[k]);
		k++;
	}
	unsetenv("_BERTH_NSENTER_PID");
	unsetenv("_BERTH_NSENTER_NS");
	int out = atoi(pidfd);
	unsetenv("_BERTH_NSENTER_PIDFD");
	pid_t child = fork();
	if (child < 0)
		die("fork", NULL);
	if (child > 0) {
		dprintf(out, "%d\n", (int)child);
		_exit(0);
	}
	close(out);
}
