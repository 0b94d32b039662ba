// berth-monitor: the one small process that stays with a running container (conmon's role).
// It is C, run from a constructor before the Go runtime starts, so that each running container
// costs about a megabyte: see main.go.
//
// It creates the container through the OCI runtime, holds its stdio (pipes, or the pty master
// received on a console socket), writes its log (k8s-file or json-file, rotated), serves attach
// clients on a unix socket, runs health checks, applies the restart policy, reaps the container,
// records its exit status and time, and runs the exit command. It needs no berth CLI process.
//
// Attach protocol (stream socket "attach" in the run directory): frames of
// [1 byte kind][4 bytes big-endian length][data]. Monitor to client: 1 stdout, 2 stderr,
// 3 exit (data: decimal status). Client to monitor: 0 stdin data, 4 close stdin,
// 5 resize (data: rows and cols, 2 bytes each, big-endian).
//
// systemd (--sdnotify, see internal/engine/sdnotify_linux.go): berth itself tells a notify
// unit that the monitor is its main process. With --sdnotify healthy the monitor sends
// READY=1 when a health check first passes; with --sdnotify container it listens on
// notify/notify.sock (bind-mounted into the container as its $NOTIFY_SOCKET) and forwards
// what the container sends, naming itself as MAINPID. --notify-socket is systemd's socket.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum { F_STDIN = 0, F_STDOUT = 1, F_STDERR = 2, F_EXIT = 3, F_CLOSE_STDIN = 4, F_RESIZE = 5 };
enum { LOG_NONE, LOG_K8S, LOG_JSON };
enum { R_NO, R_ON_FAILURE, R_ALWAYS, R_UNLESS_STOPPED };

#define MAX_CLIENTS 32
#define MAX_HEALTH_ARGS 64
#define MAX_NOTIFY_ARGS 16
#define HEALTH_OUT 4096

static struct {
	const char *id, *runtime, *runtime_root, *bundle, *log_path, *exit_file;
	int log_driver, tty, stdin_open, restart, restart_max;
	long long log_max_size;
	int log_max_files;
	char **exit_cmd;
	char *health[MAX_HEALTH_ARGS];
	int nhealth, health_retries;
	char *notify[MAX_NOTIFY_ARGS]; // berth's command recording an event: ... container notify ID
	int nnotify;
	long long health_interval, health_timeout, health_start; // nanoseconds
	long long timeout;                                       // --timeout: kill after (ns), 0 none
	const char *sdnotify, *notify_socket;
} o = {.runtime = "berth-runtime", .log_driver = LOG_K8S, .log_max_files = 1, .health_retries = 3,
       .health_interval = 30000000000LL, .health_timeout = 30000000000LL};

static int epfd, sigfd, listen_fd = -1;
static int out_fd = -1, err_fd = -1, in_fd = -1; // container side: output read ends, stdin write end
static pid_t ctr_pid;
static long long started_at;
static int restarts;
static int timed_out; // --timeout killed the container
static struct client {
	int fd;
	unsigned char buf[4 + 1 + 65536];
	size_t n;
} clients[MAX_CLIENTS];

static struct {
	int fd;
	long long size;
} logf = {.fd = -1};

// health check state
static pid_t health_pid;
static int health_out = -1, health_streak;
static char health_buf[HEALTH_OUT];
static size_t health_n;
static long long health_next, health_deadline, health_started;
static const char *health_status = "starting";
static char health_log[5][HEALTH_OUT * 2 + 128];
static int health_nlog;

static long long now_ns(int clock) {
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die_ready(int ready, const char *fmt, ...) {
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if (*p == '\n') *p = ' ';
	dprintf(ready, "error %s\n", msg);
	_exit(1);
}

static int write_all(int fd, const void *p, size_t n) {
	const char *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		b += w, n -= w;
	}
	return 0;
}

// write_file_atomic writes a file of the run directory (our working directory) by renaming.
static void write_file_atomic(const char *name, const char *data) {
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) return;
	write_all(fd, data, strlen(data));
	close(fd);
	rename(tmp, name);
}

// fmt_time writes ns since the epoch as RFC 3339 with nanoseconds and returns its length.
static int fmt_time(char *dst, size_t n, long long ns) {
	time_t s = ns / 1000000000LL;
	struct tm tm;
	gmtime_r(&s, &tm);
	return snprintf(dst, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	                tm.tm_hour, tm.tm_min, tm.tm_sec, ns % 1000000000LL);
}

// ---- systemd notification ----

static int sd_fd = -1, sd_ready_sent;

