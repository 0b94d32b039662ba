// Joins a running container's namespaces before the Go runtime starts, while the process is
// still single-threaded (setns of a user or mount namespace is refused to threaded processes).
//
// Driven by the environment:
//   _BERTH_NSENTER_PID=<pid>        the container process whose namespaces to join
//   _BERTH_NSENTER_NS=user,ipc,...  which of them (user first, mnt last)
//   _BERTH_NSENTER_PATHS=pid=/p;...  or namespaces by path (a container's create)
//   _BERTH_NSENTER_UNSHARE=<flags>  namespaces to create after joining (CLONE_NEW* flags)
//   _BERTH_NSENTER_TIMEOFFSETS=...  lines for /proc/self/timens_offsets ("monotonic 5 0")
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

static const char *order[] = {"user", "cgroup", "ipc", "uts", "net", "pid", "time", "mnt"};

// join opens every namespace first (paths may be under /proc of another mount namespace),
// then enters them in order: user first, so the others are entered with its capabilities.
static void join(const char *paths[8]) {
	int fds[8];
	for (int i = 0; i < 8; i++) {
		fds[i] = -1;
		if (!paths[i])
			continue;
		fds[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			die("open", paths[i]);
	}
	for (int i = 0; i < 8; i++) {
		if (fds[i] < 0)
			continue;
		if (setns(fds[i], 0) < 0)
			die("setns", order[i]);
		close(fds[i]);
	}
}

__attribute__((constructor)) static void berth_nsenter(void) {
	const char *pid = getenv("_BERTH_NSENTER_PID");
	const char *list = getenv("_BERTH_NSENTER_NS");
	const char *bypath = getenv("_BERTH_NSENTER_PATHS");
	const char *newns = getenv("_BERTH_NSENTER_UNSHARE");
	const char *pidfd = getenv("_BERTH_NSENTER_PIDFD");
	if (!pidfd || (!(pid && list) && !bypath))
		return;
	static char buf[8][512];
	const char *paths[8] = {0};
	for (int i = 0; i < 8; i++) {
		if (pid && list && strstr(list, order[i])) {
			snprintf(buf[i], sizeof(buf[i]), "/proc/%s/ns/%s", pid, order[i]);
			paths[i] = buf[i];
		}
		if (bypath) {
			// "type=path;type=path"
			char key[16];
			snprintf(key, sizeof(key), "%s=", order[i]);
			const char *p = strstr(bypath, key);
			if (p && (p == bypath || p[-1] == ';')) {
				p += strlen(key);
				size_t n = strcspn(p, ";");
				if (n >= sizeof(buf[i]))
					n = sizeof(buf[i]) - 1;
				memcpy(buf[i], p, n);
				buf[i][n] = 0;
				paths[i] = buf[i];
			}
		}
	}
	join(paths);
	// Namespaces the container gets of its own are made now, inside the joined user namespace.
	if (newns && atoi(newns) && unshare(atoi(newns)) < 0)
		die("unshare", newns);
	// Clock offsets of a new time namespace must be set before any process enters it.
	const char *offsets = getenv("_BERTH_NSENTER_TIMEOFFSETS");
	if (offsets && *offsets) {
		int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, offsets, strlen(offsets)) < 0)
			die("write", "/proc/self/timens_offsets");
		close(fd);
	}
	unsetenv("_BERTH_NSENTER_TIMEOFFSETS");
	int out = atoi(pidfd);
	unsetenv("_BERTH_NSENTER_PID");
	unsetenv("_BERTH_NSENTER_NS");
	unsetenv("_BERTH_NSENTER_PATHS");
	unsetenv("_BERTH_NSENTER_UNSHARE");
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
