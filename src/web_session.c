/*
 * web_session.c - one browser tab's chat session (see web_session.h).
 *
 * Two calls at most are in flight, as in the terminal client: one for the
 * lines typed (the probe, Register, Say, Tell, List, Quit), one for the
 * background (CheckMessages, registering again).  advance() decides what
 * is due after every event; the session's one timer wakes it for the
 * next poll and for the end of the grace period.
 *
 * The terminal client (client.c) is a session too, but it prints to a
 * terminal and exits, while this one keeps a log for a page and lives on;
 * the loops are their own.  What both decide alike is shared: what they
 * say and when they poll (session.h), the calls (rpc_call), the probe's
 * verdict (probe_classify), the command parser (command.c) and the
 * escaping (text.c, through web_msg.c).
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
#include "session.h"
#include "text.h"
#include "web_log.h"
#include "web_session.h"
#include "xmalloc.h"

#define QUIT_TIMEOUT_MS		2000
/* Bytes of typed lines waiting for their call before the page is paused. */
#define QUEUE_MAX		(256u * 1024)

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
	enum state		 state;

	struct call_ae		 cmd;
	enum msg_type		 cmd_type;
	int			 cmd_greeting;	/* the List after Register */
	struct call_ae		 bg;
	enum msg_type		 bg_type;
	int			 probes;
	struct buf		 probe_what[2];

	struct session_queue	 queue;		/* typed lines */
	struct buf		 scratch;

	struct web_log		 log;		/* the lines for the page */

	unsigned		 pending;
	struct buf		 refused;	/* JSON of the refusal */
	struct buf		 users;		/* JSON of the last List */

	struct timer		 timer;
	struct session_poll	 poll;		/* the next, what was said */
	long long		 grace_until;	/* detached: Quit then */
	int			 came_back;
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

/* A line made by session.c, of the given kind. */
static void
add_buf(struct web_session *s, enum web_line_kind kind, struct buf *b)
{
	add_line(s, kind, bspan(b));
	buf_free(b);
}

/* A failed call in one line: "say: ...", or the server's own words. */
static void
failed(struct web_session *s, const char *what, enum msg_type type,
    const struct rpc_error *err)
{
	struct buf b = BUF_INIT;

	session_describe(&b, what, type, err);
	add_buf(s, WEB_LINE_ERROR, &b);
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

	if (session_note_sloppy(s->noted, err, &b))
		add_line(s, WEB_LINE_INFO, bspan(&b));
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
	int rc;

	rc = session_outcome(&slot->call, type, list, err);
	note_sloppy(s, err);
	/* The results are in list: a thousand idle sessions keep no KBs. */
	if (slot->call.resp.cap > 4096)
		buf_free(&slot->call.resp);
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

	session_users(&b, users);
	add_buf(s, WEB_LINE_INFO, &b);
}

