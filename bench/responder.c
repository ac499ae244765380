/*
 * responder.c - the stateless responder: answers every call with the
 * smallest valid response of its shape (PROTOCOL.md §2.2), so that the cost of
 * a call is the kernel's and nothing else.  It is what a server of this
 * protocol could at best be: the fastest single thread we know how to write, so
 * that any gap between it and the server is the server's own cost.  Per call it
 * makes four system calls, accept4, read, send and close, and the kernel sends
 * the fewest segments TCP allows:
 *
 *   - the listener defers accept until the request is in
 *     (TCP_DEFER_ACCEPT), so the read after accept4 finds it and no
 *     connection is woken up for its handshake alone;
 *   - after accept4 we read at once, which saves epoll_ctl and an
 *     epoll_wait round; a connection is watched only when that read found
 *     the request incomplete, and close() drops it from epoll;
 *   - accept4 asks for no peer address and sets the flags itself;
 *   - the response is one send with MSG_MORE, so close() sends it in the
 *     same segment as the FIN.
 *
 * It closes as the server does: a connection whose request was followed
 * by more input gets the lingering close of anet.h, never a reset.  A
 * connection that has not sent a full request within the read timeout
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
#define LINGER_NS		((uint64_t)ANET_LINGER_MS * 1000000ull)
#define DEFER_ACCEPT_S		1

struct rconn {
	struct buf	 in;		/* a request that came in pieces */
	uint64_t	 since;
	int		 open;
	int		 lingering;
	size_t		 budget;	/* bytes a lingering close may discard */
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
 * as the unframed servers do with an unknown type.  *extra: whether
 * input may follow the request (frame.h), read_filled saying whether the
 * last read filled the buffer.
 */
static int
request_type(struct span in, int read_filled, enum wire wire, int *type,
    int *extra)
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
	*extra = frame_input_follows(in, msg, read_filled);
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
	if (send(fd, p, n, MSG_NOSIGNAL | MSG_MORE) == -1)
		return;
}

static void
conn_close(struct rconn *c, int fd)
{
	buf_free(&c->in);
	c->open = 0;
	c->lingering = 0;
	close(fd);
}

/* Reads what is there; 1 when the connection is done with. */
static int
conn_read(struct rconn *c, int fd, enum wire wire, char *scratch,
    size_t scratchlen, unsigned long long *calls, uint64_t now)
{
	struct span in;
	ssize_t n;
	int type, extra;

	if (c->lingering)
		return anet_linger_drain(fd, &c->budget) != ANET_DRAIN_WAIT;
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
		if (request_type(in, (size_t)n == scratchlen, wire, &type,
		    &extra)) {
			if (type == -2)
				return 1;
			respond(fd, wire, type);
			(*calls)++;
			/* The server's closing rule (server.c). */
			if (!extra)
				return 1;
			buf_free(&c->in);
			if (anet_linger_start(fd) == -1)
				return 1;
			c->lingering = 1;
			c->budget = ANET_LINGER_BYTES;
			c->since = now;
			return anet_linger_drain(fd, &c->budget) !=
			    ANET_DRAIN_WAIT;
		}
		if (c->in.len == 0)
			buf_append(&c->in, scratch, (size_t)n);
	}
}

int
responder_main(const char *port, enum wire wire, int quiet)
{
	struct epoll_event evs[256], ev;
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
	(void)anet_defer_accept(lfd, DEFER_ACCEPT_S);
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
				    scratchlen, &calls, now))
					conn_close(&conns[fd], fd);
				continue;
			}
			for (k = 0; k < ACCEPT_BATCH; k++) {
				fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd == -1) {
					if (errno == EMFILE || errno == ENFILE) {
						/* Level-triggered: don't spin.
						 */
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
				    scratchlen, &calls, now)) {
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
				if (conns[fd].open && now - conns[fd].since >
				    (conns[fd].lingering ? LINGER_NS :
				    READ_TIMEOUT_NS))
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