// sd_send sends one datagram to systemd's notify socket; a leading @ names an abstract socket.
static void sd_send(const char *msg, size_t len) {
	if (!o.notify_socket || !*o.notify_socket) return;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(o.notify_socket);
	if (n >= sizeof sa.sun_path) return;
	memcpy(sa.sun_path, o.notify_socket, n);
	if (sa.sun_path[0] == '@') sa.sun_path[0] = 0;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) return;
	sendto(fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + n);
	close(fd);
}

static void sd_ready(void) {
	char msg[64];
	if (sd_ready_sent) return;
	sd_ready_sent = 1;
	int n = snprintf(msg, sizeof msg, "MAINPID=%d\nREADY=1", getpid());
	sd_send(msg, n);
}

// sd_listen binds the socket a --sdnotify=container container sends to.
static int sd_listen(void) {
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "notify/notify.sock"};
	unlink(sa.sun_path);
	sd_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sd_fd < 0 || bind(sd_fd, (struct sockaddr *)&sa, sizeof sa) < 0) return -1;
	chmod(sa.sun_path, 0777); // the container's user may be anyone
	return 0;
}

// sd_forward passes the container's messages on, the monitor taking the MAINPID.
static void sd_forward(void) {
	char in[4096], out[4096 + 64];
	ssize_t r;
	while ((r = recv(sd_fd, in, sizeof in - 1, 0)) >= 0) {
		in[r] = 0;
		size_t len = 0;
		for (char *line = strtok(in, "\n"); line; line = strtok(NULL, "\n")) {
			if (!strncmp(line, "MAINPID=", 8)) continue;
			if (!strcmp(line, "READY=1")) sd_ready_sent = 1;
			len += snprintf(out + len, sizeof out - len, "%s\n", line);
		}
		len += snprintf(out + len, sizeof out - len, "MAINPID=%d", getpid());
		sd_send(out, len);
	}
}

// ---- log ----

static void log_open(void) {
	if (o.log_driver == LOG_NONE || !o.log_path || !*o.log_path) return;
	logf.fd = open(o.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	struct stat st;
	logf.size = (logf.fd >= 0 && fstat(logf.fd, &st) == 0) ? st.st_size : 0;
}

static void log_rotate(void) {
	char src[4200], dst[4200];
	close(logf.fd);
	if (o.log_max_files <= 1) {
		truncate(o.log_path, 0);
	} else {
		for (int i = o.log_max_files - 1; i >= 1; i--) {
			if (i > 1)
				snprintf(src, sizeof src, "%s.%d", o.log_path, i - 1);
			else
				snprintf(src, sizeof src, "%s", o.log_path);
			snprintf(dst, sizeof dst, "%s.%d", o.log_path, i);
			rename(src, dst);
		}
	}
	log_open();
}

// json_escape appends s[0:n] as the inside of a JSON string to dst (capacity cap) and returns the new length.
static size_t json_escape(char *dst, size_t len, size_t cap, const char *s, size_t n) {
	for (size_t i = 0; i < n && len + 7 < cap; i++) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			dst[len++] = '\\';
			dst[len++] = c;
		} else if (c == '\n') {
			dst[len++] = '\\', dst[len++] = 'n';
		} else if (c == '\r') {
			dst[len++] = '\\', dst[len++] = 'r';
		} else if (c == '\t') {
			dst[len++] = '\\', dst[len++] = 't';
		} else if (c < 0x20) {
			len += snprintf(dst + len, cap - len, "\\u%04x", c);
		} else {
			dst[len++] = c;
		}
	}
	return len;
}

// log_line writes one record: text without its newline, partial when the line is not complete.
static void log_line(int stream, const char *text, size_t n, int partial) {
	static char rec[2 * 65536 + 256];
	if (logf.fd < 0) return;
	const char *sname = stream == F_STDERR ? "stderr" : "stdout";
	size_t len;
	if (o.log_driver == LOG_JSON) {
		len = snprintf(rec, sizeof rec, "{\"log\":\"");
		len = json_escape(rec, len, sizeof rec - 64, text, n);
		if (!partial) len += snprintf(rec + len, sizeof rec - len, "\\n");
		len += snprintf(rec + len, sizeof rec - len, "\",\"stream\":\"%s\",\"time\":\"", sname);
		len += fmt_time(rec + len, sizeof rec - len, now_ns(CLOCK_REALTIME));
		len += snprintf(rec + len, sizeof rec - len, "\"}\n");
	} else {
		len = fmt_time(rec, sizeof rec, now_ns(CLOCK_REALTIME));
		len += snprintf(rec + len, sizeof rec - len, " %s %c ", sname, partial ? 'P' : 'F');
		if (n > sizeof rec - len - 2) n = sizeof rec - len - 2;
		memcpy(rec + len, text, n);
		len += n;
		rec[len++] = '\n';
	}
	if (o.log_max_size > 0 && logf.size > 0 && logf.size + (long long)len > o.log_max_size) log_rotate();
	if (logf.fd < 0) return;
	write_all(logf.fd, rec, len);
	logf.size += len;
}

