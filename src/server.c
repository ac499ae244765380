/*
 * server.c - the chat server: one epoll loop over non-blocking sockets.
 *
 * A connection carries one call.  It is read until a whole request is in
 * (frame.c says when), handed to the dispatcher, answered when the store
 * answers (at once for the memory store), written, and closed.  No step ever
 * blocks, so a slow, silent or hostile client costs the others nothing but its
 * own buffer; every connection has a deadline, and the number of connections is
 * bounded.
 *
 * The transport is kept to its minimum: the listener defers accept until
 * the request is in (TCP_DEFER_ACCEPT), so accept is followed by a read
 * that finds it; the response goes out with MSG_MORE, so that close()
 * sends it in the same segment as the FIN.  A client that sent more than
 * its request gets a lingering close instead (anet.h), so that the
 * response it was given is not destroyed by a reset.
 */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "ae.h"
#include "anet.h"
#include "buf.h"
#include "clock.h"
#include "frame.h"
#include "log.h"
#include "rpc_server.h"
#include "server.h"
#include "signals.h"
#include "store.h"
#include "web.h"
#include "xmalloc.h"

/* Time the server gives calls in flight once it is told to stop. */
#define STOP_GRACE_MS		100
/* How long to stop accepting when the process is out of descriptors. */
#define ACCEPT_PAUSE_MS		100
/*
 * Connections taken per wake-up of the listener: a flood of connects must
 * not keep the loop from deadlines and from the connections it holds.
 * epoll reports the listener again while more are waiting.
 */
#define ACCEPTS_PER_CALL	256
/* Descriptors the server needs besides its connections. */
#define OWN_FDS			32
/* While a request comes in pieces, each read asks for at least this. */
#define READ_CHUNK		512
/*
 * The first read of every connection: more than any request can be
 * (UNFRAMED_REQUEST_MAX, or a frame and its prefix), by a byte.
 */
#define SCRATCH_LEN		(FRAME_MAX + 2 + 1)
_Static_assert(SCRATCH_LEN > UNFRAMED_REQUEST_MAX, "scratch holds a request");
/* Buffers up to this size stay with their slot for the next connection. */
#define KEEP_BUF		4096
/* A peer speaking the other wire is logged once a minute (PROTOCOL.md §6). */
#define WIRE_NOTE_MS		60000
#define WIRE_NOTE_PEERS		64
/*
 * How long the kernel holds a silent connection before accepting it
 * anyway (TCP_DEFER_ACCEPT, rounded up to a SYN-ACK retransmission: the
 * first is at 1 s); the read timeout counts from the accept.
 */
#define DEFER_ACCEPT_S		1

TAILQ_HEAD(conn_list, conn);

struct conn {
	struct server		*srv;
	int			 fd;
	int			 writing;	/* request answered */
	int			 unread;	/* input may follow the request */
	size_t			 need;		/* the request's size, or more */
	size_t			 linger_budget;
	long long		 deadline;
	struct buf		 in;
	struct buf		 out;
	size_t			 sent;
	struct sockaddr_storage	 peer;
	struct dispatch		 call;		/* pending while the store works */
	TAILQ_ENTRY(conn)	 entry;		/* in deadline order */
	struct conn_list	*list;		/* the list entry is on */
};

struct server {
	const struct server_opts *opts;
	/* One slot per descriptor, so a call allocates nothing. */
	struct conn		*conns;
	int			 setsize;
	struct ae_loop		*loop;
	struct store		*store;
	struct web		*web;		/* --web, or NULL */
	struct web_opts		 web_opts;
	char			 web_port[8];
	char			*scratch;	/* SCRATCH_LEN bytes */
	int			 lfd;
	int			 sigfd;
	int			 max_conns;
	int			 nconns;
	/* Every connection has the same timeout, so FIFO is deadline order. */
	struct conn_list	 deadlines;
	/* Lingering closes: their own list, as their timeout is their own. */
	struct conn_list	 lingering;
	int			 stopping;
	int			 status;	/* the exit status, once stopped */
	long long		 stop_deadline;
	long long		 accept_resume;	/* 0: accepting normally */
	long long		 last_refusal_log;
	/* Peers last told about --wire, and when; the oldest is reused. */
	struct {
		struct sockaddr_storage	 peer;
		long long		 at;
	}			 wire_notes[WIRE_NOTE_PEERS];
};