static void
unknown(struct web_session *s, struct span word)
{
	struct buf b = BUF_INIT;

	session_unknown(&b, "/", word);
	add_buf(s, WEB_LINE_ERROR, &b);
	say(s, WEB_LINE_INFO, "%s", web_help);
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
		if (session_too_long(bspan(&s->name), cmd.kind, cmd.message)) {
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

	while (s->state == LIVE && s->queue.n > 0 && !call_ae_busy(&s->cmd)) {
		if (s->sh->target_ready(s->sh) == 0)
			break;
		session_queue_pop(&s->queue, &line);
		if (run_line(s, bspan(&line)))
			break;
	}
	buf_free(&line);
}

/*
 * A failure of the background poll: an outage is said once, as a notice,
 * and the polls back off (session.h).
 */
static void
poll_failed(struct web_session *s, enum msg_type type,
    const struct rpc_error *err)
{
	struct buf b = BUF_INIT;

	switch (session_poll_failed(&s->poll, s->sh->server, type ==
	    MSG_REGISTER ? "register" : "check messages", type, err,
	    clock_ms(), &b)) {
	case SESSION_QUIET:
		buf_free(&b);
		break;
	case SESSION_NOTICE:
		add_buf(s, WEB_LINE_NOTICE, &b);
		break;
	case SESSION_FAILURE:
		add_buf(s, WEB_LINE_ERROR, &b);
		break;
	}
}

static void
checked(struct web_session *s, struct rpc_strlist *msgs, int rc,
    struct rpc_error *err)
{
	static const struct span no_such = SPAN_LIT("*** No such user: ");
	enum web_line_kind kind;
	struct buf b = BUF_INIT;
	struct span who;
	int came_back, join;
	size_t i;

	if (rc == -1) {
		poll_failed(s, MSG_CHECK_MESSAGES, err);
		return;
	}
	came_back = session_poll_answered(&s->poll, clock_ms());
	if (session_forgotten(msgs, bspan(&s->name))) {
		s->came_back = came_back;
		if (start_call(s, &s->bg, MSG_REGISTER, (struct span[]){
		    bspan(&s->name) }, 1, RPC_DEFAULT_TIMEOUT_MS, -1, err) == 0 &&
		    err->status != RPC_OK)
			poll_failed(s, MSG_REGISTER, err);
		return;
	}
	if (came_back) {
		session_back(&b, s->sh->server);
		add_buf(s, WEB_LINE_NOTICE, &b);
	}
	for (i = 0; i < msgs->n; i++) {
		kind = web_line_classify(msgs->v[i], &who, &join);
		/* The answer to one of our tells (PROTOCOL.md §5.4). */
		if (msgs->v[i].len >= no_such.len &&
		    memcmp(msgs->v[i].p, no_such.p, no_such.len) == 0)
			kind = WEB_LINE_ERROR;
		add_line(s, kind, msgs->v[i]);
	}
	/* A full response: the rest soon, at a pace a page can show. */
	session_poll_more(&s->poll, msgs, clock_ms());
}

static void
bg_done(struct call_ae *slot, void *arg)
{
	struct web_session *s = arg;
	struct rpc_strlist list;
	struct rpc_error err;
	struct buf name = BUF_INIT, b = BUF_INIT;
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
		else {
			session_registered_again(&b, s->sh->server,
			    shown_name(s, &name), s->came_back);
			add_buf(s, WEB_LINE_NOTICE, &b);
		}
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
	struct buf name = BUF_INIT, note = BUF_INIT;
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
	    s->sh->srv.wire != wire)) {
		session_unframed_note(&note, s->sh->server);
		add_buf(s, WEB_LINE_INFO, &note);
	}
	s->sh->srv.wire = wire;
	s->sh->wire_known = 1;
	/*
	 * A name in use is refused, not shared: the server would split the
	 * messages for it, private ones included, between two people.
	 */
	if (session_listed(&users, bspan(&s->name))) {
		refuse(s, "someone is logged in as %s already; choose another "
		    "name", shown_name(s, &name));
		goto out;
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
	s->poll.next = clock_ms() + SESSION_POLL_MS;
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
		s->poll.next = clock_ms();
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
			if (!call_ae_busy(&s->bg) && now >= s->poll.next &&
			    start_call(s, &s->bg, MSG_CHECK_MESSAGES,
			    (struct span[]){ bspan(&s->name) }, 1,
			    SESSION_POLL_TIMEOUT_MS, -1, &err) == 0 &&
			    err.status != RPC_OK)
				poll_failed(s, MSG_CHECK_MESSAGES, &err);
			if (!call_ae_busy(&s->bg))
				next = s->poll.next;
			if (s->page == NULL && (next < 0 ||
			    s->grace_until < next))
				next = s->grace_until;
			break;
		case QUITTING:
			call_ae_cancel(&s->bg);
			if (call_ae_busy(&s->cmd))
				break;
			session_queue_clear(&s->queue);
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
	buf_free(&s->probe_what[0]);
	buf_free(&s->probe_what[1]);
	session_queue_free(&s->queue);
	buf_free(&s->scratch);
	web_log_free(&s->log);
	buf_free(&s->refused);
	buf_free(&s->users);
	session_poll_free(&s->poll);
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
		if (!call_ae_busy(&s->cmd) && s->queue.n == 0) {
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
	return s->queue.bytes.len < QUEUE_MAX;
}

int
web_session_line(struct web_session *s, struct span line)
{
	if (s->state != LIVE)
		return 1;
	if (!web_session_room(s))
		return 0;
	session_queue_push(&s->queue, line);
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