// A line is logged when complete; a piece without newline stays pending until more comes or
// the stream ends (then it is logged as partial). Pending pieces longer than the buffer are
// logged as partial records.
static struct {
	char buf[16384];
	size_t n;
} pending[3];

static void log_data(int stream, const char *p, size_t n) {
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		if (pending[stream].n + take > sizeof pending[stream].buf) { // flush as partial
			log_line(stream, pending[stream].buf, pending[stream].n, 1);
			pending[stream].n = 0;
			if (take > sizeof pending[stream].buf) {
				log_line(stream, p, take, 1);
				p += take, n -= take;
				continue;
			}
		}
		memcpy(pending[stream].buf + pending[stream].n, p, take);
		pending[stream].n += take;
		p += take, n -= take;
		if (nl) {
			log_line(stream, pending[stream].buf, pending[stream].n, 0);
			pending[stream].n = 0;
			p++, n--;
		}
	}
}

static void log_flush(int stream) {
	if (pending[stream].n > 0) log_line(stream, pending[stream].buf, pending[stream].n, 1);
	pending[stream].n = 0;
}

// ---- attach clients ----

static void client_drop(struct client *c) {
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->n = 0;
}

static void send_frame(struct client *c, int kind, const void *p, size_t n) {
	unsigned char h[5] = {kind, n >> 24, n >> 16, n >> 8, n};
	if (write_all(c->fd, h, 5) < 0 || write_all(c->fd, p, n) < 0) client_drop(c);
}

static void broadcast(int kind, const void *p, size_t n) {
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0) send_frame(&clients[i], kind, p, n);
}

static void client_accept(void) {
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i].fd < 0) {
			clients[i].fd = fd;
			clients[i].n = 0;
			struct timeval tv = {.tv_sec = 10};
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
			struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
			epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
			return;
		}
	}
	close(fd);
}

static void close_stdin(void) {
	if (in_fd >= 0 && !o.tty) {
		close(in_fd);
		in_fd = -1;
	}
}

static void client_read(struct client *c) {
	ssize_t r = read(c->fd, c->buf + c->n, sizeof c->buf - c->n);
	if (r <= 0) {
		if (r < 0 && errno == EINTR) return;
		client_drop(c);
		return;
	}
	c->n += r;
	for (;;) {
		if (c->n < 5) return;
		size_t len = (size_t)c->buf[1] << 24 | c->buf[2] << 16 | c->buf[3] << 8 | c->buf[4];
		if (len > sizeof c->buf - 5) {
			client_drop(c);
			return;
		}
		if (c->n < 5 + len) return;
		unsigned char *d = c->buf + 5;
		switch (c->buf[0]) {
		case F_STDIN:
			if (in_fd >= 0) write_all(in_fd, d, len);
			break;
		case F_CLOSE_STDIN:
			close_stdin();
			break;
		case F_RESIZE:
			if (o.tty && out_fd >= 0 && len == 4) {
				struct winsize ws = {.ws_row = d[0] << 8 | d[1], .ws_col = d[2] << 8 | d[3]};
				ioctl(out_fd, TIOCSWINSZ, &ws);
			}
			break;
		}
		memmove(c->buf, c->buf + 5 + len, c->n - 5 - len);
		c->n -= 5 + len;
	}
}

// ---- spawning ----

static void runtime_argv(char **argv, int *n) {
	argv[(*n)++] = (char *)o.runtime;
	if (o.runtime_root && *o.runtime_root) {
		argv[(*n)++] = "--root";
		argv[(*n)++] = (char *)o.runtime_root;
	}
}

// default_ignored_signals sets every ignored signal to SIG_DFL. exec keeps ignored signals
// ignored, and a Go runtime after us (runc) keeps an inherited SIG_IGN, so the container
// would never see them. The raw system call reaches the real-time signals glibc reserves.
static void default_ignored_signals(void) {
	struct { uintptr_t handler; unsigned long flags; uintptr_t restorer; uint64_t mask; } old, dfl;
	memset(&dfl, 0, sizeof dfl); // SIG_DFL, no flags, empty mask
	for (int sig = 1; sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP) continue;
		if (syscall(SYS_rt_sigaction, sig, NULL, &old, 8) == 0 && old.handler == (uintptr_t)SIG_IGN)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
	}
}

