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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "anet.h"
#include "bench.h"
#include "buf.h"
#include "codec.h"
#include "frame.h"
#include "log.h"
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

/*
 * The request's type once it has all arrived (-1 for a message too short
 * to hold one); 0 while more is to come; -2 for one to drop unanswered,
 * as the unframed servers do with an unknown type.
 */
static int
request_type(struct span in, enum wire wire, int *type)
{
	char why[FRAME_WHY_LEN];
	struct span msg;
	size_t need;
	uint16_t t;

	switch (frame_request(wire, in, &msg, &need, why)) {
	case FRAME_INCOMPLETE:
		return 0;
	case FRAME_BAD:
		*type = -2;
		return 1;
	case FRAME_COMPLETE:
		break;
	}
	*type = get_u16(&msg, &t) == 0 ? t : -1;
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
		if (request_type(in, wire, &type)) {
			if (type != -2)
				respond(fd, wire, type);
			(*calls)++;
			return 1;
		}
		if (c->in.len == 0)
			buf_append(&c->in, scratch, (size_t)n);
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
	char *scratch, err[ANET_ERR_LEN];
	size_t scratchlen = 65536 + 4;
	int lfd, epfd, n, i, k, fd, setsize, maxfd = -1;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur > 1 << 20)
		rl.rlim_cur = 1 << 20;
	setsize = (int)rl.rlim_cur;
	if ((lfd = anet_listen(port, 4096, err)) == -1) {
		fprintf(stderr, "rpcchat-bench: %s\n", err);
		return 1;
	}
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
	log_msg("Listening on :%d", anet_local_port(lfd));

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
				fd = anet_accept(lfd, &peer);
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
						log_msg("accept: %s",
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
