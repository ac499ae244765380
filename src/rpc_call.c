/*
 * rpc_call.c - one call as a non-blocking state machine (see rpc_call.h).
 *
 * Every step does at most one system call's worth of work on what poll()
 * said is ready (one recv of at most 64 KB, one send), so however much
 * or little the server sends, control goes back to the caller's loop
 * after each.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "anet.h"
#include "clock.h"
#include "codec.h"
#include "resolve.h"
#include "rpc_call.h"
#include "xmalloc.h"

#define READ_CHUNK	65536

void
rpc_call_init(struct rpc_call *call)
{
	memset(call, 0, sizeof *call);
	call->state = CALL_IDLE;
	call->fd = -1;
	buf_init(&call->out);
	buf_init(&call->resp);
	rpc_error_init(&call->err);
}

/* "host:port", with an IPv6 address in brackets, for messages. */
static void
format_server(const struct rpc_target *srv, char *out, size_t size)
{
	const char *host = srv->host != NULL ? srv->host : "localhost";

	if (strchr(host, ':') != NULL)
		snprintf(out, size, "[%s]:%s", host, srv->port);
	else
		snprintf(out, size, "%s:%s", host, srv->port);
}

/* "5 s", "0.3 s": how long the call was given. */
static void
format_timeout(int ms, char *out, size_t size)
{
	if (ms % 1000 == 0)
		snprintf(out, size, "%d s", ms / 1000);
	else
		snprintf(out, size, "%.1f s", ms / 1000.0);
}

/* Closes what the call holds; the outcome is kept. */
static void
release(struct rpc_call *call)
{
	if (call->lookup != NULL) {
		/* Kept for the session's next call (see rpc_call.h). */
		if (call->peer != call->own && call->peer->lookup == NULL)
			call->peer->lookup = call->lookup;
		else
			resolve_abandon(call->lookup);
		call->lookup = NULL;
	}
	dial_cancel(&call->dial);
	if (call->fd != -1) {
		close(call->fd);
		call->fd = -1;
	}
	buf_free(&call->out);
}

static void
succeed(struct rpc_call *call)
{
	release(call);
	call->rc = 0;
	rpc_error_setf(&call->err, RPC_OK, "%s", "");
	call->state = CALL_DONE;
}