static void	conn_readable(struct ae_loop *, int, void *, int);
static void	conn_writable(struct ae_loop *, int, void *, int);
static void	conn_lingering(struct ae_loop *, int, void *, int);
static void	listener_readable(struct ae_loop *, int, void *, int);

int
server_shutdown_allowed(enum shutdown_policy policy,
    const struct sockaddr_storage *peer)
{
	switch (policy) {
	case SHUTDOWN_ANY:
		return 1;
	case SHUTDOWN_LOCAL:
		return anet_is_loopback(peer);
	case SHUTDOWN_NONE:
		break;
	}
	return 0;
}

static void
recycle(struct buf *b)
{
	if (b->cap > KEEP_BUF)
		buf_free(b);
	else
		buf_clear(b);
}

static void
conn_close(struct server *s, struct conn *c)
{
	ae_unwatch(s->loop, c->fd, 1);
	close(c->fd);
	rpc_abandon(&c->call);
	TAILQ_REMOVE(c->list, c, entry);
	recycle(&c->in);
	recycle(&c->out);
	c->fd = -1;
	s->nconns--;
}

/* What a connection has gathered of a request that came in pieces. */
static struct span
conn_input(const struct conn *c)
{
	return (struct span){ c->in.data, c->in.len };
}

static const char *
peer_name(struct conn *c, char *out)
{
	anet_format_addr(&c->peer, out, ANET_ADDR_LEN);
	return out;
}

/*
 * A client of the other generation gets the answer PROTOCOL.md §3.3 gives any
 * request; the log says what is wrong, naming --wire, once a minute per
 * peer.
 */
static void
note_other_wire(struct server *s, struct conn *c, struct span in)
{
	char peer[ANET_ADDR_LEN];
	long long now;
	size_t i, slot = 0;

	if (!frame_other_wire(s->opts->wire, in))
		return;
	now = clock_ms();
	for (i = 0; i < WIRE_NOTE_PEERS; i++) {
		if (s->wire_notes[i].at != 0 &&
		    anet_same_host(&s->wire_notes[i].peer, &c->peer)) {
			if (now - s->wire_notes[i].at < WIRE_NOTE_MS)
				return;
			slot = i;
			break;
		}
		if (s->wire_notes[i].at < s->wire_notes[slot].at)
			slot = i;
	}
	s->wire_notes[slot].peer = c->peer;
	s->wire_notes[slot].at = now;
	log_client("%s sent %s request (the %s generation of the protocol), but "
	    "this server is --wire %s: that client needs --wire %s, or this "
	    "server --wire %s (rpcchat's client, --wire auto, finds out by "
	    "itself)", peer_name(c, peer),
	    s->opts->wire == WIRE_FRAMED ? "an unframed" : "a framed",
	    s->opts->wire == WIRE_FRAMED ? "older" : "newer",
	    wire_name(s->opts->wire), wire_name(s->opts->wire),
	    s->opts->wire == WIRE_FRAMED ? "unframed" : "framed");
}

static void
conn_reject(struct server *s, struct conn *c, const char *why,
    struct span in)
{
	char peer[ANET_ADDR_LEN];

	note_other_wire(s, c, in);
	log_client("rejected request from %s: %s", peer_name(c, peer), why);
	conn_close(s, c);
}

/* Discards what the peer still sends; closes at its end or past bounds. */
static void
conn_linger_drain(struct server *s, struct conn *c)
{
	if (anet_linger_drain(c->fd, &c->linger_budget) == ANET_DRAIN_WAIT &&
	    ae_watch(s->loop, c->fd, AE_READABLE, conn_lingering, c) == 0)
		return;
	/* End of file, or past the bounds where a reset is acceptable. */
	conn_close(s, c);
}

/*
 * The response is written but the peer may have sent more than its
 * request: close our side only, and wait for its end of file.
 */
static void
conn_linger(struct server *s, struct conn *c)
{
	if (anet_linger_start(c->fd) == -1) {
		conn_close(s, c);
		return;
	}
	c->linger_budget = ANET_LINGER_BYTES;
	c->deadline = clock_ms() + ANET_LINGER_MS;
	TAILQ_REMOVE(c->list, c, entry);
	c->list = &s->lingering;
	TAILQ_INSERT_TAIL(c->list, c, entry);
	conn_linger_drain(s, c);
}