// spawn runs argv with the given stdio (-1: /dev/null) and returns its pid.
static pid_t spawn(char **argv, int in, int out, int errfd, int new_pgrp) {
	pid_t pid = fork();
	if (pid != 0) return pid;
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	default_ignored_signals();
	if (new_pgrp) setpgid(0, 0);
	int devnull = open("/dev/null", O_RDWR);
	dup2(in >= 0 ? in : devnull, 0);
	dup2(out >= 0 ? out : devnull, 1);
	dup2(errfd >= 0 ? errfd : devnull, 2);
	for (int fd = 3; fd < 1024; fd++) close(fd);
	execvp(argv[0], argv);
	_exit(127);
}

static int wait_pid(pid_t pid) {
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) return 255;
	if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

// notify runs the notify command with the event's words appended: berth records what only the
// monitor sees, a health status change and a restart policy's die and start, in its event log.
// It waits (tens of milliseconds, on rare occasions), so that the events keep their order.
static void notify(const char *event, const char *arg) {
	if (o.nnotify == 0) return;
	char *argv[MAX_NOTIFY_ARGS + 3];
	int n = 0;
	for (int i = 0; i < o.nnotify; i++) argv[n++] = o.notify[i];
	argv[n++] = (char *)event;
	if (arg) argv[n++] = (char *)arg;
	argv[n] = NULL;
	wait_pid(spawn(argv, -1, -1, -1, 0));
}

static int run_runtime(const char *verb, int force) {
	char *argv[16];
	int n = 0;
	runtime_argv(argv, &n);
	argv[n++] = (char *)verb;
	if (force) argv[n++] = "--force";
	argv[n++] = (char *)o.id;
	argv[n] = NULL;
	return wait_pid(spawn(argv, -1, -1, -1, 0));
}

static int recv_fd(int sock) {
	char data[256], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0) return -1;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS) return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	return fd;
}

