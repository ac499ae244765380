/*
 * web.c - the web front end: HTTP, WebSockets and the sessions behind
 * them, on one ae loop (see web.h).
 *
 * libmicrohttpd runs without a thread of its own: its epoll descriptor is
 * watched on our loop, MHD_run is called when it is readable or its own
 * timeout is due, and it never blocks.  Every HTTP response closes its
 * connection ("Connection: close"), so each connection carries one
 * request, which must be complete within the read timeout from the
 * accept (a slow or silent client is cut off then, as the RPC server does;
 * libmicrohttpd's own timeout only counts idleness).
 *
 * A WebSocket handshake that passes web_msg.c's checks is answered by
 * libmicrohttpd with 101, which then hands the socket over: from there on
 * it is a "page" here, its frames read and written by wslay through
 * callbacks that read and write without blocking.  Each read of a page is
 * bounded (PAGE_READ_BUDGET), so a page that never stops sending cannot
 * hold the loop; messages are bounded (WEB_MSG_MAX), and what is queued
 * for a page that does not read is bounded too: lines are pulled from its
 * session only while little is queued, and a page whose queue passes
 * PAGE_QUEUE_MAX anyway is closed.
 *
 * The sessions share one lookup of the target's name (target_ready), so a
 * thousand tabs cost one resolver thread, not a thousand.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <microhttpd.h>
#include <wslay/wslay.h>

#include "anet.h"
#include "buf.h"
#include "clock.h"
#include "dial.h"
#include "log.h"
#include "resolve.h"
#include "timers.h"
#include "text.h"
#include "username.h"
#include "web.h"
#include "web_msg.h"
#include "web_session.h"
#include "xmalloc.h"

/* The page, embedded at build time (scripts/embed). */
extern const char web_index_html[], web_chat_css[], web_chat_js[];
extern const size_t web_index_html_len, web_chat_css_len, web_chat_js_len;

/* The longest message a page may send: "line " and a whole Say. */
#define WEB_MSG_MAX		(FRAME_MAX + 64)
/* Bytes read from one page per turn of the loop. */
#define PAGE_READ_BUDGET	(64 * 1024)
/* Lines are pulled from a session while less than this is queued. */
#define PAGE_QUEUE_LOW		(64 * 1024)
/* Queued for a page that does not read: it is closed. */
#define PAGE_QUEUE_MAX		(1024 * 1024)
/* Bytes of HTTP request (headers) a connection may hold. */
#define HTTP_MEMORY		(16 * 1024)
/* HTTP connections beyond the sessions' WebSockets: page loads. */
#define HTTP_EXTRA		64
/* After a failed lookup of the target, the next one waits this long. */
#define LOOKUP_RETRY_MS		1000
/* Leaving: how long the sessions' Quits may take at most. */
#define STOP_MS			3000

static const char csp[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"img-src 'self'; connect-src 'self'; base-uri 'none'; "
	"form-action 'none'; frame-ancestors 'none'";

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

TAILQ_HEAD(page_list, page);
TAILQ_HEAD(entry_list, entry);
TAILQ_HEAD(http_list, http);

/* One HTTP connection, from accept to close or upgrade. */
struct http {
	MHD_socket		 fd;
	long long		 deadline;
	struct http_list	*list;		/* waiting, or past it */
	TAILQ_ENTRY(http)	 entry;
};

/* One WebSocket: a tab of the page. */
struct page {
	struct web		*web;
	int			 fd;
	struct MHD_UpgradeResponseHandle *urh;
	wslay_event_context_ptr	 ws;
	struct sockaddr_storage	 from;
	struct entry		*session;	/* attached, or NULL */
	char			*extra;		/* read by libmicrohttpd */
	size_t			 extra_len, extra_off;
	size_t			 budget;	/* of this turn's reading */
	int			 paused;	/* the session's queue is full */
	int			 failed;
	int			 watched;	/* the mask on the loop */
	struct buf		 out;
	TAILQ_ENTRY(page)	 link;
};

/* A session and the address that started it. */
struct entry {
	struct web_session	*s;
	struct page		*page;
	struct sockaddr_storage	 from;
	TAILQ_ENTRY(entry)	 link;
};

struct web {
	const struct web_opts	*opts;
	struct ae_loop		*loop;
	struct timers		 timers;
	struct web_shared	 sh;
	struct MHD_Daemon	*mhd;
	int			 mhd_fd;
	int			 mhd_due;	/* MHD_run on the next tick */
	struct MHD_Response	*files[4];	/* page, style, script, icon */
	struct MHD_Response	*errors[5];
	struct http_list	 waiting;	/* for a request, in order */
	struct http_list	 answered;	/* or cut off */
	struct page_list	 pages;
	struct entry_list	 entries;
	int			 nhttp;		/* all of libmicrohttpd's */
	int			 nsessions;
	int			 stopping;
	/* The shared lookup of the target's name. */
	struct resolve		*lookup;
	long long		 lookup_retry;	/* failed: not before then */
	long long		 last_refusal_log;
};

static void	page_event(struct ae_loop *, int, void *, int);
static void	page_sync(struct page *);

static int
addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof a6->sin6_addr) == 0;
	return 0;
}

