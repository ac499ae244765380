/*
 * responder.c - the stateless responder: answers every call with the
 * smallest valid response of its shape (SPEC §2.2), so that the cost of a
 * call is the kernel's and nothing else.  It is what a server of this
 * protocol could at best be, and it does what a good one does, no less:
 * one thread, epoll, accept4 non-blocking, read the whole request, one
 * write, close.  Two things keep the system calls down:
 *
 *   - after accept4 we read at once: on loopback the request is usually
 *     already there, which saves epoll_ctl and an epoll_wait round;
 *   - connections are watched level-triggered only when that read found
 *     the request incomplete, and close() drops them from epoll.
 *
 * A connection that has not sent a full request within the read timeout
 * is closed, and connections are bounded by the descriptor limit.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "buf.h"
#include "codec.h"
#include "xmalloc.h"

#define READ_TIMEOUT_NS		(10ull * 1000000000ull)
#define ACCEPT_BATCH		64
#define ACCEPT_PAUSE_NS		(100ull * 1000000ull)

struct rconn {
	struct buf	 in;		/* a request that came in pieces */
	uint64_t	 since;
	int		 open;
};

static volatile sig_atomic_t	stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
log_line(const char *fmt, const char *arg)
{
	char ts[16];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%H:%M:%S", &tm);
	fprintf(stderr, "%s ", ts);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
}