static void watch(int fd) {
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void unwatch(int *fd) {
	if (*fd < 0) return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

// create_container runs `runtime create`, sets out_fd/err_fd/in_fd and ctr_pid, and returns 0,
// or -1 with the runtime's error in errmsg.
static int create_container(char *errmsg, size_t errn) {
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, inp[2] = {-1, -1}, csock = -1;
	char *argv[24];
	int n = 0;
	runtime_argv(argv, &n);
	argv[n++] = "create";
	argv[n++] = "--bundle";
	argv[n++] = (char *)o.bundle;
	argv[n++] = "--pid-file";
	argv[n++] = "pid";
	if (pipe2(errp, O_CLOEXEC) < 0) goto fail_errno;
	if (o.tty) {
		unlink("console.sock");
		csock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "console.sock"};
		if (csock < 0 || bind(csock, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(csock, 1) < 0) goto fail_errno;
		argv[n++] = "--console-socket";
		argv[n++] = "console.sock";
	} else {
		if (pipe2(outp, O_CLOEXEC) < 0) goto fail_errno;
		if (o.stdin_open && pipe2(inp, O_CLOEXEC) < 0) goto fail_errno;
	}
	argv[n++] = (char *)o.id;
	argv[n] = NULL;
	// Without a terminal the runtime's stderr is the container's: the runtime's own errors
	// arrive there before the container exists.
	pid_t rt = spawn(argv, inp[0], o.tty ? -1 : outp[1], errp[1], 0);
	if (inp[0] >= 0) close(inp[0]);
	if (outp[1] >= 0) close(outp[1]);
	close(errp[1]);
	int master = -1, status = -1;
	if (o.tty) {
		// The runtime connects once the pty exists; a failing runtime exits without connecting.
		for (;;) {
			struct pollfd pf = {.fd = csock, .events = POLLIN};
			if (poll(&pf, 1, 20) > 0) {
				int c = accept4(csock, NULL, NULL, SOCK_CLOEXEC);
				if (c >= 0) {
					master = recv_fd(c);
					close(c);
				}
				break;
			}
			int st;
			if (waitpid(rt, &st, WNOHANG) == rt) {
				status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
				break;
			}
		}
		close(csock);
		unlink("console.sock");
	}
	if (status < 0) status = wait_pid(rt);
	if (status != 0) {
		ssize_t r = read(errp[0], errmsg, errn - 1);
		errmsg[r > 0 ? r : 0] = 0;
		char *m = errmsg;
		while (*m == ' ' || *m == '\n') m++;
		if (!strncmp(m, "Error: ", 7)) m += 7;
		memmove(errmsg, m, strlen(m) + 1);
		for (size_t l = strlen(errmsg); l > 0 && (errmsg[l - 1] == '\n' || errmsg[l - 1] == ' '); l--) errmsg[l - 1] = 0;
		if (!*errmsg) snprintf(errmsg, errn, "%s create exited with status %d", o.runtime, status);
		close(errp[0]);
		if (outp[0] >= 0) close(outp[0]);
		if (inp[1] >= 0) close(inp[1]);
		if (master >= 0) close(master);
		return -1;
	}
	char pidbuf[32] = {0};
	int pf = open("pid", O_RDONLY | O_CLOEXEC);
	if (pf < 0 || read(pf, pidbuf, sizeof pidbuf - 1) <= 0) {
		snprintf(errmsg, errn, "read pid file: %s", strerror(errno));
		return -1;
	}
	close(pf);
	ctr_pid = atoi(pidbuf);
	if (o.tty) {
		close(errp[0]);
		if (master < 0) {
			snprintf(errmsg, errn, "no terminal received from %s", o.runtime);
			return -1;
		}
		out_fd = master;
		in_fd = o.stdin_open ? dup(master) : -1;
		if (in_fd >= 0) fcntl(in_fd, F_SETFD, FD_CLOEXEC);
	} else {
		out_fd = outp[0];
		err_fd = errp[0];
		in_fd = inp[1];
	}
	watch(out_fd);
	if (err_fd >= 0) watch(err_fd);
	return 0;
fail_errno:
	snprintf(errmsg, errn, "monitor: %s", strerror(errno));
	return -1;
}

// ---- health checks ----

static void health_write(void) {
	static char j[sizeof health_log + 256];
	size_t len = snprintf(j, sizeof j, "{\"Status\":\"%s\",\"FailingStreak\":%d,\"Log\":[", health_status, health_streak);
	for (int i = 0; i < health_nlog; i++) len += snprintf(j + len, sizeof j - len, "%s%s", i ? "," : "", health_log[i]);
	snprintf(j + len, sizeof j - len, "]}\n");
	write_file_atomic("health.json", j);
}

static void health_start_check(void) {
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) return;
	char *argv[MAX_HEALTH_ARGS + 8];
	int n = 0;
	runtime_argv(argv, &n);
	argv[n++] = "exec";
	argv[n++] = (char *)o.id;
	for (int i = 0; i < o.nhealth; i++) argv[n++] = o.health[i];
	argv[n] = NULL;
	health_pid = spawn(argv, -1, p[1], p[1], 1);
	close(p[1]);
	health_out = p[0];
	health_n = 0;
	watch(health_out);
	health_started = now_ns(CLOCK_REALTIME);
	health_deadline = now_ns(CLOCK_MONOTONIC) + o.health_timeout;
}

// health_read reads the check's output, keeping the first HEALTH_OUT bytes.
static void health_read(void) {
	char buf[4096];
	ssize_t r = read(health_out, buf, sizeof buf);
	if (r < 0 && errno == EINTR) return;
	if (r <= 0) { // EOF, or nothing more once the check has exited
		unwatch(&health_out);
		return;
	}
	size_t k = (size_t)r < sizeof health_buf - health_n ? (size_t)r : sizeof health_buf - health_n;
	memcpy(health_buf + health_n, buf, k);
	health_n += k;
}

static void health_done(int code, int timed_out) {
	unwatch(&health_out);
	health_pid = 0;
	long long mono = now_ns(CLOCK_MONOTONIC);
	const char *was = health_status;
	if (code == 0) {
		health_streak = 0;
		health_status = "healthy";
		if (o.sdnotify && !strcmp(o.sdnotify, "healthy")) sd_ready();
	} else if (mono - started_at >= o.health_start || strcmp(health_status, "healthy") == 0) {
		// failures in the start period do not count, unless the container was already healthy
		if (++health_streak >= o.health_retries) health_status = "unhealthy";
	}
	char start[64], end[64];
	fmt_time(start, sizeof start, health_started);
	fmt_time(end, sizeof end, now_ns(CLOCK_REALTIME));
	if (timed_out) {
		health_n = snprintf(health_buf, sizeof health_buf, "Health check exceeded timeout (%llds)",
		                    o.health_timeout / 1000000000LL);
		code = -1;
	}
	if (health_nlog == 5) {
		memmove(health_log[0], health_log[1], sizeof health_log[0] * 4);
		health_nlog = 4;
	}
	char *e = health_log[health_nlog++];
	size_t len = snprintf(e, sizeof health_log[0], "{\"Start\":\"%s\",\"End\":\"%s\",\"ExitCode\":%d,\"Output\":\"", start,
	                      end, code);
	len = json_escape(e, len, sizeof health_log[0] - 4, health_buf, health_n);
	snprintf(e + len, sizeof health_log[0] - len, "\"}");
	health_write();
	health_next = mono + o.health_interval;
	if (strcmp(was, health_status) != 0) notify("health_status", health_status);
}

// ---- exit and restart ----

static int should_restart(int code) {
	if (access("stopped", F_OK) == 0) return 0; // the user stopped it
	switch (o.restart) {
	case R_ALWAYS:
	case R_UNLESS_STOPPED:
		return 1;
	case R_ON_FAILURE:
		return code != 0 && (o.restart_max == 0 || restarts < o.restart_max);
	}
	return 0;
}

// on_output copies one read of the container's output to the log and the attach clients; it
// returns 0 once there is nothing more to read now.
static int on_output(int *fd, int stream) {
	char buf[65536];
	ssize_t r = read(*fd, buf, sizeof buf);
	if (r < 0 && errno == EINTR) return 1;
	if (r < 0 && errno == EAGAIN) return 0;
	if (r <= 0) { // EOF, or EIO from a pty whose other side is closed
		log_flush(stream);
		unwatch(fd);
		if (fd == &out_fd && o.tty && in_fd >= 0) close(in_fd), in_fd = -1;
		return 0;
	}
	log_data(stream, buf, r);
	broadcast(stream, buf, r);
	return 1;
}

// drain reads what is left of an output once the container has exited.
static void drain(int *fd, int stream) {
	if (*fd < 0) return;
	fcntl(*fd, F_SETFL, O_NONBLOCK);
	while (*fd >= 0 && on_output(fd, stream)) {}
	log_flush(stream);
	unwatch(fd);
}

static void finish(int code) {
	char buf[64];
	snprintf(buf, sizeof buf, "%d %lld\n", code, now_ns(CLOCK_REALTIME));
	write_file_atomic(o.exit_file, buf);
	snprintf(buf, sizeof buf, "%d", code);
	broadcast(F_EXIT, buf, strlen(buf));
	// An attached client that removes the container itself (run --rm) says so by creating
	// "removing" before it hangs up: wait for the hang-up, briefly.
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i].fd < 0) continue;
		struct timeval tv = {.tv_sec = 1};
		setsockopt(clients[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		while (read(clients[i].fd, buf, sizeof buf) > 0) {}
		client_drop(&clients[i]);
	}
	if (listen_fd >= 0) close(listen_fd);
	unlink("attach");
	if (logf.fd >= 0) close(logf.fd);
	if (o.exit_cmd && o.exit_cmd[0] && access("removing", F_OK) != 0) wait_pid(spawn(o.exit_cmd, -1, -1, -1, 0));
	_exit(0);
}