/* -- the target's name, looked up once for every session ---------------- */

static void
kick_sessions(struct web *w)
{
	struct entry *e, *next;

	/* A kick may end a session: its entry goes, the next stays. */
	TAILQ_FOREACH_SAFE(e, &w->entries, link, next)
		web_session_kick(e->s);
}

static void
lookup_done(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct web *w = data;
	char err[ANET_ERR_LEN];
	struct addrinfo *res;

	(void)mask;
	ae_unwatch(loop, fd, 0);
	if (resolve_finish(w->lookup, &res, err) == -1) {
		snprintf(w->sh.target_err, sizeof w->sh.target_err, "%s", err);
		w->lookup_retry = clock_ms() + LOOKUP_RETRY_MS;
	} else {
		w->sh.peer.naddrs = dial_order(res, w->sh.peer.addrs);
		freeaddrinfo(res);
	}
	w->lookup = NULL;
	kick_sessions(w);
}

static int
target_ready(struct web_shared *sh)
{
	struct web *w = sh->owner;
	const char *host = sh->srv.host != NULL ? sh->srv.host : "localhost";
	char err[ANET_ERR_LEN];
	struct addrinfo *res;

	if (sh->peer.naddrs > 0)
		return 1;
	if (w->lookup != NULL)
		return 0;
	if (resolve_numeric(host, sh->srv.port, &res) == 0) {
		sh->peer.naddrs = dial_order(res, sh->peer.addrs);
		freeaddrinfo(res);
		return 1;
	}
	if (clock_ms() < w->lookup_retry)
		return -1;
	if ((w->lookup = resolve_start(host, sh->srv.port, err)) == NULL) {
		snprintf(sh->target_err, sizeof sh->target_err, "%s", err);
		w->lookup_retry = clock_ms() + LOOKUP_RETRY_MS;
		return -1;
	}
	if (ae_watch(w->loop, resolve_fd(w->lookup), AE_READABLE, lookup_done,
	    w) == -1) {
		resolve_abandon(w->lookup);
		w->lookup = NULL;
		snprintf(sh->target_err, sizeof sh->target_err,
		    "look up %s: %s", host, strerror(errno));
		w->lookup_retry = clock_ms() + LOOKUP_RETRY_MS;
		return -1;
	}
	return 0;
}

/* -- sessions ------------------------------------------------------------ */

static struct entry *
entry_of(struct web *w, const struct web_session *s)
{
	struct entry *e;

	TAILQ_FOREACH(e, &w->entries, link)
		if (e->s == s)
			return e;
	return NULL;
}

static void
session_output(struct web_shared *sh, struct web_session *s)
{
	struct entry *e = entry_of(sh->owner, s);

	(void)sh;
	if (e != NULL && e->page != NULL)
		page_sync(e->page);
}

static void
session_ended(struct web_shared *sh, struct web_session *s)
{
	struct web *w = sh->owner;
	struct entry *e = entry_of(w, s);

	if (e == NULL)
		return;
	if (e->page != NULL) {
		e->page->session = NULL;
		page_sync(e->page);
	}
	TAILQ_REMOVE(&w->entries, e, link);
	w->nsessions--;
	web_session_free(s);
	free(e);
}

/* -- a page: one WebSocket ----------------------------------------------- */

/* A message of our own for the page (not a session's). */
static void
page_send(struct page *p, const char *json)
{
	struct wslay_event_msg m = { WSLAY_TEXT_FRAME,
	    (const uint8_t *)json, strlen(json) };

	if (p->ws != NULL && wslay_event_queue_msg(p->ws, &m) != 0)
		p->failed = 1;
}