static void
fail(struct rpc_call *call, enum rpc_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
fail(struct rpc_call *call, enum rpc_status status, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	release(call);
	buf_clear(&call->resp);
	call->rc = -1;
	rpc_error_setf(&call->err, status, "%s", line);
	call->state = CALL_DONE;
}

static void
fail_timeout(struct rpc_call *call)
{
	char t[32];

	format_timeout(call->timeout_ms, t, sizeof t);
	switch (call->state) {
	case CALL_RESOLVING:
		fail(call, RPC_ERR_NET, "connect to %s: timed out after %s "
		    "looking up the name", call->server, t);
		break;
	case CALL_CONNECTING:
		/* Whatever was learnt of the name may be what is wrong. */
		call->peer->naddrs = 0;
		fail(call, RPC_ERR_NET, "connect to %s: timed out after %s",
		    call->server, t);
		break;
	default:
		fail(call, RPC_ERR_NET, "timed out after %s waiting for %s", t,
		    call->server);
		break;
	}
}

static void
connect_peer(struct rpc_call *call)
{
	call->state = CALL_CONNECTING;
	dial_start(&call->dial, call->peer->addrs, call->peer->naddrs);
	/* Starts the first attempt; nothing is ready to report yet. */
	if (dial_step(&call->dial, NULL, 0) == -1) {
		call->peer->naddrs = 0;
		fail(call, RPC_ERR_NET, "connect to %s: %s", call->server,
		    strerror(call->dial.last_errno));
	}
}

void
rpc_peer_use(struct rpc_peer *peer, struct addrinfo *res)
{
	peer->naddrs = dial_order(res, peer->addrs);
	freeaddrinfo(res);
}

/* The addresses of a lookup become the peer's, and are raced. */
static void
use_addresses(struct rpc_call *call, struct addrinfo *res)
{
	rpc_peer_use(call->peer, res);
	connect_peer(call);
}

static void
resolved(struct rpc_call *call)
{
	char err[ANET_ERR_LEN];
	struct addrinfo *res;

	if (resolve_finish(call->lookup, &res, err) == -1) {
		call->lookup = NULL;
		fail(call, RPC_ERR_NET, "%s", err);
		return;
	}
	call->lookup = NULL;
	use_addresses(call, res);
}

void
rpc_call_start(struct rpc_call *call, const struct rpc_target *srv,
    const struct buf *req)
{
	char err[ANET_ERR_LEN];
	struct addrinfo *res;
	const char *host;

	rpc_call_cancel(call);
	call->srv = *srv;
	if (srv->peer == NULL && call->own == NULL)
		call->own = xcalloc(1, sizeof *call->own);
	call->peer = srv->peer != NULL ? srv->peer : call->own;
	call->timeout_ms = srv->timeout_ms > 0 ? srv->timeout_ms :
	    RPC_DEFAULT_TIMEOUT_MS;
	call->deadline = clock_ms() + call->timeout_ms;
	format_server(srv, call->server, sizeof call->server);
	buf_clear(&call->resp);
	call->sent = 0;
	call->rc = -1;
	call->state = CALL_RESOLVING;
	/* Refused here rather than sent with a length that has wrapped. */
	if (req->len > (srv->wire == WIRE_FRAMED ? FRAME_MAX :
	    UNFRAMED_REQUEST_MAX)) {
		fail(call, RPC_ERR_PROTO, "request too large (%zu bytes)",
		    req->len);
		return;
	}
	/* The request goes out in one write, prefix and all. */
	buf_clear(&call->out);
	if (srv->wire == WIRE_FRAMED)
		put_u16(&call->out, req->len);
	buf_append(&call->out, req->data, req->len);
	call->in_header = srv->wire == WIRE_FRAMED;
	call->want = call->in_header ? 2 : 0;

	if (call->peer->naddrs > 0) {
		connect_peer(call);
		return;
	}
	if (call->peer->lookup != NULL) {
		call->lookup = call->peer->lookup;
		call->peer->lookup = NULL;
		return;
	}
	host = srv->host != NULL ? srv->host : "localhost";
	if (resolve_numeric(host, srv->port, &res) == 0) {
		use_addresses(call, res);
		return;
	}
	if ((call->lookup = resolve_start(host, srv->port, err)) == NULL)
		fail(call, RPC_ERR_NET, "%s", err);
}

int
rpc_call_busy(const struct rpc_call *call)
{
	return call->state != CALL_IDLE && call->state != CALL_DONE;
}

size_t
rpc_call_pollfds(const struct rpc_call *call, struct pollfd *pfd, size_t max)
{
	if (max == 0)
		return 0;
	pfd[0].revents = 0;
	switch (call->state) {
	case CALL_RESOLVING:
		pfd[0].fd = resolve_fd(call->lookup);
		pfd[0].events = POLLIN;
		return 1;
	case CALL_CONNECTING:
		return dial_pollfds(&call->dial, pfd, max);
	case CALL_WRITING:
		pfd[0].fd = call->fd;
		pfd[0].events = POLLOUT;
		return 1;
	case CALL_READING:
		pfd[0].fd = call->fd;
		pfd[0].events = POLLIN;
		return 1;
	default:
		return 0;
	}
}

int
rpc_call_wait_ms(const struct rpc_call *call)
{
	long long now = clock_ms(), until = call->deadline, next;

	if (!rpc_call_busy(call))
		return -1;
	if (call->state == CALL_CONNECTING &&
	    (next = dial_next_at(&call->dial)) != -1 && next < until)
		until = next;
	if (until <= now)
		return 0;
	return until - now > 60000 ? 60000 : (int)(until - now);
}

void
rpc_call_cut_deadline(struct rpc_call *call, int ms)
{
	long long at = clock_ms() + ms;

	if (rpc_call_busy(call) && at < call->deadline)
		call->deadline = at;
}


static void
connected(struct rpc_call *call)
{
	struct rpc_peer *p = call->peer;
	struct dial_addr won;
	size_t i = call->dial.won;

	call->fd = call->dial.fd;
	call->dial.fd = -1;
	/* The address that won goes first next time (RFC 8305 §4). */
	if (i > 0 && i < p->naddrs) {
		won = p->addrs[i];
		memmove(&p->addrs[1], &p->addrs[0], i * sizeof p->addrs[0]);
		p->addrs[0] = won;
	}
	call->state = CALL_WRITING;
}

static void
io_failed(struct rpc_call *call, const char *what, int saved)
{
	fail(call, RPC_ERR_NET, "%s %s: %s", what, call->server,
	    strerror(saved));
}

static void
write_some(struct rpc_call *call)
{
	ssize_t n;

	n = send(call->fd, call->out.data + call->sent,
	    call->out.len - call->sent, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			io_failed(call, "write to", errno);
		return;
	}
	call->sent += (size_t)n;
	if (call->sent < call->out.len)
		return;
	/* A probe: a server reading a longer request sees it end here. */
	if (call->srv.half_close && shutdown(call->fd, SHUT_WR) == -1) {
		io_failed(call, "shutdown to", errno);
		return;
	}
	call->state = CALL_READING;
}

/* The framed length has arrived: now the message itself. */
static void
got_header(struct rpc_call *call)
{
	struct span hdr = { call->resp.data, 2 };
	uint16_t len;

	get_u16(&hdr, &len);
	buf_clear(&call->resp);
	call->want = len;
	call->in_header = 0;
	if (len == 0)
		succeed(call);
}

static void
read_some(struct rpc_call *call)
{
	size_t room;
	ssize_t n;
	int framed_header = call->in_header;

	room = call->want > 0 ? call->want - call->resp.len : READ_CHUNK;
	if (room > READ_CHUNK)
		room = READ_CHUNK;
	n = recv(call->fd, buf_reserve(&call->resp, room), room, 0);
	if (n == -1) {
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			io_failed(call, "read from", errno);
		return;
	}
	if (n == 0) {
		if (call->want == 0 && call->resp.len > 0)
			succeed(call);
		else if (call->resp.len == 0 && (framed_header ||
		    call->want == 0))
			fail(call, RPC_ERR_NET, "%s closed the connection "
			    "without a response", call->server);
		else
			fail(call, RPC_ERR_NET, "%s closed the connection "
			    "before the whole response", call->server);
		return;
	}
	call->resp.len += (size_t)n;
	if (call->want == 0 && call->resp.len > UNFRAMED_RESPONSE_MAX) {
		fail(call, RPC_ERR_PROTO, "malformed response: more than %u "
		    "bytes from %s", UNFRAMED_RESPONSE_MAX, call->server);
		return;
	}
	if (call->want == 0 || call->resp.len < call->want)
		return;
	if (framed_header)
		got_header(call);
	else
		succeed(call);
}

int
rpc_call_step(struct rpc_call *call, const struct pollfd *pfd, size_t n)
{
	int ready = 0, r;
	size_t i;

	if (!rpc_call_busy(call))
		return 0;
	for (i = 0; i < n; i++)
		if (pfd[i].revents != 0)
			ready = 1;
	switch (call->state) {
	case CALL_RESOLVING:
		if (ready)
			resolved(call);
		break;
	case CALL_CONNECTING:
		r = dial_step(&call->dial, pfd, n);
		if (r == 1)
			connected(call);
		else if (r == -1) {
			call->peer->naddrs = 0;
			fail(call, RPC_ERR_NET, "connect to %s: %s",
			    call->server, strerror(call->dial.last_errno));
		}
		/* A loopback connect is often writable at once: try. */
		if (call->state == CALL_WRITING)
			write_some(call);
		break;
	case CALL_WRITING:
		if (ready)
			write_some(call);
		break;
	case CALL_READING:
		if (ready)
			read_some(call);
		break;
	default:
		break;
	}
	if (rpc_call_busy(call) && clock_ms() >= call->deadline)
		fail_timeout(call);
	return call->state == CALL_DONE;
}

void
rpc_call_cancel(struct rpc_call *call)
{
	release(call);
	call->state = CALL_IDLE;
}

void
rpc_peer_free(struct rpc_peer *peer)
{
	if (peer->lookup != NULL)
		resolve_abandon(peer->lookup);
	peer->lookup = NULL;
	peer->naddrs = 0;
}

void
rpc_call_free(struct rpc_call *call)
{
	rpc_call_cancel(call);
	buf_free(&call->resp);
	rpc_error_free(&call->err);
	free(call->own);
	call->own = NULL;
}