static void
conn_lingering(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct conn *c = data;

	(void)loop;
	(void)fd;
	(void)mask;
	conn_linger_drain(c->srv, c);
}

/*
 * Writes what it can of the response; closes the connection when done.
 * MSG_MORE holds back the last partial segment, so that close() sends it
 * with the FIN: one segment fewer each way.
 */
static void
conn_flush(struct server *s, struct conn *c)
{
	ssize_t n;

	while (c->sent < c->out.len) {
		n = send(c->fd, c->out.data + c->sent, c->out.len - c->sent,
		    MSG_NOSIGNAL | MSG_MORE);
		if (n > 0) {
			c->sent += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (ae_watch(s->loop, c->fd, AE_WRITABLE,
			    conn_writable, c) == 0)
				return;
		}
		/* The peer went away, or we cannot wait for it: give up. */
		conn_close(s, c);
		return;
	}
	if (c->unread)
		conn_linger(s, c);
	else
		conn_close(s, c);
}

/* The response is complete: frame it and start writing. */
static void
conn_answered(struct dispatch *call)
{
	struct conn *c = (struct conn *)(void *)((char *)call -
	    offsetof(struct conn, call));
	struct server *s = c->srv;
	char peer[ANET_ADDR_LEN];

	if (frame_end(s->opts->wire, &c->out) == -1) {
		/* The stubs bound every response; this is a bug, not input. */
		log_msg("internal error: response to %s of %zu bytes "
		    "does not fit a frame", peer_name(c, peer), c->out.len);
		conn_close(s, c);
		return;
	}
	if (call->shutdown_requested && !s->stopping) {
		log_msg("shutting down (Shutdown from %s)", peer_name(c, peer));
		s->stopping = 1;
		s->stop_deadline = call->now_ms + STOP_GRACE_MS;
	}
	/* The request is no longer needed; the write gets a fresh deadline. */
	recycle(&c->in);
	c->writing = 1;
	c->deadline = call->now_ms + s->opts->read_timeout_ms;
	TAILQ_REMOVE(c->list, c, entry);
	TAILQ_INSERT_TAIL(c->list, c, entry);
	conn_flush(s, c);
}

static void
conn_answer(struct server *s, struct conn *c, struct span msg)
{
	struct dispatch *call = &c->call;

	call->store = s->store;
	call->now_ms = clock_ms();
	call->peer = &c->peer;
	call->shutdown_allowed =
	    server_shutdown_allowed(s->opts->allow_shutdown, &c->peer);
	call->shutdown_requested = 0;
	call->done = conn_answered;
	frame_begin(s->opts->wire, &c->out);
	if (rpc_dispatch(call, msg, &c->out))
		conn_answered(call);
	else
		/* Whatever else the peer sends waits for the answer. */
		ae_unwatch(s->loop, c->fd, 0);
}

/*
 * Reads until a whole request is in.  The first read goes to the loop's
 * scratch buffer, where a request that arrived whole (almost every one)
 * is parsed and answered in place; only a request that came in pieces is
 * gathered in the connection's own buffer, each read then asking for
 * exactly what it still needs.
 */
static void
conn_readable(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct conn *c = data;
	struct server *s = c->srv;
	char why[FRAME_WHY_LEN], *p;
	struct span in, msg;
	size_t ask;
	ssize_t n;
	int more;

	(void)loop;
	(void)mask;
	for (;;) {
		if (c->in.len == 0) {
			p = s->scratch;
			ask = SCRATCH_LEN;
		} else {
			/* need > in.len: the request was incomplete. */
			ask = c->need - c->in.len;
			p = buf_reserve(&c->in, ask);
		}
		n = read(fd, p, ask);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (n == 0 && c->in.len > 0)
				conn_reject(s, c, "connection closed before a "
				    "complete request", conn_input(c));
			else
				conn_close(s, c);
			return;
		}
		if (p == s->scratch)
			in = (struct span){ p, (size_t)n };
		else {
			c->in.len += (size_t)n;
			in = conn_input(c);
		}
		switch (frame_request(s->opts->wire, in, &msg, &c->need, why)) {
		case FRAME_COMPLETE:
			note_other_wire(s, c, in);
			/*
			 * The scratch holds more than any request, so filling
			 * it proves more input; a read that took exactly the
			 * rest of a request proves nothing: look before
			 * paying for a lingering close.
			 */
			more = (size_t)n == ask && (p == s->scratch ||
			    anet_input_pending(fd));
			c->unread = frame_input_follows(in, msg, more);
			conn_answer(s, c, msg);
			return;
		case FRAME_BAD:
			conn_reject(s, c, why, in);
			return;
		case FRAME_INCOMPLETE:
			if (p == s->scratch)
				buf_append(&c->in, p, (size_t)n);
			/* And a whole chunk while the request is small. */
			if (c->need < READ_CHUNK)
				c->need = READ_CHUNK;
			break;
		}
	}
}