static void
page_refuse(struct page *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
page_refuse(struct page *p, const char *fmt, ...)
{
	struct buf why = BUF_INIT, json = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(&why, fmt, ap);
	va_end(ap);
	buf_appendf(&json, "{\"t\":\"refused\",\"why\":\"");
	web_json_text(&json, (struct span){ why.data, why.len });
	buf_appendf(&json, "\"}");
	page_send(p, json.data);
	buf_free(&why);
	buf_free(&json);
}

static void
page_close(struct page *p)
{
	struct web *w = p->web;

	if (p->watched)
		ae_unwatch(w->loop, p->fd, 0);
	if (p->session != NULL) {
		p->session->page = NULL;
		web_session_detach(p->session->s);
		p->session = NULL;
	}
	wslay_event_context_free(p->ws);
	/* libmicrohttpd closes the socket on its next run. */
	MHD_upgrade_action(p->urh, MHD_UPGRADE_ACTION_CLOSE);
	w->mhd_due = 1;
	TAILQ_REMOVE(&w->pages, p, link);
	buf_free(&p->out);
	free(p->extra);
	free(p);
}

static int
new_token(char out[WEB_TOKEN_LEN + 1])
{
	unsigned char raw[WEB_TOKEN_LEN / 2];
	size_t i;

	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return -1;
	for (i = 0; i < sizeof raw; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static int
sessions_from(struct web *w, const struct sockaddr_storage *from)
{
	struct entry *e;
	int n = 0;

	TAILQ_FOREACH(e, &w->entries, link)
		if (addr_equal(&e->from, from))
			n++;
	return n;
}

static void
page_login(struct page *p, struct span typed)
{
	struct web *w = p->web;
	struct buf name = BUF_INIT, why = BUF_INIT, shown = BUF_INIT;
	char token[WEB_TOKEN_LEN + 1];
	enum username_status st;
	struct entry *e;
	int normalised;

	if (p->session != NULL)
		return;
	st = username_prepare(typed, &name, &normalised);
	if (st != USERNAME_OK) {
		username_explain(typed, st, &why);
		text_escape(&shown, typed);
		page_refuse(p, "cannot log in as '%.*s': %s", (int)shown.len,
		    shown.data, why.data);
	} else if (w->stopping)
		page_refuse(p, "this web front end is shutting down");
	else if (w->nsessions >= w->opts->max_sessions)
		page_refuse(p, "this web front end holds %d chat sessions, "
		    "its most (--web-max-sessions); try again later",
		    w->opts->max_sessions);
	else if (sessions_from(w, &p->from) >= w->opts->max_per_address)
		page_refuse(p, "%d chat sessions come from your address "
		    "already, the most this web front end takes from one "
		    "(--web-max-per-address)", w->opts->max_per_address);
	else if (new_token(token) == -1)
		page_refuse(p, "no random numbers for a session token: %s",
		    strerror(errno));
	else {
		e = xcalloc(1, sizeof *e);
		e->from = p->from;
		e->page = p;
		e->s = web_session_new(&w->sh, (struct span){ name.data,
		    name.len }, token);
		TAILQ_INSERT_TAIL(&w->entries, e, link);
		w->nsessions++;
		p->session = e;
		web_session_attach(e->s, p, 0);
	}
	buf_free(&name);
	buf_free(&why);
	buf_free(&shown);
}

/* Compares tokens in time that does not depend on where they differ. */
static int
token_eq(const char *a, const char *b)
{
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < WEB_TOKEN_LEN; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static void
page_resume(struct page *p, struct span token, uint64_t seq)
{
	struct web *w = p->web;
	struct entry *e, *found = NULL;
	struct page *old;

	if (p->session != NULL)
		return;
	TAILQ_FOREACH(e, &w->entries, link)
		if (token_eq(web_session_token(e->s), token.p))
			found = e;
	if (found == NULL || !web_session_live(found->s) || w->stopping) {
		page_send(p, "{\"t\":\"expired\"}");
		return;
	}
	if ((old = found->page) != NULL) {
		/* The same tab opened twice: the newer one has it now. */
		old->session = NULL;
		page_send(old, "{\"t\":\"taken\"}");
		wslay_event_queue_close(old->ws, WSLAY_CODE_NORMAL_CLOSURE,
		    NULL, 0);
		page_sync(old);
	}
	found->page = p;
	p->session = found;
	web_session_attach(found->s, p, seq);
}

static void
on_message(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *arg, void *data)
{
	struct page *p = data;
	struct web_in in;

	(void)ctx;
	if (arg->opcode == WSLAY_BINARY_FRAME) {
		wslay_event_queue_close(p->ws, WSLAY_CODE_UNSUPPORTED_DATA,
		    NULL, 0);
		return;
	}
	if (arg->opcode != WSLAY_TEXT_FRAME)
		return;
	web_in_parse((struct span){ (const char *)arg->msg, arg->msg_length },
	    &in);
	switch (in.kind) {
	case WEB_IN_LOGIN:
		page_login(p, in.arg);
		break;
	case WEB_IN_RESUME:
		page_resume(p, in.arg, in.seq);
		break;
	case WEB_IN_LINE:
		/* Taken even when full; reading stops until there is room. */
		if (p->session != NULL &&
		    !web_session_line(p->session->s, in.arg))
			p->paused = 1;
		break;
	case WEB_IN_BAD:
		wslay_event_queue_close(p->ws, WSLAY_CODE_POLICY_VIOLATION,
		    NULL, 0);
		break;
	}
}

static ssize_t
ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *data)
{
	struct page *p = data;
	size_t n;
	ssize_t r;

	(void)flags;
	if (p->extra_off < p->extra_len) {
		n = p->extra_len - p->extra_off;
		n = n < len ? n : len;
		memcpy(buf, p->extra + p->extra_off, n);
		p->extra_off += n;
		return (ssize_t)n;
	}
	if (p->budget == 0 || p->paused) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	n = len < p->budget ? len : p->budget;
	while ((r = recv(p->fd, buf, n, 0)) == -1 && errno == EINTR)
		;
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (r <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	p->budget -= (size_t)r;
	return r;
}

static ssize_t
ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct page *p = arg;
	ssize_t r;

	while ((r = send(p->fd, data, len, MSG_NOSIGNAL |
	    ((flags & WSLAY_MSG_MORE) ? MSG_MORE : 0))) == -1 &&
	    errno == EINTR)
		;
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (r == -1) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return r;
}

static const struct wslay_event_callbacks ws_callbacks = {
	.recv_callback = ws_recv,
	.send_callback = ws_send,
	.on_msg_recv_callback = on_message,
};

/*
 * Pulls what the session has for the page while little is queued, and
 * watches the socket for what wslay wants.  Does no I/O, so a session may
 * call it (through session_output) from anywhere.
 */
static void
page_sync(struct page *p)
{
	struct web *w = p->web;
	struct wslay_event_msg m;
	int mask = 0;

	while (p->session != NULL && !p->failed &&
	    wslay_event_get_queued_msg_length(p->ws) < PAGE_QUEUE_LOW &&
	    web_session_next(p->session->s, &p->out)) {
		m.opcode = WSLAY_TEXT_FRAME;
		m.msg = (const uint8_t *)p->out.data;
		m.msg_length = p->out.len;
		if (wslay_event_queue_msg(p->ws, &m) != 0)
			p->failed = 1;
	}
	/* wslay keeps its own copy: a long line leaves no buffer behind. */
	if (p->out.cap > 4096)
		buf_free(&p->out);
	if (wslay_event_get_queued_msg_length(p->ws) > PAGE_QUEUE_MAX)
		p->failed = 1;
	if (p->paused && (p->session == NULL ||
	    web_session_room(p->session->s)))
		p->paused = 0;
	if (wslay_event_want_read(p->ws) && !p->paused)
		mask |= AE_READABLE;
	if (wslay_event_want_write(p->ws))
		mask |= AE_WRITABLE;
	if (p->failed || mask == 0) {
		/* Closed from the loop's next turn, in page_event. */
		mask = AE_WRITABLE;
		p->failed = 1;
	}
	if (mask != p->watched) {
		if (ae_watch(w->loop, p->fd, mask, page_event, p) == 0)
			p->watched = mask;
		else
			p->failed = 1;
	}
}

static void
page_event(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct page *p = data;

	(void)loop;
	(void)fd;
	if (!p->failed && (mask & AE_READABLE)) {
		p->budget = PAGE_READ_BUDGET;
		if (wslay_event_recv(p->ws) != 0)
			p->failed = 1;
	}
	if (!p->failed && (mask & AE_WRITABLE) && wslay_event_send(p->ws) != 0)
		p->failed = 1;
	if (!p->failed)
		page_sync(p);
	/* Still readable after the budget: epoll says so again. */
	if (p->failed || (!wslay_event_want_read(p->ws) &&
	    !wslay_event_want_write(p->ws)))
		page_close(p);
}

static void
upgraded(void *cls, struct MHD_Connection *conn, void *con_cls,
    const char *extra, size_t extra_len, MHD_socket fd,
    struct MHD_UpgradeResponseHandle *urh)
{
	struct web *w = cls;
	const union MHD_ConnectionInfo *ci;
	struct page *p;

	(void)con_cls;
	p = xcalloc(1, sizeof *p);
	p->web = w;
	p->fd = fd;
	p->urh = urh;
	if ((ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS)) != NULL &&
	    ci->client_addr != NULL)
		memcpy(&p->from, ci->client_addr,
		    ci->client_addr->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	if (extra_len > 0) {
		p->extra = xmemdup(extra, extra_len);
		p->extra_len = extra_len;
	}
	TAILQ_INSERT_TAIL(&w->pages, p, link);
	if (wslay_event_context_server_init(&p->ws, &ws_callbacks, p) != 0) {
		p->ws = NULL;
		TAILQ_REMOVE(&w->pages, p, link);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		w->mhd_due = 1;
		free(p->extra);
		free(p);
		return;
	}
	wslay_event_config_set_max_recv_msg_length(p->ws, WEB_MSG_MAX);
	anet_set_nonblock(fd);
	page_sync(p);
	/* What came with the handshake is read at once. */
	if (p->extra_len > 0)
		page_event(w->loop, fd, p, AE_READABLE);
}

/* -- HTTP ------------------------------------------------------------------ */

static void
http_move(struct web *w, struct http *h, struct http_list *to)
{
	(void)w;
	TAILQ_REMOVE(h->list, h, entry);
	h->list = to;
	TAILQ_INSERT_TAIL(to, h, entry);
}

static void
secure_headers(struct MHD_Response *r, const char *type)
{
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy",
	    "same-origin");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
}

static struct MHD_Response *
static_response(const char *data, size_t len, const char *type)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return NULL;
	secure_headers(r, type);
	MHD_add_response_header(r, "Connection", "close");
	return r;
}

enum { ERR_400, ERR_403, ERR_404, ERR_405, ERR_503 };
static const struct {
	unsigned	 code;
	const char	*text;
} errors[] = {
	{ MHD_HTTP_BAD_REQUEST, "400 not a WebSocket handshake\n" },
	{ MHD_HTTP_FORBIDDEN, "403 this origin may not open the chat\n" },
	{ MHD_HTTP_NOT_FOUND, "404 not found\n" },
	{ MHD_HTTP_METHOD_NOT_ALLOWED, "405 only GET\n" },
	{ MHD_HTTP_SERVICE_UNAVAILABLE, "503 too busy; try again later\n" },
};

static enum MHD_Result
answer_error(struct web *w, struct MHD_Connection *conn, int which)
{
	return MHD_queue_response(conn, errors[which].code,
	    w->errors[which]);
}

static struct span
header(struct MHD_Connection *conn, const char *name)
{
	const char *v = NULL;
	size_t len = 0;

	if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, name,
	    strlen(name), &v, &len) != MHD_YES || v == NULL)
		return (struct span){ "", 0 };
	return (struct span){ v, len };
}