static int restart_container(void) {
	char err[4096], buf[32];
	restarts++;
	snprintf(buf, sizeof buf, "%d\n", restarts);
	write_file_atomic("restarts", buf);
	run_runtime("delete", 1);
	if (in_fd >= 0) close(in_fd), in_fd = -1;
	if (create_container(err, sizeof err) < 0) return -1;
	if (run_runtime("start", 0) != 0) return -1;
	started_at = now_ns(CLOCK_MONOTONIC);
	notify("start", NULL);
	return 0;
}

// ---- main loop ----

static void usage(void) {
	fprintf(stderr, "usage: berth-monitor --id ID --bundle DIR --exit-file FILE [options] [-- EXIT-COMMAND...]\n");
	_exit(2);
}

static void parse_args(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			o.exit_cmd = argv + i + 1;
			return;
		}
		if (!strcmp(a, "--tty")) {
			o.tty = 1;
			continue;
		}
		if (!strcmp(a, "--stdin")) {
			o.stdin_open = 1;
			continue;
		}
		if (i + 1 >= argc) usage();
		const char *v = argv[++i];
		if (!strcmp(a, "--id")) o.id = v;
		else if (!strcmp(a, "--runtime")) o.runtime = v;
		else if (!strcmp(a, "--runtime-root")) o.runtime_root = v;
		else if (!strcmp(a, "--bundle")) o.bundle = v;
		else if (!strcmp(a, "--log")) o.log_path = v;
		else if (!strcmp(a, "--log-driver")) o.log_driver = !strcmp(v, "none") ? LOG_NONE : !strcmp(v, "json-file") ? LOG_JSON : LOG_K8S;
		else if (!strcmp(a, "--log-max-size")) o.log_max_size = atoll(v);
		else if (!strcmp(a, "--log-max-files")) o.log_max_files = atoi(v);
		else if (!strcmp(a, "--exit-file")) o.exit_file = v;
		else if (!strcmp(a, "--restart")) {
			if (!strcmp(v, "always")) o.restart = R_ALWAYS;
			else if (!strcmp(v, "unless-stopped")) o.restart = R_UNLESS_STOPPED;
			else if (!strncmp(v, "on-failure", 10)) {
				o.restart = R_ON_FAILURE;
				if (v[10] == ':') o.restart_max = atoi(v + 11);
			}
		} else if (!strcmp(a, "--health-arg")) {
			if (o.nhealth < MAX_HEALTH_ARGS - 1) o.health[o.nhealth++] = (char *)v;
		} else if (!strcmp(a, "--notify-arg")) {
			if (o.nnotify < MAX_NOTIFY_ARGS - 1) o.notify[o.nnotify++] = (char *)v;
		} else if (!strcmp(a, "--health-interval")) o.health_interval = atoll(v);
		else if (!strcmp(a, "--health-timeout")) o.health_timeout = atoll(v);
		else if (!strcmp(a, "--health-start-period")) o.health_start = atoll(v);
		else if (!strcmp(a, "--health-retries")) o.health_retries = atoi(v);
		else if (!strcmp(a, "--timeout")) o.timeout = atoll(v);
		else if (!strcmp(a, "--sdnotify")) o.sdnotify = v;
		else if (!strcmp(a, "--notify-socket")) o.notify_socket = v;
		else usage();
	}
}