static void
conn_writable(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct conn *c = data;

	(void)loop;
	(void)fd;
	(void)mask;
	conn_flush(c->srv, c);
}

static void
pause_accepting(struct server *s, long long now)
{
	ae_unwatch(s->loop, s->lfd, 0);
	s->accept_resume = now + ACCEPT_PAUSE_MS;
}

static void
listener_readable(struct ae_loop *loop, int lfd, void *data, int mask)
{
	struct server *s = data;
	struct sockaddr_storage peer;
	struct conn *c;
	long long now;
	int fd, n;

	(void)mask;
	for (n = 0; n < ACCEPTS_PER_CALL; n++) {
		if ((fd = anet_accept(lfd, &peer)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_msg("accept: %s; pausing for %d ms",
				    strerror(errno), ACCEPT_PAUSE_MS);
				pause_accepting(s, clock_ms());
			}
			return;
		}
		/* A WebSocket counts as a connection (--web). */
		if (s->nconns + web_connections(s->web) >= s->max_conns) {
			/* Refuse at once rather than let it wait in a queue. */
			close(fd);
			now = clock_ms();
			if (now - s->last_refusal_log >= 1000) {
				log_msg("refusing connections: %d open "
				    "(--max-connections)", s->nconns);
				s->last_refusal_log = now;
			}
			continue;
		}
		if (fd >= s->setsize) {
			/* fit_descriptor_limit keeps descriptors below this. */
			log_msg("descriptor %d beyond the table; refused", fd);
			close(fd);
			continue;
		}
		c = &s->conns[fd];
		c->fd = fd;
		c->writing = 0;
		c->unread = 0;
		c->sent = 0;
		c->peer = peer;
		c->deadline = clock_ms() + s->opts->read_timeout_ms;
		c->list = &s->deadlines;
		TAILQ_INSERT_TAIL(c->list, c, entry);
		s->nconns++;
		/*
		 * The request often arrives right behind the handshake: try
		 * to read it before paying for a trip through epoll.
		 */
		conn_readable(loop, fd, c, AE_READABLE);
		if (c->fd == fd && !c->writing && !c->call.pending &&
		    ae_watch(loop, fd, AE_READABLE, conn_readable, c) == -1) {
			log_msg("watch connection: %s", strerror(errno));
			conn_close(s, c);
		}
	}
}

static void
signal_readable(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct server *s = data;
	struct signalfd_siginfo si;
	const char *name;

	(void)loop;
	(void)mask;
	if (read(fd, &si, sizeof si) != sizeof si)
		return;
	if (!s->stopping) {
		name = sigabbrev_np((int)si.ssi_signo);
		log_msg("shutting down (SIG%s)", name != NULL ? name : "?");
		s->stopping = 1;
		s->stop_deadline = clock_ms() + STOP_GRACE_MS;
	}
}

static void
idle_user_expired(void *arg, struct span user)
{
	const struct server *s = arg;
	struct buf name = BUF_INIT;

	log_msg("*** %s has logged out (idle for %lld s)",
	    log_quote(&name, user, USER_MAX),
	    (long long)(s->opts->limits.idle_timeout_ms / 1000));
	buf_free(&name);
}

/* The earlier of two deadlines, -1 standing for none. */
static long long
earlier(long long a, long long b)
{
	if (a < 0)
		return b;
	return b < 0 || a < b ? a : b;
}

