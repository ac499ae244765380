/*
 * web_page.c - one tab of the page: a WebSocket that libmicrohttpd handed
 * over after the handshake, its frames read and written by wslay through
 * callbacks that never block.
 *
 * Reading a page is bounded each turn of the loop (PAGE_READ_BUDGET), so
 * a page that never stops sending cannot hold the loop; a message is at
 * most a Say's size (WEB_MSG_MAX); what waits for a page that does not
 * read is bounded too: lines are pulled from its session only while
 * little is queued (PAGE_QUEUE_LOW), and a page whose queue passes
 * PAGE_QUEUE_MAX anyway is closed.  The page's messages (web_msg.h) log
 * in, resume a session by its token, or carry a typed line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "anet.h"
#include "log.h"
#include "proto.h"
#include "text.h"
#include "username.h"
#include "web_internal.h"
#include "web_msg.h"
#include "xmalloc.h"

/* The longest message a page may send: "line " and a whole Say. */
#define WEB_MSG_MAX		(FRAME_MAX + 64)
/*
 * Logins and resumes one WebSocket may ask for: each looks at every
 * session, so a page may not make the loop do that without end.  A
 * person mistyping a name a few times is far from it.
 */
#define PAGE_ATTEMPTS_MAX	16
/* Bytes read from one page per turn of the loop. */
#define PAGE_READ_BUDGET	(64 * 1024)
/* Lines are pulled from a session while less than this is queued. */
#define PAGE_QUEUE_LOW		(64 * 1024)
/* Queued for a page that does not read: it is closed. */
#define PAGE_QUEUE_MAX		(1024 * 1024)

static void	page_event(struct ae_loop *, int, void *, int);

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

void
web_page_close(struct page *p)
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
		if (anet_same_host(&e->from, from))
			n++;
	return n;
}

static void
page_login(struct page *p, struct span typed)
{
	struct web *w = p->web;
	struct buf name = BUF_INIT, why = BUF_INIT, shown = BUF_INIT;
	char token[WEB_TOKEN_LEN + 1], peer[ANET_ADDR_LEN];
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
		    name.len }, token, e);
		anet_format_addr(&p->from, peer, sizeof peer);
		log_client("web: %s logging in from %s", log_quote(&shown,
		    (struct span){ name.data, name.len }, USER_MAX), peer);
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
		web_page_sync(old);
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
	if ((in.kind == WEB_IN_LOGIN || in.kind == WEB_IN_RESUME) &&
	    ++p->attempts > PAGE_ATTEMPTS_MAX) {
		wslay_event_queue_close(p->ws, WSLAY_CODE_POLICY_VIOLATION,
		    NULL, 0);
		return;
	}
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
void
web_page_sync(struct page *p)
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
		web_page_sync(p);
	/* Still readable after the budget: epoll says so again. */
	if (p->failed || (!wslay_event_want_read(p->ws) &&
	    !wslay_event_want_write(p->ws)))
		web_page_close(p);
}

void
web_page_open(struct web *w, int fd, struct MHD_UpgradeResponseHandle *urh,
    const char *extra, size_t extra_len, const struct sockaddr_storage *from)
{
	struct page *p;

	p = xcalloc(1, sizeof *p);
	p->web = w;
	p->fd = fd;
	p->urh = urh;
	p->from = *from;
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
	web_page_sync(p);
	/* What came with the handshake is read at once. */
	if (p->extra_len > 0)
		page_event(w->loop, fd, p, AE_READABLE);
}