static void
log_refused(struct web *w, struct MHD_Connection *conn, const char *why)
{
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_storage ss;
	char peer[ANET_ADDR_LEN] = "?";

	memset(&ss, 0, sizeof ss);
	if ((ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS)) != NULL &&
	    ci->client_addr != NULL) {
		memcpy(&ss, ci->client_addr,
		    ci->client_addr->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		anet_format_addr(&ss, peer, sizeof peer);
	}
	(void)w;
	log_client("web: refused a WebSocket from %s: %s", peer, why);
}

static enum MHD_Result
answer_websocket(struct web *w, struct MHD_Connection *conn)
{
	struct MHD_Response *r;
	char accept[WEB_ACCEPT_LEN + 1];
	enum MHD_Result ret;
	struct buf origin = BUF_INIT;

	if (!web_has_token(header(conn, "Upgrade"), "websocket") ||
	    !web_has_token(header(conn, "Connection"), "upgrade") ||
	    !span_eq(header(conn, "Sec-WebSocket-Version"), SPAN_LIT("13")) ||
	    web_ws_accept(header(conn, "Sec-WebSocket-Key"), accept) == -1)
		return answer_error(w, conn, ERR_400);
	if (!web_origin_ok(header(conn, "Origin"), header(conn, "Host"),
	    w->opts->origins)) {
		log_refused(w, conn, log_quote(&origin, header(conn, "Origin"),
		    100));
		buf_free(&origin);
		return answer_error(w, conn, ERR_403);
	}
	if (w->stopping)
		return answer_error(w, conn, ERR_503);
	if ((r = MHD_create_response_for_upgrade(upgraded, w)) == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Upgrade", "websocket");
	MHD_add_response_header(r, "Connection", "Upgrade");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
	ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **con_cls)
{
	struct web *w = cls;
	const union MHD_ConnectionInfo *ci;
	struct http *h;

	(void)version;
	(void)upload;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL && (h = ci->socket_context) != NULL &&
	    h->list == &w->waiting)
		http_move(w, h, &w->answered);
	/* A body is never wanted: it is skipped, the answer is an error. */
	if (*upload_len != 0) {
		*upload_len = 0;
		return MHD_YES;
	}
	(void)con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer_error(w, conn, ERR_405);
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
		return MHD_queue_response(conn, MHD_HTTP_OK, w->files[0]);
	if (strcmp(url, "/chat.css") == 0)
		return MHD_queue_response(conn, MHD_HTTP_OK, w->files[1]);
	if (strcmp(url, "/chat.js") == 0)
		return MHD_queue_response(conn, MHD_HTTP_OK, w->files[2]);
	/* No icon: an empty answer rather than a 404 in the console. */
	if (strcmp(url, "/favicon.ico") == 0)
		return MHD_queue_response(conn, MHD_HTTP_NO_CONTENT,
		    w->files[3]);
	if (strcmp(url, "/ws") == 0 && strcmp(method, "GET") == 0)
		return answer_websocket(w, conn);
	return answer_error(w, conn, ERR_404);
}

