// Joins berth's rootless user namespace before Go starts, driven by the environment:
//   _BERTH_USERNS_JOIN_FD=<fd>   an open /proc/<pause>/ns/user
//   _BERTH_USERNS_LOCK_FD=<fd>   the pause lock, held (shared) until the namespace is joined,
//                                so the pause process never exits while a command joins
// Then a new mount namespace of its own, private, as a fresh namespace gets.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static void die(const char *what) {
	fprintf(stderr, "Error: join berth's user namespace: %s: %s\n", what, strerror(errno));
	_exit(125);
}

__attribute__((constructor)) static void berth_userns_join(void) {
	const char *ns = getenv("_BERTH_USERNS_JOIN_FD");
	if (!ns)
		return;
	const char *lock = getenv("_BERTH_USERNS_LOCK_FD");
	int fd = atoi(ns);
	if (setns(fd, CLONE_NEWUSER) < 0)
		die("setns");
	close(fd);
	if (lock)
		close(atoi(lock));
	if (unshare(CLONE_NEWNS) < 0)
		die("unshare mount namespace");
	// Mounts made for storage stay in this namespace.
	if (mount("", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("make / private");
	unsetenv("_BERTH_USERNS_JOIN_FD");
	unsetenv("_BERTH_USERNS_LOCK_FD");
}

// The pause (see internal/userns/pause_linux.go) runs here, before Go starts, so that it
// costs a few hundred kilobytes:
//   _BERTH_USERNS_PAUSE=<dir>    hold this user namespace; exit once nothing else runs in it
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>

// others_in says whether a process other than us is in the user namespace self. Holding
// every capability here, we may read the namespace of any process in it (those of other
// users and namespaces, which we may not, are not ours).
static int others_in(const char *self) {
	DIR *d = opendir("/proc");
	if (!d)
		return 1;
	struct dirent *e;
	char me[32], path[300], link[128];
	snprintf(me, sizeof(me), "%d", (int)getpid());
	int found = 0;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || strcmp(e->d_name, me) == 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/user", e->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n >= 0) {
			link[n] = 0;
			found = strcmp(link, self) == 0;
		}
	}
	closedir(d);
	return found;
}

static void pause_main(const char *dir) {
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	setsid();
	if (chdir("/") < 0)
		_exit(1);
	char self[128], path[4096];
	ssize_t n = readlink("/proc/self/ns/user", self, sizeof(self) - 1);
	if (n < 0)
		_exit(1);
	self[n] = 0;
	for (int idle = 0;;) {
		sleep(5);
		if (others_in(self)) {
			idle = 0;
			continue;
		}
		if (++idle < 2)
			continue;
		snprintf(path, sizeof(path), "%s/userns.lock", dir);
		int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (lock < 0)
			_exit(0); // our directory is gone: no command can find us to join
		// Held shared by a command joining us: stay.
		if (flock(lock, LOCK_EX | LOCK_NB) < 0 || others_in(self)) {
			close(lock);
			idle = 0;
			continue;
		}
		char pid[32], want[32];
		snprintf(path, sizeof(path), "%s/userns.pid", dir);
		snprintf(want, sizeof(want), "%d", (int)getpid());
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t m = read(fd, pid, sizeof(pid) - 1);
			close(fd);
			if (m > 0) {
				pid[m] = 0;
				if (strcmp(pid, want) == 0)
					unlink(path);
			}
		}
		_exit(0); // the lock goes with us
	}
}

__attribute__((constructor)) static void berth_userns_pause(void) {
	const char *dir = getenv("_BERTH_USERNS_PAUSE");
	// Only once berth's own setup has mapped our ids (the re-exec after it unsets its sync).
	if (dir && !getenv("_BERTH_USERNS_SYNC"))
		pause_main(dir);
}
