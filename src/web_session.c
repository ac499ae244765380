/*
 * web_session.c - one browser tab's chat session (see web_session.h).
 *
 * Two calls at most are in flight, as in the terminal client: one for the
 * lines typed (the probe, Register, Say, Tell, List, Quit), one for the
 * background (CheckMessages, registering again).  advance() decides what
 * is due after every event; the session's one timer wakes it for the
 * next poll and for the end of the grace period.
 *
 * The terminal client's session logic (client.c) is not shared: it prints
 * to a terminal and exits, this one keeps a log for a page and lives on.
 * What is pure is shared: the calls (rpc_call), the responses
 * (rpc_read_response), the probe's verdict (probe_classify), the command
 * parser (command.c) and the escaping (text.c, through web_msg.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call_ae.h"
#include "clock.h"
#include "probe.h"
#include "proto.h"
#include "rpc_client.h"
#include "text.h"
#include "web_log.h"
#include "web_session.h"
#include "xmalloc.h"

#define POLL_INTERVAL_MS	1000
#define BACKOFF_MAX_MS		8000
#define POLL_TIMEOUT_MS		3000
#define QUIT_TIMEOUT_MS		2000
/* The next poll after a full one (PROTOCOL.md §4.2). */
#define BACKLOG_POLL_MS		100
/* Bytes of typed lines waiting for their call before the page is paused. */
#define QUEUE_MAX		(256u * 1024)
/* How much of an unknown command is shown back. */
#define SHOW_WORD_MAX		40

enum state {
	PROBING,		/* the List that finds the generation */
	REGISTERING,
	LIVE,
	QUITTING,
	OVER
};

/* Messages for the page that are not lines: sent before the next line. */
#define PEND_SESSION	0x1
#define PEND_USERS	0x2
#define PEND_REFUSED	0x4
#define PEND_BYE	0x8

struct web_session {
	struct web_shared	*sh;
	void			*owner;
	void			*page;
	char			 token[WEB_TOKEN_LEN + 1];
	struct buf		 name;		/* as sent */
	struct buf		 json_name;	/* as a JSON string body */
	struct buf		 not_logged_in;
	enum state		 state;

	struct call_ae		 cmd;
	enum msg_type		 cmd_type;
	int			 cmd_greeting;	/* the List after Register */
	struct call_ae		 bg;
	enum msg_type		 bg_type;
	int			 probes;
	struct buf		 probe_what[2];

	struct buf		 queue;		/* typed lines: size_t, bytes */
	size_t			 queued;
	struct buf		 scratch;

	struct web_log		 log;		/* the lines for the page */

	unsigned		 pending;
	struct buf		 refused;	/* JSON of the refusal */
	struct buf		 users;		/* JSON of the last List */

	struct timer		 timer;
	long long		 next_poll;
	long long		 grace_until;	/* detached: Quit then */
	int			 backoff_ms;
	int			 down;		/* unreachable: said so */
	int			 came_back;
	struct buf		 failing;	/* another failure: said so */
	unsigned		 noted[MSG_NTYPES];
};

static void	advance(struct web_session *);

static struct span
bspan(const struct buf *b)
{
	return (struct span){ b->data, b->len };
}

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
tell_page(struct web_session *s)
{
	if (s->page != NULL)
		s->sh->output(s->sh, s);
}

/* One line for the page: logged, and sent when the page takes it. */
static void
add_line(struct web_session *s, enum web_line_kind kind, struct span text)
{
	web_log_add(&s->log, kind, wall_ms(), text);
	tell_page(s);
}