/* Every connection's count, ours and (server mode) the server's. */
static int
connections(const struct web *w)
{
	return w->nhttp + (w->opts->server_conns != NULL ?
	    *w->opts->server_conns : 0);
}

static enum MHD_Result
accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct web *w = cls;
	long long now;

	(void)addr;
	(void)len;
	if (w->stopping)
		return MHD_NO;
	if (w->opts->server_conns != NULL &&
	    connections(w) >= w->opts->max_connections) {
		now = clock_ms();
		if (now - w->last_refusal_log >= 1000) {
			log_msg("web: refusing connections: %d open "
			    "(--max-connections)", connections(w));
			w->last_refusal_log = now;
		}
		return MHD_NO;
	}
	return MHD_YES;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct web *w = cls;
	const union MHD_ConnectionInfo *ci;
	struct http *h;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		w->nhttp++;
		h = xcalloc(1, sizeof *h);
		h->fd = -1;
		if ((ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD)) != NULL)
			h->fd = ci->connect_fd;
		h->deadline = clock_ms() + w->opts->read_timeout_ms;
		h->list = &w->waiting;
		TAILQ_INSERT_TAIL(h->list, h, entry);
		*ctx = h;
		return;
	}
	w->nhttp--;
	if ((h = *ctx) != NULL) {
		TAILQ_REMOVE(h->list, h, entry);
		free(h);
		*ctx = NULL;
	}
}