static int
listen_any(const char *port, int *bound)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char *end;
	long p;
	int fd, on = 1, off = 0;

	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || p < 0 || p > 65535) {
		fprintf(stderr, "rpcchat-bench: bad port: %s\n", port);
		return -1;
	}
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd != -1) {
		memset(&a6, 0, sizeof a6);
		a6.sin6_family = AF_INET6;
		a6.sin6_addr = in6addr_any;
		a6.sin6_port = htons((uint16_t)p);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
		if (bind(fd, (struct sockaddr *)&a6, sizeof a6) == -1) {
			close(fd);
			fd = -1;
		}
	}
	if (fd == -1) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd == -1) {
			fprintf(stderr, "rpcchat-bench: socket: %s\n",
			    strerror(errno));
			return -1;
		}
		memset(&a4, 0, sizeof a4);
		a4.sin_family = AF_INET;
		a4.sin_addr.s_addr = htonl(INADDR_ANY);
		a4.sin_port = htons((uint16_t)p);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
		if (bind(fd, (struct sockaddr *)&a4, sizeof a4) == -1) {
			fprintf(stderr, "rpcchat-bench: bind port %s: %s\n",
			    port, strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (listen(fd, 4096) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		fprintf(stderr, "rpcchat-bench: listen: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	*bound = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/*
 * Whether in holds a whole request; its type in *type (-1 for a frame
 * too short to have one).  An unframed request of an unknown type is
 * "complete" at once: the old servers give up on it.
 */
static int
request_complete(struct span in, enum wire wire, int *type)
{
	uint16_t len, t;
	struct span s;
	int i, nargs;

	*type = -1;
	if (wire == WIRE_FRAMED) {
		if (get_u16(&in, &len) == -1 || in.len < len)
			return 0;
		in.len = len;
		if (get_u16(&in, &t) == 0)
			*type = t;
		return 1;
	}
	if (get_u16(&in, &t) == -1)
		return 0;
	*type = t;
	if ((nargs = msg_type_nargs(t)) < 0)
		return 1;
	for (i = 0; i < nargs; i++)
		if (get_str(&in, &s) == -1)
			return 0;
	return 1;
}

static void
respond(int fd, enum wire wire, int type)
{
	static const char list[] = { 0, 4, 0, 0, 0, 0 };
	static const char plain[] = { 0, 2, 0, 0 };
	const char *p = msg_type_has_list((unsigned)type) ? list : plain;
	size_t n = msg_type_has_list((unsigned)type) ? 6 : 4;

	if (wire == WIRE_UNFRAMED) {
		p += 2;
		n -= 2;
	}
	/* Six bytes into an empty send buffer: all or nothing. */
	if (write(fd, p, n) == -1)
		return;
}

static void
conn_close(struct rconn *c, int fd)
{
	buf_free(&c->in);
	c->open = 0;
	close(fd);
}

/* Reads what is there; 1 when the connection is done with. */
static int
conn_read(struct rconn *c, int fd, enum wire wire, char *scratch,
    size_t scratchlen, unsigned long long *calls)
{
	struct span in;
	ssize_t n;
	int type;

	for (;;) {
		n = read(fd, scratch, scratchlen);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : 1;
		if (n == 0)
			return 1;
		if (c->in.len == 0)
			in = (struct span){ scratch, (size_t)n };
		else {
			buf_append(&c->in, scratch, (size_t)n);
			in = (struct span){ c->in.data, c->in.len };
		}
		if (request_complete(in, wire, &type)) {
			if (type >= 0 || wire == WIRE_FRAMED)
				respond(fd, wire, type);
			(*calls)++;
			return 1;
		}
		if (c->in.len == 0)
			buf_append(&c->in, scratch, (size_t)n);
		if (c->in.len > UNFRAMED_REQUEST_MAX + 2)
			return 1;
	}
}

int
responder_main(const char *port, enum wire wire, int quiet)
{
	struct epoll_event evs[256], ev;
	struct sockaddr_storage peer;
	struct rconn *conns;
	struct rlimit rl;
	struct sigaction sa;
	unsigned long long calls = 0;
	uint64_t now, next_scan, next_log = 0, paused_until = 0;
	socklen_t plen;
	char *scratch, portstr[8];
	size_t scratchlen = 65536 + 4;
	int lfd, epfd, bound, n, i, k, fd, setsize, maxfd = -1;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur > 1 << 20)
		rl.rlim_cur = 1 << 20;
	setsize = (int)rl.rlim_cur;
	if ((lfd = listen_any(port, &bound)) == -1)
		return 1;
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		fprintf(stderr, "rpcchat-bench: epoll_create1: %s\n",
		    strerror(errno));
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) == -1) {
		fprintf(stderr, "rpcchat-bench: epoll_ctl: %s\n",
		    strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	conns = xcalloc((size_t)setsize, sizeof *conns);
	scratch = xmalloc(scratchlen);
	snprintf(portstr, sizeof portstr, "%d", bound);
	log_line("Listening on :%s", portstr);

	now = bench_now_ns();
	next_scan = now + 1000000000ull;
	while (!stop) {
		n = epoll_wait(epfd, evs, 256, paused_until ? 100 : 1000);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "rpcchat-bench: epoll_wait: %s\n",
			    strerror(errno));
			return 1;
		}
		now = bench_now_ns();
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd != lfd) {
				if (conn_read(&conns[fd], fd, wire, scratch,
				    scratchlen, &calls))
					conn_close(&conns[fd], fd);
				continue;
			}
			for (k = 0; k < ACCEPT_BATCH; k++) {
				plen = sizeof peer;
				fd = accept4(lfd, (struct sockaddr *)&peer,
				    &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd == -1) {
					if (errno == EMFILE || errno == ENFILE) {
						/* Level-triggered: don't spin. */
						epoll_ctl(epfd, EPOLL_CTL_DEL, lfd,
						    NULL);
						paused_until = now +
						    ACCEPT_PAUSE_NS;
					}
					if (errno != EAGAIN && errno != EINTR &&
					    errno != ECONNABORTED && !quiet &&
					    now >= next_log) {
						log_line("accept: %s",
						    strerror(errno));
						next_log = now + 1000000000ull;
					}
					break;
				}
				if (fd >= setsize) {
					close(fd);
					continue;
				}
				if (fd > maxfd)
					maxfd = fd;
				conns[fd].open = 1;
				conns[fd].since = now;
				if (conn_read(&conns[fd], fd, wire, scratch,
				    scratchlen, &calls)) {
					conn_close(&conns[fd], fd);
					continue;
				}
				ev.events = EPOLLIN;
				ev.data.fd = fd;
				if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
					conn_close(&conns[fd], fd);
			}
		}
		if (paused_until != 0 && now >= paused_until) {
			ev.events = EPOLLIN;
			ev.data.fd = lfd;
			if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) == 0)
				paused_until = 0;
		}
		if (now >= next_scan) {
			for (fd = 0; fd <= maxfd; fd++)
				if (conns[fd].open &&
				    now - conns[fd].since > READ_TIMEOUT_NS)
					conn_close(&conns[fd], fd);
			next_scan = now + 1000000000ull;
		}
	}
	if (!quiet)
		fprintf(stderr, "responder: %llu calls\n", calls);
	free(scratch);
	free(conns);
	close(epfd);
	close(lfd);
	return 0;
}