static void
say(struct web_session *s, enum web_line_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A line of the front end's own, from printf-style text. */
static void
say(struct web_session *s, enum web_line_kind kind, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	add_line(s, kind, bspan(&b));
	buf_free(&b);
}

/* The name, escaped as the terminal shows it, NUL-terminated in out. */
static const char *
shown_name(const struct web_session *s, struct buf *out)
{
	buf_clear(out);
	text_escape(out, bspan(&s->name));
	buf_append(out, "", 1);
	return out->data;
}

/* A failed call in one line: "say: ...", or the server's own words. */
static void
failed(struct web_session *s, const char *what, enum msg_type type,
    const struct rpc_error *err)
{
	const char *call = msg_type_name(type);
	const char *msg = err->msg.data != NULL && err->msg.data[0] != '\0' ?
	    err->msg.data : "failed";
	size_t n = strlen(call);

	if (err->status == RPC_ERR_SERVER && strncmp(msg, call, n) == 0 &&
	    msg[n] == ':')
		say(s, WEB_LINE_ERROR, "%s", msg);
	else
		say(s, WEB_LINE_ERROR, "%s: %s", what, msg);
}

static void
refuse(struct web_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The login failed: the page is told why, and the session ends. */
static void
refuse(struct web_session *s, const char *fmt, ...)
{
	struct buf why = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(&why, fmt, ap);
	va_end(ap);
	buf_clear(&s->refused);
	buf_appendf(&s->refused, "{\"t\":\"refused\",\"why\":\"");
	web_json_text(&s->refused, bspan(&why));
	buf_append(&s->refused, "\"}", 2);
	buf_free(&why);
	s->pending |= PEND_REFUSED;
	s->state = OVER;
	tell_page(s);
}

/* Says once per session what is wrong with the server's responses. */
static void
note_sloppy(struct web_session *s, const struct rpc_error *err)
{
	struct buf b = BUF_INIT;
	unsigned bit = 1u << err->sloppy;

	if (err->sloppy == RPC_TIDY ||
	    (unsigned)err->sloppy_type >= MSG_NTYPES ||
	    (s->noted[err->sloppy_type] & bit) != 0)
		return;
	s->noted[err->sloppy_type] |= bit;
	rpc_describe_sloppy(err, &b);
	say(s, WEB_LINE_INFO, "*** note: %.*s", (int)b.len, b.data);
	buf_free(&b);
}

/*
 * Starts a call; 0 when it could not start now: the target's lookup is
 * running (the session is kicked when it ends) or failed (said in err).
 */
static int
start_call(struct web_session *s, struct call_ae *slot, enum msg_type type,
    const struct span *args, size_t nargs, int timeout_ms, int probe_wire,
    struct rpc_error *err)
{
	struct rpc_target srv = s->sh->srv;
	struct buf req;
	int ready;

	if ((ready = s->sh->target_ready(s->sh)) <= 0) {
		if (ready < 0)
			rpc_error_setf(err, RPC_ERR_NET, "%s",
			    s->sh->target_err);
		return 0;
	}
	if (rpc_request(&req, type, args, nargs, err) == -1)
		return 0;
	srv.timeout_ms = timeout_ms;
	if (probe_wire >= 0) {
		srv.wire = (enum wire)probe_wire;
		srv.half_close = 1;
	}
	if (slot == &s->cmd)
		s->cmd_type = type;
	else
		s->bg_type = type;
	call_ae_start(slot, &srv, &req);
	buf_free(&req);
	return 1;
}

/* The outcome of a call that is done: 0, or -1 with err. */
static int
outcome(struct web_session *s, struct call_ae *slot, enum msg_type type,
    struct rpc_strlist *list, struct rpc_error *err)
{
	struct rpc_call *k = &slot->call;
	int rc;

	if (k->rc == -1) {
		rpc_error_setf(err, k->err.status, "%s", k->err.msg.data);
		return -1;
	}
	rc = rpc_read_response(&k->srv, type, (struct span){ k->resp.data,
	    k->resp.len }, list, err);
	note_sloppy(s, err);
	/* The results are in list: a thousand idle sessions keep no KBs. */
	if (k->resp.cap > 4096)
		buf_free(&k->resp);
	return rc;
}

static void
keep_users(struct web_session *s, const struct rpc_strlist *users)
{
	size_t i;

	buf_clear(&s->users);
	buf_appendf(&s->users, "{\"t\":\"users\",\"users\":[");
	for (i = 0; i < users->n; i++) {
		buf_append(&s->users, i > 0 ? ",\"" : "\"", i > 0 ? 2 : 1);
		web_json_text(&s->users, users->v[i]);
		buf_append(&s->users, "\"", 1);
	}
	buf_append(&s->users, "]}", 2);
	s->pending |= PEND_USERS;
	tell_page(s);
}

static void
show_users(struct web_session *s, const struct rpc_strlist *users)
{
	struct buf b = BUF_INIT;
	size_t i;

	if (users->n == 0)
		buf_appendf(&b, "No users logged in");
	else
		buf_appendf(&b, "%zu user%s logged in: ", users->n,
		    users->n == 1 ? "" : "s");
	for (i = 0; i < users->n; i++) {
		if (i > 0)
			buf_append(&b, ", ", 2);
		buf_append(&b, users->v[i].p, users->v[i].len);
	}
	add_line(s, WEB_LINE_INFO, bspan(&b));
	buf_free(&b);
}

/* Delivered text, "USER says MSG", must fit (PROTOCOL.md §4.1). */
static int
too_long(const struct web_session *s, const char *verb, struct span msg)
{
	size_t fixed = s->name.len + strlen(verb);

	return msg.len > TEXT_MAX || fixed > TEXT_MAX - msg.len;
}

static void
unknown(struct web_session *s, struct span word)
{
	struct buf b = BUF_INIT;
	size_t n = word.len;

	if (n > SHOW_WORD_MAX) {
		n = SHOW_WORD_MAX;
		while (n > 0 && ((unsigned char)word.p[n] & 0xc0) == 0x80)
			n--;
	}
	buf_append(&b, word.p, n);
	say(s, WEB_LINE_ERROR, "unknown command: /%.*s%s", (int)b.len, b.data,
	    n < word.len ? "..." : "");
	say(s, WEB_LINE_INFO, "%s", web_help);
	buf_free(&b);
}

/* Runs one typed line; 1 when it started a call. */
static int
run_line(struct web_session *s, struct span line)
{
	struct rpc_error err;
	struct command cmd;
	struct span args[3] = { bspan(&s->name) };
	int started = 0;

	rpc_error_init(&err);
	web_line_parse(line, &s->scratch, &cmd);
	switch (cmd.kind) {
	case CMD_NONE:
		break;
	case CMD_TELL:
	case CMD_SAY:
		if (too_long(s, cmd.kind == CMD_SAY ? " says " : " tells you ",
		    cmd.message)) {
			say(s, WEB_LINE_ERROR, "message too long");
			break;
		}
		if (cmd.kind == CMD_TELL) {
			args[1] = cmd.target;
			args[2] = cmd.message;
		} else
			args[1] = cmd.message;
		started = start_call(s, &s->cmd, cmd.kind == CMD_SAY ?
		    MSG_SAY : MSG_TELL, args, cmd.kind == CMD_SAY ? 2 : 3,
		    RPC_DEFAULT_TIMEOUT_MS, -1, &err);
		if (!started && err.status != RPC_OK)
			failed(s, cmd.kind == CMD_SAY ? "say" : "tell",
			    cmd.kind == CMD_SAY ? MSG_SAY : MSG_TELL, &err);
		break;
	case CMD_LIST:
		started = start_call(s, &s->cmd, MSG_LIST, NULL, 0,
		    RPC_DEFAULT_TIMEOUT_MS, -1, &err);
		if (started)
			s->cmd_greeting = 0;
		else if (err.status != RPC_OK)
			failed(s, "list", MSG_LIST, &err);
		break;
	case CMD_QUIT:
		s->state = QUITTING;
		break;
	case CMD_HELP:
		say(s, WEB_LINE_INFO, "%s", web_help);
		break;
	case CMD_USAGE:
		say(s, WEB_LINE_ERROR, "usage: /%s", cmd.usage + 7);
		break;
	case CMD_SHUTDOWN:
	case CMD_UNKNOWN:
		unknown(s, cmd.word);
		break;
	}
	rpc_error_free(&err);
	return started;
}

/*
 * Runs queued lines until one starts a call or none is left.  A line
 * that could not start for want of the target's addresses stays first.
 */
static void
run_queue(struct web_session *s)
{
	struct buf line = BUF_INIT;
	size_t len;

	while (s->state == LIVE && s->queued > 0 && !call_ae_busy(&s->cmd)) {
		if (s->sh->target_ready(s->sh) == 0)
			break;
		memcpy(&len, s->queue.data, sizeof len);
		buf_clear(&line);
		buf_append(&line, s->queue.data + sizeof len, len);
		buf_consume(&s->queue, sizeof len + len);
		s->queued--;
		if (run_line(s, bspan(&line)))
			break;
	}
	buf_free(&line);
}

/* Says a failure of the background poll once, not every second. */
static void
poll_failed(struct web_session *s, enum msg_type type,
    const struct rpc_error *err)
{
	if (err->status == RPC_ERR_NET) {
		if (!s->down)
			say(s, WEB_LINE_NOTICE, "*** cannot reach the server: "
			    "%s; retrying", err->msg.data);
		s->down = 1;
	} else if (s->failing.len == 0 ||
	    strcmp(s->failing.data, err->msg.data) != 0) {
		failed(s, type == MSG_REGISTER ? "register" : "check messages",
		    type, err);
		buf_clear(&s->failing);
		buf_appendf(&s->failing, "%s", err->msg.data);
	}
	s->backoff_ms = s->backoff_ms == 0 ? POLL_INTERVAL_MS :
	    s->backoff_ms * 2;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	s->next_poll = clock_ms() + s->backoff_ms;
}

static void
checked(struct web_session *s, struct rpc_strlist *msgs, int rc,
    struct rpc_error *err)
{
	static const struct span no_such = SPAN_LIT("*** No such user: ");
	enum web_line_kind kind;
	struct span who;
	int came_back, join;
	size_t i;

	if (rc == -1) {
		poll_failed(s, MSG_CHECK_MESSAGES, err);
		return;
	}
	came_back = s->down;
	s->down = 0;
	s->backoff_ms = 0;
	buf_clear(&s->failing);
	s->next_poll = clock_ms() + POLL_INTERVAL_MS;
	if (msgs->n == 1 && span_eq(msgs->v[0], bspan(&s->not_logged_in))) {
		s->came_back = came_back;
		if (start_call(s, &s->bg, MSG_REGISTER, (struct span[]){
		    bspan(&s->name) }, 1, RPC_DEFAULT_TIMEOUT_MS, -1, err) == 0 &&
		    err->status != RPC_OK)
			poll_failed(s, MSG_REGISTER, err);
		return;
	}
	if (came_back)
		say(s, WEB_LINE_NOTICE, "*** the server at %s is back",
		    s->sh->server);
	for (i = 0; i < msgs->n; i++) {
		kind = web_line_classify(msgs->v[i], &who, &join);
		/* The answer to one of our tells (PROTOCOL.md §5.4). */
		if (msgs->v[i].len >= no_such.len &&
		    memcmp(msgs->v[i].p, no_such.p, no_such.len) == 0)
			kind = WEB_LINE_ERROR;
		add_line(s, kind, msgs->v[i]);
	}
	/* A full response: the rest soon, at a pace a page can show. */
	if (msgs->storage.len > FRAME_MAX / 2)
		s->next_poll = clock_ms() + BACKLOG_POLL_MS;
}

static void
bg_done(struct call_ae *slot, void *arg)
{
	struct web_session *s = arg;
	struct rpc_strlist list;
	struct rpc_error err;
	struct buf name = BUF_INIT;
	int rc;

	rpc_strlist_init(&list);
	rpc_error_init(&err);
	rc = outcome(s, slot, s->bg_type, &list, &err);
	rpc_call_cancel(&slot->call);
	if (s->state == LIVE) {
		if (s->bg_type == MSG_CHECK_MESSAGES)
			checked(s, &list, rc, &err);
		else if (rc == -1)
			poll_failed(s, MSG_REGISTER, &err);
		else if (s->came_back)
			say(s, WEB_LINE_NOTICE, "*** the server at %s is back; "
			    "logged in again as %s", s->sh->server,
			    shown_name(s, &name));
		else
			say(s, WEB_LINE_NOTICE, "*** the server had logged us "
			    "out; logged in again as %s", shown_name(s, &name));
	}
	buf_free(&name);
	rpc_strlist_free(&list);
	rpc_error_free(&err);
	advance(s);
}

/* The other generation's wire. */
static enum wire
other(enum wire w)
{
	return w == WIRE_FRAMED ? WIRE_UNFRAMED : WIRE_FRAMED;
}

/*
 * A List of the probe is back (PROTOCOL.md §6): the wire that answered like
 * a List is the server's, for every session; its users say whether our
 * name is taken.  Then Register.
 */
static void
probe_done(struct web_session *s)
{
	struct rpc_call *k = &s->cmd.call;
	enum wire wire = k->srv.wire;
	struct rpc_strlist users;
	struct rpc_error err;
	struct buf name = BUF_INIT;
	size_t i;
	int ok;

	rpc_strlist_init(&users);
	rpc_error_init(&err);
	buf_clear(&s->probe_what[s->probes]);
	ok = probe_classify(wire, k->rc, &k->err, (struct span){ k->resp.data,
	    k->resp.len }, &users, &s->probe_what[s->probes]);
	s->probes++;
	rpc_call_cancel(k);
	if (!ok && s->probes == 1) {
		if (!start_call(s, &s->cmd, MSG_LIST, NULL, 0,
		    RPC_DEFAULT_TIMEOUT_MS, (int)other(wire), &err))
			refuse(s, "cannot reach the server at %s: %s",
			    s->sh->server, err.msg.data != NULL ?
			    err.msg.data : "");
		goto out;
	}
	if (!ok) {
		if (span_eq(bspan(&s->probe_what[0]), bspan(&s->probe_what[1])))
			refuse(s, "the server at %s did not answer a List: %s",
			    s->sh->server, s->probe_what[0].data);
		else
			refuse(s, "the server at %s answered a List in neither "
			    "generation of the protocol: framed, %s; unframed, "
			    "%s", s->sh->server, wire == WIRE_FRAMED ?
			    s->probe_what[1].data : s->probe_what[0].data,
			    wire == WIRE_FRAMED ? s->probe_what[0].data :
			    s->probe_what[1].data);
		goto out;
	}
	if (wire == WIRE_UNFRAMED && (!s->sh->wire_known ||
	    s->sh->srv.wire != wire))
		say(s, WEB_LINE_INFO, "*** note: the server at %s speaks the "
		    "older, unframed generation of the protocol (2023); using "
		    "it", s->sh->server);
	s->sh->srv.wire = wire;
	s->sh->wire_known = 1;
	/*
	 * A name in use is refused, not shared: the server would split the
	 * messages for it, private ones included, between two people.
	 */
	for (i = 0; i < users.n; i++) {
		if (span_eq(users.v[i], bspan(&s->name))) {
			refuse(s, "someone is logged in as %s already; choose "
			    "another name", shown_name(s, &name));
			goto out;
		}
	}
	s->state = REGISTERING;
	if (!start_call(s, &s->cmd, MSG_REGISTER, (struct span[]){
	    bspan(&s->name) }, 1, RPC_DEFAULT_TIMEOUT_MS, -1, &err))
		refuse(s, "cannot reach the server at %s: %s", s->sh->server,
		    err.msg.data != NULL ? err.msg.data : "");
out:
	buf_free(&name);
	rpc_strlist_free(&users);
	rpc_error_free(&err);
}

static void
registered(struct web_session *s, int rc, struct rpc_error *err)
{
	struct buf name = BUF_INIT;

	if (rc == -1) {
		if (err->status == RPC_ERR_SERVER)
			refuse(s, "%s", err->msg.data);
		else
			refuse(s, "register: %s", err->msg.data);
		return;
	}
	s->state = LIVE;
	s->pending |= PEND_SESSION;
	s->next_poll = clock_ms() + POLL_INTERVAL_MS;
	say(s, WEB_LINE_INFO, "Welcome, %s, chatting at %s",
	    shown_name(s, &name), s->sh->server);
	buf_free(&name);
	if (start_call(s, &s->cmd, MSG_LIST, NULL, 0, RPC_DEFAULT_TIMEOUT_MS,
	    -1, err))
		s->cmd_greeting = 1;
}

static void
cmd_done(struct call_ae *slot, void *arg)
{
	struct web_session *s = arg;
	struct rpc_strlist list;
	struct rpc_error err;
	enum msg_type type = s->cmd_type;
	int rc;

	if (slot->call.srv.half_close) {
		probe_done(s);
		advance(s);
		return;
	}
	rpc_strlist_init(&list);
	rpc_error_init(&err);
	rc = outcome(s, slot, type, &list, &err);
	rpc_call_cancel(&slot->call);
	switch (type) {
	case MSG_REGISTER:
		registered(s, rc, &err);
		break;
	case MSG_LIST:
		if (rc == 0) {
			if (!s->cmd_greeting)
				show_users(s, &list);
			keep_users(s, &list);
		} else if (!s->cmd_greeting)
			failed(s, "list", MSG_LIST, &err);
		break;
	case MSG_SAY:
	case MSG_TELL:
		if (rc == -1)
			failed(s, type == MSG_SAY ? "say" : "tell", type, &err);
		/* Our own words without waiting. */
		s->next_poll = clock_ms();
		break;
	case MSG_QUIT:
		if (rc == 0 && s->page != NULL)
			s->pending |= PEND_BYE;
		s->state = OVER;
		tell_page(s);
		break;
	default:
		break;
	}
	rpc_strlist_free(&list);
	rpc_error_free(&err);
	advance(s);
}

/* Over, and nothing left to tell its page. */
static int
finished(const struct web_session *s)
{
	return s->state == OVER && (s->page == NULL ||
	    !(s->pending & (PEND_REFUSED | PEND_BYE)));
}

/*
 * The session ends from its timer only, never from inside a function the
 * front end called: so the front end never sees it freed under its feet.
 */
static void
wake(struct timer *t)
{
	struct web_session *s = (struct web_session *)(void *)((char *)t -
	    offsetof(struct web_session, timer));

	if (finished(s)) {
		s->sh->ended(s->sh, s);
		return;
	}
	advance(s);
}

/* Whatever is due now; the timer is set for what is due next. */
static void
advance(struct web_session *s)
{
	struct rpc_error err;
	long long now = clock_ms(), next = -1;
	enum state was;

	rpc_error_init(&err);
	if (s->state == LIVE && s->page == NULL && now >= s->grace_until)
		s->state = QUITTING;
	do {
		was = s->state;
		next = -1;
		switch (s->state) {
		case PROBING:
			if (!call_ae_busy(&s->cmd) && s->probes == 0 &&
			    !start_call(s, &s->cmd, MSG_LIST, NULL, 0,
			    RPC_DEFAULT_TIMEOUT_MS, (int)(s->sh->wire_known ?
			    s->sh->srv.wire : WIRE_FRAMED), &err) &&
			    err.status != RPC_OK)
				refuse(s, "cannot reach the server at %s: %s",
				    s->sh->server, err.msg.data);
			break;
		case REGISTERING:
			break;
		case LIVE:
			run_queue(s);
			if (s->state != LIVE)
				break;
			if (!call_ae_busy(&s->bg) && now >= s->next_poll &&
			    start_call(s, &s->bg, MSG_CHECK_MESSAGES,
			    (struct span[]){ bspan(&s->name) }, 1,
			    POLL_TIMEOUT_MS, -1, &err) == 0 &&
			    err.status != RPC_OK)
				poll_failed(s, MSG_CHECK_MESSAGES, &err);
			if (!call_ae_busy(&s->bg))
				next = s->next_poll;
			if (s->page == NULL && (next < 0 ||
			    s->grace_until < next))
				next = s->grace_until;
			break;
		case QUITTING:
			call_ae_cancel(&s->bg);
			if (call_ae_busy(&s->cmd))
				break;
			buf_clear(&s->queue);
			s->queued = 0;
			if (!start_call(s, &s->cmd, MSG_QUIT, (struct span[]){
			    bspan(&s->name) }, 1, QUIT_TIMEOUT_MS, -1, &err)) {
				/* Nobody to tell: over without a Quit. */
				s->state = OVER;
				tell_page(s);
			}
			break;
		case OVER:
			break;
		}
	} while (s->state != was);
	rpc_error_free(&err);
	if (finished(s))
		next = now;
	if (next >= 0)
		timer_set(s->sh->timers, &s->timer, next);
	else
		timer_cancel(s->sh->timers, &s->timer);
}

struct web_session *
web_session_new(struct web_shared *sh, struct span name, const char *token,
    void *owner)
{
	struct web_session *s = xcalloc(1, sizeof *s);

	s->sh = sh;
	s->owner = owner;
	memcpy(s->token, token, WEB_TOKEN_LEN);
	buf_append(&s->name, name.p, name.len);
	buf_appendf(&s->not_logged_in, "*** You are not logged in, %.*s",
	    (int)name.len, name.p);
	web_json_text(&s->json_name, name);
	call_ae_init(&s->cmd, sh->loop, sh->timers, cmd_done, s);
	call_ae_init(&s->bg, sh->loop, sh->timers, bg_done, s);
	timer_init(&s->timer, wake);
	web_log_init(&s->log, sh->log_max);
	s->state = PROBING;
	/* From the loop, so the caller has the session before it can end. */
	timer_set(sh->timers, &s->timer, clock_ms());
	return s;
}

void
web_session_free(struct web_session *s)
{
	if (s == NULL)
		return;
	call_ae_free(&s->cmd);
	call_ae_free(&s->bg);
	timer_cancel(s->sh->timers, &s->timer);
	buf_free(&s->name);
	buf_free(&s->json_name);
	buf_free(&s->not_logged_in);
	buf_free(&s->probe_what[0]);
	buf_free(&s->probe_what[1]);
	buf_free(&s->queue);
	buf_free(&s->scratch);
	web_log_free(&s->log);
	buf_free(&s->refused);
	buf_free(&s->users);
	buf_free(&s->failing);
	free(s);
}

const char *
web_session_token(const struct web_session *s)
{
	return s->token;
}

struct span
web_session_name(const struct web_session *s)
{
	return bspan(&s->name);
}

void *
web_session_owner(const struct web_session *s)
{
	return s->owner;
}

void *
web_session_page(const struct web_session *s)
{
	return s->page;
}

int
web_session_live(const struct web_session *s)
{
	return s->state == LIVE;
}

void
web_session_attach(struct web_session *s, void *page, uint64_t seq)
{
	s->page = page;
	web_log_seen(&s->log, seq);
	if (s->state == LIVE) {
		s->pending |= PEND_SESSION;
		/* Who is here now: the page has missed the notices. */
		if (!call_ae_busy(&s->cmd) && s->queued == 0) {
			struct rpc_error err;

			rpc_error_init(&err);
			if (start_call(s, &s->cmd, MSG_LIST, NULL, 0,
			    RPC_DEFAULT_TIMEOUT_MS, -1, &err))
				s->cmd_greeting = 1;
			rpc_error_free(&err);
		}
		if (s->users.len > 0)
			s->pending |= PEND_USERS;
	}
	tell_page(s);
	advance(s);
}

void
web_session_detach(struct web_session *s)
{
	s->page = NULL;
	s->pending &= ~(PEND_REFUSED | PEND_BYE);
	s->grace_until = clock_ms() + s->sh->grace_ms;
	advance(s);
}

int
web_session_room(const struct web_session *s)
{
	return s->queue.len < QUEUE_MAX;
}

int
web_session_line(struct web_session *s, struct span line)
{
	if (s->state != LIVE)
		return 1;
	if (!web_session_room(s))
		return 0;
	buf_append(&s->queue, &line.len, sizeof line.len);
	buf_append(&s->queue, line.p, line.len);
	s->queued++;
	advance(s);
	return web_session_room(s);
}

void
web_session_kick(struct web_session *s)
{
	advance(s);
}

void
web_session_quit(struct web_session *s)
{
	if (s->state == LIVE) {
		s->state = QUITTING;
		advance(s);
	} else if (s->state == PROBING || s->state == REGISTERING) {
		call_ae_cancel(&s->cmd);
		s->state = OVER;
		s->pending &= ~(PEND_REFUSED | PEND_BYE);
		advance(s);
	}
}

int
web_session_next(struct web_session *s, struct buf *out)
{
	buf_clear(out);
	if (s->pending & PEND_SESSION) {
		s->pending &= ~PEND_SESSION;
		buf_appendf(out, "{\"t\":\"session\",\"token\":\"%s\","
		    "\"user\":\"%.*s\",\"server\":\"", s->token,
		    (int)s->json_name.len, s->json_name.data);
		web_json_text(out, span_cstr(s->sh->server));
		buf_append(out, "\"}", 2);
		return 1;
	}
	if (web_log_next(&s->log, wall_ms(), out))
		return 1;
	if (s->pending & PEND_USERS) {
		s->pending &= ~PEND_USERS;
		buf_append(out, s->users.data, s->users.len);
		/* Sent: a List is asked afresh when a page comes back. */
		buf_free(&s->users);
		return 1;
	}
	if (s->pending & PEND_REFUSED) {
		s->pending &= ~PEND_REFUSED;
		buf_append(out, s->refused.data, s->refused.len);
		if (finished(s))
			timer_set(s->sh->timers, &s->timer, clock_ms());
		return 1;
	}
	if (s->pending & PEND_BYE) {
		s->pending &= ~PEND_BYE;
		buf_appendf(out, "{\"t\":\"bye\"}");
		if (finished(s))
			timer_set(s->sh->timers, &s->timer, clock_ms());
		return 1;
	}
	return 0;
}