/*
 * A request not complete within the read timeout: its socket is shut
 * down, and libmicrohttpd, reading the end of it, closes the connection.
 * Every connection has the same timeout, so the list is in deadline
 * order.
 */
static long long
expire_http(struct web *w, long long now)
{
	struct http *h;

	while ((h = TAILQ_FIRST(&w->waiting)) != NULL && h->deadline <= now) {
		http_move(w, h, &w->answered);
		if (h->fd != -1) {
			shutdown(h->fd, SHUT_RDWR);
			w->mhd_due = 1;
		}
	}
	return h != NULL ? h->deadline : -1;
}

static void
mhd_readable(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct web *w = data;

	(void)loop;
	(void)fd;
	(void)mask;
	w->mhd_due = 1;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	struct buf q = BUF_INIT;
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		n--;
	log_client("web: %s", log_quote(&q, (struct span){ line, n }, 400));
	buf_free(&q);
}
/* -- the front end as a whole --------------------------------------------- */

/*
 * The page's listening socket: every address for "PORT" or ":PORT" (as
 * the server listens), else the first address of HOST that binds.
 */
static int
listen_on(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	char aerr[ANET_ERR_LEN], *host = NULL, *port = NULL;
	int fd = -1, on = 1, rc;

	if (strchr(spec, ':') == NULL) {
		if ((fd = anet_listen(spec, 511, aerr)) == -1)
			snprintf(err, errlen, "--web %s: %s", spec, aerr);
		return fd;
	}
	if (anet_split_hostport(spec, &host, &port, aerr) == -1) {
		snprintf(err, errlen, "--web %s: %s", spec, aerr);
		return -1;
	}
	if (host == NULL) {
		if ((fd = anet_listen(port, 511, aerr)) == -1)
			snprintf(err, errlen, "--web %s: %s", spec, aerr);
		goto out;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "--web %s: %s", spec, gai_strerror(rc));
		goto out;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 511) == 0)
			break;
		snprintf(err, errlen, "--web %s: %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
out:
	free(host);
	free(port);
	return fd;
}