/* Closes connections past their deadline; returns the next deadline. */
static long long
expire_conns(struct server *s, long long now)
{
	char peer[ANET_ADDR_LEN];
	struct conn *c, *l;

	/* Past the bounds of a lingering close a reset is acceptable. */
	while ((l = TAILQ_FIRST(&s->lingering)) != NULL && l->deadline <= now)
		conn_close(s, l);
	while ((c = TAILQ_FIRST(&s->deadlines)) != NULL && c->deadline <= now) {
		if (!c->writing) {
			note_other_wire(s, c, conn_input(c));
			log_client("closed %s: no complete request within %d s",
			    peer_name(c, peer),
			    s->opts->read_timeout_ms / 1000);
		} else
			log_client("closed %s: response not read within %d s",
			    peer_name(c, peer), s->opts->read_timeout_ms / 1000);
		conn_close(s, c);
	}
	return earlier(c != NULL ? c->deadline : -1,
	    l != NULL ? l->deadline : -1);
}

static int
wait_ms(long long now, long long until, int current)
{
	long long ms;

	if (until < 0)
		return current;
	ms = until > now ? until - now : 0;
	if (current >= 0 && ms > current)
		return current;
	return ms > 60000 ? 60000 : (int)ms;
}

/*
 * Makes room for every connection we promise to hold, plus the few
 * descriptors of our own, and returns how many connections we can hold:
 * fewer than wanted if the system will not raise the limit.  Nothing is
 * logged here, because the first log line must be "Listening on".
 */
static int
fit_descriptor_limit(int want)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want + OWN_FDS;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return want;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need
		    ? need : rl.rlim_max;
		/* If either fails, the limit stays what it was. */
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1 ||
		    getrlimit(RLIMIT_NOFILE, &rl) == -1)
			return want;
	}
	if (rl.rlim_cur >= need)
		return want;
	return rl.rlim_cur > 2 * OWN_FDS ? (int)(rl.rlim_cur - OWN_FDS) :
	    OWN_FDS;
}

/* Closes the listener for good (shutdown): no accept, no resume. */
static void
stop_listening(struct server *s)
{
	if (s->lfd == -1)
		return;
	if (s->loop != NULL)
		ae_unwatch(s->loop, s->lfd, 1);
	close(s->lfd);
	s->lfd = -1;
	s->accept_resume = 0;
}

/* After an accept pause (out of descriptors), listen again. */
static void
resume_accepting(struct server *s, long long now)
{
	s->accept_resume = 0;
	if (s->lfd != -1 && ae_watch(s->loop, s->lfd, AE_READABLE,
	    listener_readable, s) == -1) {
		log_msg("watch listener: %s; retrying", strerror(errno));
		s->accept_resume = now + ACCEPT_PAUSE_MS;
	}
}

/* The store cannot serve us (a Redis holding other limits): exit 1. */
static void
store_refused(void *arg, const char *why)
{
	struct server *s = arg;

	log_msg("store: %s; exiting", why);
	if (!s->stopping) {
		s->stopping = 1;
		s->stop_deadline = clock_ms() + STOP_GRACE_MS;
	}
	s->status = 1;
}

static struct store *
open_store(struct server *s)
{
	struct store_params p = {
		.url = s->opts->store_url,
		.limits = s->opts->limits,
		.sync = s->opts->store_sync,
		.loop = s->loop,
		.expired = idle_user_expired,
		.fatal = store_refused,
		.arg = s,
	};
	char err[256];
	struct store *st;

	if ((st = store_open(&p, err, sizeof err)) == NULL)
		fprintf(stderr, "rpcchat: %s\n", err);
	return st;
}

/*
 * The page for this server (--web): its sessions are clients of ours over
 * loopback, on the wire we speak, sharing --max-connections with us.
 */
static int
start_web(struct server *s)
{
	char err[256] = "";

	s->web_opts = *s->opts->web;
	snprintf(s->web_port, sizeof s->web_port, "%d",
	    anet_local_port(s->lfd));
	s->web_opts.host = "127.0.0.1";
	s->web_opts.port = s->web_port;
	s->web_opts.target = "this server";
	s->web_opts.wire = s->opts->wire;
	s->web_opts.wire_known = 1;
	s->web_opts.server_conns = &s->nconns;
	s->web_opts.max_connections = s->max_conns;
	if ((s->web = web_start(s->loop, &s->web_opts, err, sizeof err)) ==
	    NULL) {
		log_msg("%s", err);
		return -1;
	}
	return 0;
}