int berth_monitor_main(int argc, char **argv) {
	parse_args(argc, argv);
	if (!o.id || !o.bundle || !o.exit_file) usage();
	int ready = 3;
	if (fcntl(ready, F_GETFD) < 0) ready = open("/dev/null", O_WRONLY);
	fcntl(ready, F_SETFD, FD_CLOEXEC);
	// The run directory is the exit file's: we work in it, and relative names keep socket
	// paths short.
	static char dir[4096];
	snprintf(dir, sizeof dir, "%s", o.exit_file);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		o.exit_file = slash + 1 - dir + o.exit_file;
		if (chdir(*dir ? dir : "/") < 0) die_ready(ready, "run directory %s: %s", dir, strerror(errno));
	}
	for (int i = 0; i < MAX_CLIENTS; i++) clients[i].fd = -1;

	// Orphaned container processes (the init, once the runtime exits) become our children.
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) die_ready(ready, "subreaper: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	watch(sigfd);

	unlink("attach");
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "attach"};
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(listen_fd, 8) < 0)
		die_ready(ready, "attach socket: %s", strerror(errno));
	watch(listen_fd);

	if (o.sdnotify && !strcmp(o.sdnotify, "container")) {
		if (sd_listen() < 0) die_ready(ready, "notify socket: %s", strerror(errno));
		watch(sd_fd);
	}

	char err[4096];
	if (create_container(err, sizeof err) < 0) {
		unlink("attach");
		die_ready(ready, "%s", err);
	}
	log_open();
	started_at = now_ns(CLOCK_MONOTONIC);
	char buf[64];
	snprintf(buf, sizeof buf, "%d\n", getpid());
	write_file_atomic("monitor.pid", buf);
	dprintf(ready, "ok %d\n", ctr_pid);
	close(ready);
	if (o.nhealth > 0) {
		health_next = started_at + o.health_interval;
		health_write();
	}

	int exited = 0, code = 0;
	long long exit_deadline = 0, restart_at = 0;
	for (;;) {
		long long mono = now_ns(CLOCK_MONOTONIC);
		long long wake = -1;
		if (o.nhealth > 0 && !exited && !restart_at) wake = health_pid ? health_deadline : health_next;
		if (exited && !restart_at) wake = exit_deadline;
		if (restart_at) wake = restart_at;
		// --timeout: the run may last that long from its start, then it is killed.
		if (o.timeout > 0 && !timed_out && !exited && !restart_at && (wake < 0 || started_at + o.timeout < wake)) wake = started_at + o.timeout;
		int timeout = -1;
		if (wake >= 0) timeout = wake <= mono ? 0 : (int)((wake - mono) / 1000000) + 1;
		struct epoll_event evs[16];
		int n = epoll_wait(epfd, evs, 16, timeout);
		if (n < 0 && errno != EINTR) break;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == sigfd) {
				struct signalfd_siginfo si;
				while (read(sigfd, &si, sizeof si) > 0) {}
				int st;
				pid_t p;
				while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
					int c = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
					if (p == ctr_pid) {
						exited = 1, code = c;
						exit_deadline = now_ns(CLOCK_MONOTONIC) + 2000000000LL;
					} else if (p == health_pid) {
						if (health_out >= 0) fcntl(health_out, F_SETFL, O_NONBLOCK);
						while (health_out >= 0) health_read();
						health_done(c, 0);
					}
				}
			} else if (fd == listen_fd) {
				client_accept();
			} else if (fd == out_fd) {
				on_output(&out_fd, F_STDOUT);
			} else if (fd == err_fd) {
				on_output(&err_fd, F_STDERR);
			} else if (fd == health_out) {
				health_read();
			} else if (fd == sd_fd) {
				sd_forward();
			} else {
				for (int j = 0; j < MAX_CLIENTS; j++)
					if (clients[j].fd == fd) client_read(&clients[j]);
			}
		}
		mono = now_ns(CLOCK_MONOTONIC);
		if (o.timeout > 0 && !timed_out && !exited && !restart_at && mono >= started_at + o.timeout) {
			timed_out = 1;
			kill(ctr_pid, SIGKILL); // pid 1 of its namespace: everything in it goes
			o.restart = R_NO;       // a container that ran out of time stays stopped
		}
		if (o.nhealth > 0 && !exited) {
			if (health_pid && mono >= health_deadline) {
				kill(-health_pid, SIGKILL);
				waitpid(health_pid, NULL, 0);
				health_done(1, 1);
			} else if (!health_pid && mono >= health_next) {
				health_start_check();
			}
		}
		if (restart_at && mono >= restart_at) {
			restart_at = 0;
			exited = 0;
			if (restart_container() < 0) finish(code);
			continue;
		}
		if (exited && !restart_at && ((out_fd < 0 && err_fd < 0) || mono >= exit_deadline)) {
			drain(&out_fd, F_STDOUT);
			drain(&err_fd, F_STDERR);
			if (should_restart(code)) {
				long long delay = 100000000LL << (restarts < 9 ? restarts : 9); // 100ms doubling, to ~51s
				snprintf(buf, sizeof buf, "%d %lld\n", code, now_ns(CLOCK_REALTIME));
				write_file_atomic("last-exit", buf);
				snprintf(buf, sizeof buf, "%d", code);
				notify("die", buf);
				restart_at = mono + delay;
				continue;
			}
			finish(code);
		}
	}
	finish(255);
	return 0;
}