int
web_fds(const struct web_opts *o)
{
	/* A page, its two calls, their dial attempts; and page loads. */
	return o->max_sessions * 4 + HTTP_EXTRA + 16;
}

struct web *
web_start(struct ae_loop *loop, const struct web_opts *o, char *err,
    size_t errlen)
{
	struct web *w = xcalloc(1, sizeof *w);
	const union MHD_DaemonInfo *di;
	int lfd;
	size_t i;

	w->opts = o;
	w->loop = loop;
	w->mhd_fd = -1;
	TAILQ_INIT(&w->waiting);
	TAILQ_INIT(&w->answered);
	TAILQ_INIT(&w->pages);
	TAILQ_INIT(&w->entries);
	w->sh.loop = loop;
	w->sh.timers = &w->timers;
	w->sh.srv.host = o->host;
	w->sh.srv.port = o->port;
	w->sh.srv.wire = o->wire;
	w->sh.srv.timeout_ms = RPC_DEFAULT_TIMEOUT_MS;
	w->sh.srv.peer = &w->sh.peer;
	w->sh.srv.strict = o->strict;
	w->sh.wire_known = o->wire_known;
	snprintf(w->sh.server, sizeof w->sh.server, "%s", o->target);
	w->sh.log_max = o->session_bytes;
	w->sh.grace_ms = WEB_GRACE_MS;
	w->sh.target_ready = target_ready;
	w->sh.output = session_output;
	w->sh.ended = session_ended;
	w->sh.owner = w;

	if ((lfd = listen_on(o->listen, err, errlen)) == -1)
		goto fail;
	w->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_UPGRADE |
	    MHD_USE_ERROR_LOG, 0, accept_policy, w, on_request, w,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)lfd,
	    MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)(o->max_sessions + HTTP_EXTRA),
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)(o->max_per_address + HTTP_EXTRA / 8),
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)((o->read_timeout_ms + 999) / 1000),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, w,
	    MHD_OPTION_END);
	if (w->mhd == NULL) {
		close(lfd);
		snprintf(err, errlen, "--web %s: the HTTP server would not "
		    "start", o->listen);
		goto fail;
	}
	if ((di = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_EPOLL_FD)) ==
	    NULL || ae_watch(loop, di->epoll_fd, AE_READABLE, mhd_readable,
	    w) == -1) {
		snprintf(err, errlen, "--web: cannot watch the HTTP server");
		goto fail;
	}
	w->mhd_fd = di->epoll_fd;
	w->files[0] = static_response(web_index_html, web_index_html_len,
	    "text/html; charset=utf-8");
	w->files[1] = static_response(web_chat_css, web_chat_css_len,
	    "text/css; charset=utf-8");
	w->files[2] = static_response(web_chat_js, web_chat_js_len,
	    "text/javascript; charset=utf-8");
	for (i = 0; i < sizeof errors / sizeof errors[0]; i++)
		w->errors[i] = static_response(errors[i].text,
		    strlen(errors[i].text), "text/plain; charset=utf-8");
	w->files[3] = static_response("", 0, "image/x-icon");
	for (i = 0; i < 4; i++)
		if (w->files[i] == NULL)
			goto fail;
	for (i = 0; i < sizeof errors / sizeof errors[0]; i++)
		if (w->errors[i] == NULL)
			goto fail;
	log_msg("Web page at :%d, for the chat at %s", anet_local_port(lfd),
	    o->target);
	return w;
fail:
	if (err[0] == '\0')
		snprintf(err, errlen, "--web: out of memory");
	web_free(w);
	return NULL;
}

long long
web_tick(struct web *w, long long now)
{
	MHD_UNSIGNED_LONG_LONG t;
	long long next, at;
	int i;

	next = timers_run(&w->timers, now);
	at = expire_http(w, now);
	if (at >= 0 && (next < 0 || at < next))
		next = at;
	/* MHD's own deadlines; a run at once while it has work pending. */
	for (i = 0; i < 4; i++) {
		if (!w->mhd_due && !(MHD_get_timeout(w->mhd, &t) == MHD_YES &&
		    t == 0))
			break;
		w->mhd_due = 0;
		MHD_run(w->mhd);
	}
	if (MHD_get_timeout(w->mhd, &t) == MHD_YES) {
		at = now + (t > 60000 ? 60000 : (long long)t);
		if (next < 0 || at < next)
			next = at;
	}
	if (w->mhd_due)
		next = now;
	return next;
}