int
server_run(const struct server_opts *opts)
{
	struct server s = { .opts = opts, .lfd = -1, .sigfd = -1 };
	char err[ANET_ERR_LEN];
	long long now, next, next_store;
	int status = 1, timeout, i, web_need;

	TAILQ_INIT(&s.deadlines);
	TAILQ_INIT(&s.lingering);
	/* The page's descriptors come out of the same limit (--web). */
	web_need = opts->web != NULL ? web_fds(opts->web) : 0;
	s.max_conns = fit_descriptor_limit(opts->max_connections + web_need) -
	    web_need;
	if (s.max_conns < 1)
		s.max_conns = 1;
	if ((s.sigfd = signals_open()) == -1) {
		fprintf(stderr, "rpcchat: signals: %s\n", strerror(errno));
		goto out;
	}
	if ((s.lfd = anet_listen(opts->port, 511, err)) == -1) {
		fprintf(stderr, "rpcchat: %s\n", err);
		goto out;
	}
	/* An optimisation only: without it every accept just reads first. */
	(void)anet_defer_accept(s.lfd, DEFER_ACCEPT_S);
	s.setsize = s.max_conns + 64 + web_need;
	s.conns = xcalloc((size_t)s.setsize, sizeof *s.conns);
	s.scratch = xmalloc(SCRATCH_LEN);
	for (i = 0; i < s.setsize; i++) {
		s.conns[i].srv = &s;
		s.conns[i].fd = -1;
	}
	if ((s.loop = ae_create(s.setsize)) == NULL) {
		fprintf(stderr, "rpcchat: epoll: %s\n", strerror(errno));
		goto out;
	}
	log_attach(s.loop);
	/* Before any call can come; a store does no I/O until its tick. */
	if ((s.store = open_store(&s)) == NULL)
		goto out;
	if (ae_watch(s.loop, s.lfd, AE_READABLE, listener_readable, &s) == -1 ||
	    ae_watch(s.loop, s.sigfd, AE_READABLE, signal_readable, &s) == -1) {
		fprintf(stderr, "rpcchat: epoll: %s\n", strerror(errno));
		goto out;
	}
	log_msg("Listening on :%d", anet_local_port(s.lfd));
	log_msg("store: %s", store_name(s.store));
	if (s.max_conns < opts->max_connections)
		log_msg("descriptor limit too low: holding at most %d "
		    "connections", s.max_conns);
	if (opts->web != NULL && start_web(&s) == -1)
		goto out;

	for (;;) {
		now = clock_ms();
		next = expire_conns(&s, now);
		next_store = store_tick(s.store, now);
		if (s.web != NULL)
			next = earlier(next, web_tick(s.web, now));
		if (s.stopping) {
			/* Its sessions' server is going: no Quit to send. */
			web_free(s.web);
			s.web = NULL;
			stop_listening(&s);
			if (s.nconns == 0 || now >= s.stop_deadline)
				break;
		}
		if (s.accept_resume != 0 && now >= s.accept_resume)
			resume_accepting(&s, now);
		timeout = wait_ms(now, next, -1);
		timeout = wait_ms(now, next_store, timeout);
		if (s.stopping)
			timeout = wait_ms(now, s.stop_deadline, timeout);
		if (s.accept_resume != 0)
			timeout = wait_ms(now, s.accept_resume, timeout);
		timeout = wait_ms(now, log_tick(), timeout);
		if (ae_poll(s.loop, timeout) == -1 && errno != EINTR) {
			log_msg("epoll_wait: %s", strerror(errno));
			goto out;
		}
	}
	status = s.status;
out:
	web_free(s.web);
	while (!TAILQ_EMPTY(&s.deadlines))
		conn_close(&s, TAILQ_FIRST(&s.deadlines));
	while (!TAILQ_EMPTY(&s.lingering))
		conn_close(&s, TAILQ_FIRST(&s.lingering));
	for (i = 0; s.conns != NULL && i < s.setsize; i++) {
		buf_free(&s.conns[i].in);
		buf_free(&s.conns[i].out);
	}
	/* Calls still pending are answered to slots already closed. */
	store_close(s.store);
	free(s.conns);
	free(s.scratch);
	stop_listening(&s);
	if (s.sigfd != -1)
		close(s.sigfd);
	log_detach();
	ae_destroy(s.loop);
	return status;
}