// ---- --init: the container's pid 1 (the binary is bind-mounted as /run/berth-init) ----

// berth_init_main runs the command as a child, forwards the signals it gets to it, reaps every
// orphan, and exits with the child's status, as tini does for `docker run --init`.
int berth_init_main(int argc, char **argv) {
	int first = 1;
	if (argc > 1 && !strcmp(argv[1], "--")) first = 2;
	if (first >= argc) {
		fprintf(stderr, "berth-init: no command\n");
		_exit(2);
	}
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t child = fork();
	if (child < 0) {
		perror("berth-init: fork");
		_exit(1);
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		setpgid(0, 0);
		tcsetpgrp(0, getpid());
		execvp(argv[first], argv + first);
		fprintf(stderr, "berth-init: exec %s: %s\n", argv[first], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	for (;;) {
		siginfo_t si;
		struct timespec ts = {.tv_sec = 1};
		int sig = sigtimedwait(&all, &si, &ts);
		if (sig > 0 && sig != SIGCHLD) kill(child, sig);
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			if (p == child) _exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
		}
	}
}

// ---- berth-pause: a pod's infra process (the binary is the pause image's /berth-pause) ----

// berth_pause_main holds a pod's namespaces open for the pod's life: it sleeps in sigwaitinfo,
// reaps whatever is reparented to it (it is pid 1 when the pod shares its pid namespace) and
// exits 0 on SIGTERM, SIGINT or SIGHUP, as podman's catatonit -P does. Nothing else runs, so it
// touches a few pages of the binary: see TestPodInfraMemory for its cost.
int berth_pause_main(int argc, char **argv) {
	(void)argc;
	(void)argv;
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		int sig = sigwaitinfo(&all, NULL);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) _exit(0);
		while (waitpid(-1, NULL, WNOHANG) > 0) {
		}
	}
}