int
web_connections(const struct web *w)
{
	return w != NULL ? w->nhttp : 0;
}

void
web_stop(struct web *w)
{
	struct entry *e, *next;
	struct page *p, *pnext;

	w->stopping = 1;
	TAILQ_FOREACH_SAFE(p, &w->pages, link, pnext)
		page_close(p);
	TAILQ_FOREACH_SAFE(e, &w->entries, link, next)
		web_session_quit(e->s);
}

int
web_idle(const struct web *w)
{
	return TAILQ_EMPTY(&w->entries);
}

void
web_free(struct web *w)
{
	struct entry *e;
	struct page *p;
	size_t i;

	if (w == NULL)
		return;
	while ((p = TAILQ_FIRST(&w->pages)) != NULL)
		page_close(p);
	while ((e = TAILQ_FIRST(&w->entries)) != NULL) {
		TAILQ_REMOVE(&w->entries, e, link);
		web_session_free(e->s);
		free(e);
	}
	if (w->mhd_fd != -1)
		ae_unwatch(w->loop, w->mhd_fd, 0);
	if (w->mhd != NULL)
		MHD_stop_daemon(w->mhd);
	for (i = 0; i < 4; i++)
		if (w->files[i] != NULL)
			MHD_destroy_response(w->files[i]);
	for (i = 0; i < sizeof errors / sizeof errors[0]; i++)
		if (w->errors[i] != NULL)
			MHD_destroy_response(w->errors[i]);
	if (w->lookup != NULL) {
		ae_unwatch(w->loop, resolve_fd(w->lookup), 0);
		resolve_abandon(w->lookup);
	}
	rpc_peer_free(&w->sh.peer);
	timers_free(&w->timers);
	free(w);
}

/* -- client mode --------------------------------------------------------- */

static int
signals_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

struct runner {
	struct web	*web;
	long long	 stop_at;	/* 0: serving */
};

static void
on_signal(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct runner *r = data;
	struct signalfd_siginfo si;
	const char *name;

	(void)loop;
	(void)mask;
	if (read(fd, &si, sizeof si) != sizeof si || r->stop_at != 0)
		return;
	name = sigabbrev_np((int)si.ssi_signo);
	log_msg("shutting down (SIG%s): logging out every session",
	    name != NULL ? name : "?");
	r->stop_at = clock_ms() + STOP_MS;
	web_stop(r->web);
}

/* Room for every descriptor the front end may hold, if the system lets. */
static int
descriptors(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max > (rlim_t)want ? (rlim_t)want : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	return want;
}

int
web_run(const struct web_opts *o)
{
	struct runner r = { NULL, 0 };
	struct ae_loop *loop = NULL;
	char err[256] = "";
	long long now, next;
	int sfd = -1, status = 1, timeout;

	if ((sfd = signals_fd()) == -1) {
		fprintf(stderr, "rpcchat: signals: %s\n", strerror(errno));
		return 1;
	}
	if ((loop = ae_create(descriptors(web_fds(o) + 64))) == NULL) {
		fprintf(stderr, "rpcchat: epoll: %s\n", strerror(errno));
		goto out;
	}
	log_attach(loop);
	if ((r.web = web_start(loop, o, err, sizeof err)) == NULL) {
		fprintf(stderr, "rpcchat: %s\n", err);
		goto out;
	}
	if (ae_watch(loop, sfd, AE_READABLE, on_signal, &r) == -1) {
		fprintf(stderr, "rpcchat: epoll: %s\n", strerror(errno));
		goto out;
	}
	for (;;) {
		now = clock_ms();
		next = web_tick(r.web, now);
		if (r.stop_at != 0 && (web_idle(r.web) || now >= r.stop_at))
			break;
		if (r.stop_at != 0 && (next < 0 || r.stop_at < next))
			next = r.stop_at;
		timeout = next < 0 ? -1 : next <= now ? 0 :
		    next - now > 60000 ? 60000 : (int)(next - now);
		next = log_tick();
		if (next >= 0 && (timeout < 0 || next - now < timeout))
			timeout = next <= now ? 0 : (int)(next - now);
		if (ae_poll(loop, timeout) == -1 && errno != EINTR) {
			log_msg("epoll_wait: %s", strerror(errno));
			goto out;
		}
	}
	status = 0;
out:
	web_free(r.web);
	log_detach();
	ae_destroy(loop);
	close(sfd);
	return status;
}
