/*
 * client.c - the interactive client (see client.h, PROTOCOL.md §5).
 *
 * One poll() loop serves the input (a terminal through libedit's
 * callbacks, or a pipe), a self-pipe carrying signals, and two calls in
 * flight at most, each a non-blocking state machine (rpc_call.h): one
 * slot for the user's commands, one for the background (CheckMessages
 * about once a second, registering again, the user list for completion).
 * No step of a call waits, so every key, line and signal is served
 * between any two steps, whatever the server does (PROTOCOL.md §5.3).
 *
 * Commands typed while a command's call is in flight are queued and run
 * in the order typed, one call at a time: "say a" then "say b" reach the
 * server in that order.  The queue is bounded in bytes; when it is full
 * the input is not read until it drains.
 *
 * Leaving (PROTOCOL.md §5.4) starts at "quit", end of input or a signal: the
 * commands before it (none after a signal) get what is left of a second,
 * then one last CheckMessages within that second shows what arrived, our
 * own last words included, then Quit has two seconds: gone within three
 * whatever the server does, saying on stderr when the logout could not be
 * confirmed.
 *
 * The server may go away and come back, or answer only that its shared
 * store is away (PROTOCOL.md §7), which for the user is the same.  The
 * client then says so once, polls with back-off (1 s doubling to 8 s),
 * and on return registers again if the server has forgotten it, all in
 * one notice.  What it says, and when it polls, it decides as the web
 * front end's sessions do (session.h); what is its own is the terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anet.h"
#include "buf.h"
#include "client.h"
#include "clock.h"
#include "command.h"
#include "names.h"
#include "probe.h"
#include "proto.h"
#include "rpc_call.h"
#include "rpc_client.h"
#include "session.h"
#include "tells.h"
#include "text.h"
#include "ui.h"
#include "username.h"

/* Leaving: the commands before it and a last poll, then Quit (§5.4). */
#define LAST_POLL_MS		1000
/* The start (probe, Register, the users) once the input has ended. */
#define START_AFTER_END_MS	2000
#define QUIT_TIMEOUT_MS		2000
#define COMPLETE_TIMEOUT_MS	1000
#define USERS_MAX_AGE_MS	3000
/* Bytes of typed lines waiting for their turn before input is paused. */
#define QUEUE_MAX		(1u << 20)

/* A call in flight and what it is for. */
struct slot {
	struct rpc_call		 call;
	enum msg_type		 type;
	int			 greeting;	/* the List after Register */
	unsigned long long	 poll;		/* a CheckMessages: its number */
	struct buf		 target;	/* a Tell: to whom */
};

enum leaving {
	STAYING,
	LEAVE_COMMANDS,		/* the commands typed before leaving */
	LEAVE_LAST_POLL,
	LEAVE_QUIT,
	LEFT
};

struct client {
	const struct client_opts *opts;
	struct rpc_target	 srv;
	struct span		 user;		/* as sent: in name */
	struct buf		 name;
	struct buf		 addr;		/* the server, for people */
	struct buf		 shown_user;	/* escaped, NUL-terminated */

	struct rpc_peer		 peer;		/* the addresses, between calls */
	struct slot		 cmd;		/* the user's commands */
	struct slot		 bg;		/* polls, re-register, completion */
	struct session_queue	 queue;		/* typed lines, their turn to
						   come */
	int			 registered;

	int			 done;
	int			 status;
	/*
	 * An end of input (or quit) before the session has started (the
	 * wire probe, Register, the list of users) is acted on once it has:
	 * so a script sees the same start, the same explanations, and its
	 * commands the same time, whenever its input ends (PROTOCOL.md §5.4,
	 * §6).  The start then has START_AFTER_END_MS, so a server or
	 * resolver that never answers still lets the client go.  A signal
	 * (hurry) cuts everything short.
	 */
	int			 started;
	int			 input_ended;
	long long		 ended_at;
	enum leaving		 leaving;
	long long		 leave_at;	/* when leaving started */
	int			 hurry;		/* a signal: the rest is dropped */
	int			 logout_confirmed;
	int			 last_polled;	/* the last poll has started */
	int			 more;		/* a full poll: more waiting */
	int			 came_back;	/* re-registering after down */
	/*
	 * A command failed (said on stderr): the exit status is 1 however
	 * the session ends (PROTOCOL.md §5.4).  Failed background polls do not
	 * count.
	 */
	int			 failed;
	struct session_poll	 poll;		/* the next, what was said */

	struct names		 names;		/* for completion */
	long long		 names_at;	/* the last List of them */
	struct tells		 tells;		/* Tells a notice may still fail */
	unsigned long long	 polls;		/* CheckMessages begun */
	/* The wire probe before Register (PROTOCOL.md §6): what each List got.
	 */
	int			 probes;
	struct buf		 probe_what[2];
	/* Sloppy responses told about: a bit per rpc_sloppy, per call. */
	unsigned		 noted[MSG_NTYPES];
};

static int sigpipe_fds[2] = { -1, -1 };
/* Signals that end the session (logging out first) or redraw the line. */
static const int caught_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH,
    SIGCONT };

static void
on_signal(int signo)
{
	unsigned char c = (unsigned char)signo;
	int saved = errno;
	ssize_t n;

	/* A full pipe already holds a wake-up: losing this byte is fine. */
	n = write(sigpipe_fds[1], &c, 1);
	(void)n;
	errno = saved;
}

static int
setup_signals(void)
{
	struct sigaction sa;
	size_t i;

	if (pipe2(sigpipe_fds, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof caught_signals / sizeof caught_signals[0]; i++)
		if (sigaction(caught_signals[i], &sa, NULL) == -1)
			return -1;
	return 0;
}

static void
end_signals(void)
{
	sigset_t set;
	size_t i;

	/*
	 * The session is over and its exit status decided: a Ctrl-C now
	 * comes too late to change it (with the default action back, it
	 * would kill a client that has logged out, status 130).
	 */
	sigemptyset(&set);
	for (i = 0; i < sizeof caught_signals / sizeof caught_signals[0]; i++)
		sigaddset(&set, caught_signals[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (sigpipe_fds[0] != -1) {
		close(sigpipe_fds[0]);
		close(sigpipe_fds[1]);
		sigpipe_fds[0] = sigpipe_fds[1] = -1;
	}
}

/* A failed call in one line on stderr: "say: connect to ...". */
static void
report(const char *what, enum msg_type type, const struct rpc_error *err)
{
	struct buf line = BUF_INIT;

	session_describe(&line, what, type, err);
	ui_printf(UI_ERROR, "%s", line.data);
	buf_free(&line);
}

/* A command failed: why goes to stderr, the exit status will be 1. */
static void
command_failed(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
command_failed(struct client *c, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(&line, fmt, ap);
	va_end(ap);
	ui_printf(UI_ERROR, "%s", line.data);
	buf_free(&line);
	c->failed = 1;
}

static void
command_report(struct client *c, const char *what, enum msg_type type,
    const struct rpc_error *err)
{
	report(what, type, err);
	c->failed = 1;
}

static void
print_users(const struct rpc_strlist *users)
{
	struct buf b = BUF_INIT;

	session_users(&b, users);
	ui_print_span(UI_INFO, (struct span){ b.data, b.len });
	buf_free(&b);
}

static void
keep_users(struct client *c, const struct rpc_strlist *fresh)
{
	names_set(&c->names, fresh->v, fresh->n);
	c->names_at = clock_ms();
}

/* Says once per session what is wrong with the server's responses. */
static void
note_sloppy(struct client *c, const struct rpc_error *err)
{
	struct buf b = BUF_INIT;

	if (session_note_sloppy(c->noted, err, &b))
		ui_printf(UI_WARNING, "%s", b.data);
	buf_free(&b);
}

/* Starts a call to srv on a slot; -1 (said) when it cannot be built. */
static int
start_call_to(struct client *c, struct slot *s, struct rpc_target srv,
    enum msg_type type, const struct span *args, size_t nargs,
    int timeout_ms)
{
	struct rpc_error err;
	struct buf req;

	rpc_error_init(&err);
	if (rpc_request(&req, type, args, nargs, &err) == -1) {
		report(msg_type_name(type), type, &err);
		rpc_error_free(&err);
		return -1;
	}
	/* Out of time already: fail at once (0 would mean the default). */
	srv.timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	s->type = type;
	s->greeting = 0;
	s->poll = 0;
	buf_clear(&s->target);
	rpc_call_start(&s->call, &srv, &req);
	buf_free(&req);
	rpc_error_free(&err);
	return 0;
}

/* Starts a call to the server on a slot, as start_call_to. */
static int
start_call(struct client *c, struct slot *s, enum msg_type type,
    const struct span *args, size_t nargs, int timeout_ms)
{
	return start_call_to(c, s, c->srv, type, args, nargs, timeout_ms);
}

/* The outcome of a call that is done: 0, or -1 with err. */
static int
outcome(struct client *c, struct slot *s, struct rpc_strlist *list,
    struct rpc_error *err)
{
	int rc;

	rc = session_outcome(&s->call, s->type, list, err);
	note_sloppy(c, err);
	return rc;
}

/*
 * How long a call may take: less once leaving has started, or for the
 * start once the input has ended.
 */
static int
command_timeout(const struct client *c, int ms)
{
	long long left;

	if (c->leaving != STAYING)
		left = c->leave_at + LAST_POLL_MS - clock_ms();
	else if (c->input_ended && !c->started)
		left = c->ended_at + START_AFTER_END_MS - clock_ms();
	else
		return ms;
	return left < ms ? (int)left : ms;
}

/* A CheckMessages on the background slot, numbered (tells.h). */
static void
start_poll(struct client *c, int timeout_ms)
{
	if (start_call(c, &c->bg, MSG_CHECK_MESSAGES, &c->user, 1,
	    timeout_ms) == 0)
		c->bg.poll = ++c->polls;
}

/*
 * The user names for completion after "tell ": the notices keep them
 * current; a List refreshes them when stale, for what notices cannot
 * tell (a server restarted, a notice dropped with a full queue).
 */
static size_t
completion_users(void *arg, const struct span **names)
{
	struct client *c = arg;

	/* What we have now; a fresher list serves the next Tab. */
	if (c->registered && c->leaving == STAYING &&
	    !rpc_call_busy(&c->bg.call) && (c->names_at == 0 ||
	    clock_ms() - c->names_at >= USERS_MAX_AGE_MS))
		start_call(c, &c->bg, MSG_LIST, NULL, 0, COMPLETE_TIMEOUT_MS);
	*names = c->names.v;
	return c->names.n;
}

static void
unknown(struct client *c, struct span word)
{
	struct buf b = BUF_INIT;

	session_unknown(&b, "", word);
	ui_print_span(UI_ERROR, (struct span){ b.data, b.len });
	ui_printf(UI_ERROR_HELP, "%s", command_help);
	c->failed = 1;
	buf_free(&b);
}

static void
say_quitting(struct client *c)
{
	ui_printf(UI_INFO, "Quitting: logging out %s", c->shown_user.data);
}

/*
 * Starts leaving (PROTOCOL.md §5.4).  The clock starts now, whatever is still
 * queued or in flight: the commands before it and the last poll share
 * LAST_POLL_MS, Quit has QUIT_TIMEOUT_MS.
 */
static void
leave(struct client *c, int status)
{
	if (c->leaving != STAYING)
		return;
	c->leaving = LEAVE_COMMANDS;
	c->leave_at = clock_ms();
	c->status = status;
	rpc_call_cut_deadline(&c->cmd.call, LAST_POLL_MS);
	rpc_call_cut_deadline(&c->bg.call, LAST_POLL_MS);
}

/* A signal: what was typed and not yet sent is dropped, not run. */
static void
leave_now(struct client *c, int status)
{
	session_queue_clear(&c->queue);
	c->hurry = 1;
	leave(c, status);
}

/* Whether the start must stop short: a signal, or out of time. */
static int
cut_short(const struct client *c)
{
	return c->hurry || command_timeout(c, RPC_DEFAULT_TIMEOUT_MS) <= 0;
}

/* The end of input, or quit: leaving, once the session has started. */
static void
end_input(struct client *c)
{
	if (c->started || c->leaving != STAYING) {
		leave(c, 0);
		return;
	}
	if (c->input_ended)
		return;
	c->input_ended = 1;
	c->ended_at = clock_ms();
	rpc_call_cut_deadline(&c->cmd.call, START_AFTER_END_MS);
}

/* Registered and the users shown (or said why not): under way. */
static void
session_started(struct client *c)
{
	c->started = 1;
	if (c->input_ended)
		leave(c, 0);
}

/* Runs one typed line; 1 when it started a call (the slot is busy). */
static int
run_line(struct client *c, struct span line)
{
	struct command cmd;
	struct span args[3] = { c->user };

	command_parse(line, &cmd);
	switch (cmd.kind) {
	case CMD_NONE:
		break;
	case CMD_TELL:
		if (session_too_long(c->user, cmd.kind, cmd.message)) {
			command_failed(c, "message too long");
			break;
		}
		args[1] = cmd.target;
		args[2] = cmd.message;
		if (start_call(c, &c->cmd, MSG_TELL, args, 3,
		    command_timeout(c, RPC_DEFAULT_TIMEOUT_MS)) == -1)
			return 0;
		buf_append(&c->cmd.target, cmd.target.p, cmd.target.len);
		return 1;
	case CMD_SAY:
		if (session_too_long(c->user, cmd.kind, cmd.message)) {
			command_failed(c, "message too long");
			break;
		}
		args[1] = cmd.message;
		return start_call(c, &c->cmd, MSG_SAY, args, 2,
		    command_timeout(c, RPC_DEFAULT_TIMEOUT_MS)) == 0;
	case CMD_LIST:
		return start_call(c, &c->cmd, MSG_LIST, NULL, 0,
		    command_timeout(c, RPC_DEFAULT_TIMEOUT_MS)) == 0;
	case CMD_QUIT:
		/* Leaving began when it was read; the rest follows. */
		break;
	case CMD_SHUTDOWN:
		return start_call(c, &c->cmd, MSG_SHUTDOWN, NULL, 0,
		    command_timeout(c, RPC_DEFAULT_TIMEOUT_MS)) == 0;
	case CMD_HELP:
		ui_printf(UI_INFO, "%s", command_help);
		break;
	case CMD_USAGE:
		command_failed(c, "%s", cmd.usage);
		break;
	case CMD_UNKNOWN:
		unknown(c, cmd.word);
		break;
	}
	return 0;
}

/* A line too long to take, said by the ui: a command that failed. */
static void
line_refused(void *arg)
{
	struct client *c = arg;

	c->failed = 1;
}

/* A line typed: queued behind the ones before it. */
static int
on_line(void *arg, struct span line)
{
	struct client *c = arg;
	struct command cmd;

	session_queue_push(&c->queue, line);
	command_parse(line, &cmd);
	if (cmd.kind == CMD_QUIT) {
		end_input(c);
		return 1;
	}
	return 0;
}

/* Runs queued lines until one starts a call or none is left. */
static void
run_queue(struct client *c)
{
	struct buf line = BUF_INIT;
	int busy = 0;

	while (!busy && c->queue.n > 0 && !c->done &&
	    !rpc_call_busy(&c->cmd.call)) {
		if (c->leaving != STAYING &&
		    command_timeout(c, RPC_DEFAULT_TIMEOUT_MS) <= 0) {
			fflush(stdout);
			fprintf(stderr, "rpcchat: leaving: %zu command%s not "
			    "sent in time\n", c->queue.n, c->queue.n == 1 ?
			    "" : "s");
			c->failed = 1;
			session_queue_clear(&c->queue);
			break;
		}
		session_queue_pop(&c->queue, &line);
		busy = run_line(c, (struct span){ line.data, line.len });
	}
	buf_free(&line);
}

/*
 * A failure of the background poll: an outage is said once, as a notice,
 * and the polls back off (session.h).
 */
static void
poll_failed(struct client *c, const char *what, enum msg_type type,
    const struct rpc_error *err)
{
	struct buf line = BUF_INIT;

	switch (session_poll_failed(&c->poll, c->addr.data, what, type, err,
	    clock_ms(), &line)) {
	case SESSION_QUIET:
		break;
	case SESSION_NOTICE:
		ui_printf(UI_NOTICE, "%s", line.data);
		break;
	case SESSION_FAILURE:
		ui_printf(UI_ERROR, "%s", line.data);
		break;
	}
	buf_free(&line);
}

static void
registered_again(struct client *c, int came_back)
{
	struct buf line = BUF_INIT;

	session_registered_again(&line, c->addr.data, c->shown_user.data,
	    came_back);
	ui_printf(UI_NOTICE, "%s", line.data);
	buf_free(&line);
}

/*
 * A message shown: a notice that answers one of our Tells is that Tell
 * failing (PROTOCOL.md §5.4), said on stderr in a pipe.
 */
static void
show_message(struct client *c, struct span m)
{
	names_notice(&c->names, m);
	if (tells_answered(&c->tells, m)) {
		ui_print_span(UI_MESSAGE_FAILED, m);
		c->failed = 1;
	} else
		ui_print_span(UI_MESSAGE, m);
}

/*
 * CheckMessages number poll is done; 1 when a full response says more is
 * waiting (PROTOCOL.md §4.2).
 */
static int
checked(struct client *c, unsigned long long poll, struct rpc_strlist *msgs,
    struct rpc_error *err, int rc)
{
	struct buf line = BUF_INIT;
	int came_back;
	size_t i;

	if (rc == -1) {
		if (c->leaving == STAYING)
			poll_failed(c, "check messages", MSG_CHECK_MESSAGES,
			    err);
		return 0;
	}
	came_back = session_poll_answered(&c->poll, clock_ms());
	if (session_forgotten(msgs, c->user)) {
		/* Logging out anyway: no need to come back first. */
		c->came_back = came_back;
		if (c->leaving == STAYING)
			start_call(c, &c->bg, MSG_REGISTER, &c->user, 1,
			    RPC_DEFAULT_TIMEOUT_MS);
		return 0;
	}
	if (came_back) {
		session_back(&line, c->addr.data);
		ui_printf(UI_NOTICE, "%s", line.data);
		buf_free(&line);
	}
	for (i = 0; i < msgs->n; i++)
		show_message(c, msgs->v[i]);
	/*
	 * More waiting: drained over the next turns of the loop, input
	 * between, at a pace a terminal can show, so a server that always
	 * has more does not bury the line being typed.
	 */
	if (session_poll_more(&c->poll, msgs, clock_ms()))
		return 1;
	tells_settle(&c->tells, poll);
	return 0;
}

static void
bg_done(struct client *c)
{
	struct rpc_strlist list;
	struct rpc_error err;
	int rc, more = 0;

	rpc_strlist_init(&list);
	rpc_error_init(&err);
	rc = outcome(c, &c->bg, &list, &err);
	/* Done with it: a handler may start the next call on this slot. */
	rpc_call_cancel(&c->bg.call);
	switch (c->bg.type) {
	case MSG_CHECK_MESSAGES:
		more = checked(c, c->bg.poll, &list, &err, rc);
		break;
	case MSG_REGISTER:
		if (rc == -1)
			poll_failed(c, "register", MSG_REGISTER, &err);
		else
			registered_again(c, c->came_back);
		break;
	case MSG_LIST:
		if (rc == 0)
			keep_users(c, &list);
		break;
	default:
		break;
	}
	c->more = more;
	rpc_strlist_free(&list);
	rpc_error_free(&err);
}

/* One List of the wire probe (PROTOCOL.md §6), sent and shut for writing. */
static void
start_probe(struct client *c, enum wire wire)
{
	struct rpc_target srv = c->srv;

	srv.wire = wire;
	srv.half_close = 1;
	start_call_to(c, &c->cmd, srv, MSG_LIST, NULL, 0,
	    command_timeout(c, RPC_DEFAULT_TIMEOUT_MS));
}

/* Another client with our name gets half of our messages (PROTOCOL.md §5.4). */
static void
warn_duplicate(const struct client *c, const struct rpc_strlist *users)
{
	if (session_listed(users, c->user))
		ui_printf(UI_WARNING, "*** warning: another client is logged "
		    "in as %s; from now on messages to %s are split between "
		    "the two", c->shown_user.data, c->shown_user.data);
}

/* The session cannot start: said on stderr, exit 1. */
static void
cannot_start(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
cannot_start(struct client *c, const char *fmt, ...)
{
	va_list ap;

	ui_stop();
	fflush(stdout);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	c->status = 1;
	c->done = 1;
}

/*
 * A List of the probe is done (PROTOCOL.md §6, §5.4).  With --wire auto: framed
 * first, then unframed; the one answered like a List is used.  With
 * --wire named: the same two Lists explain a server of the other
 * generation.  The List that answered also shows whether our name is
 * taken.  Then Register.
 */
static void
probe_done(struct client *c)
{
	struct rpc_call *k = &c->cmd.call;
	enum wire wire = k->srv.wire;
	enum wire first = c->probes == 0 ? wire : (wire == WIRE_FRAMED ?
	    WIRE_UNFRAMED : WIRE_FRAMED);
	struct buf *what = &c->probe_what[c->probes], note = BUF_INIT;
	struct rpc_strlist users;
	int ok;

	rpc_strlist_init(&users);
	ok = probe_classify(wire, k->rc, &k->err, (struct span){
	    k->resp.data, k->resp.len }, &users, what);
	c->probes++;
	rpc_call_cancel(k);
	if (!ok && cut_short(c)) {
		/* Never registered: nothing to log out, nothing was sent. */
		cannot_start(c, "rpcchat: leaving before logging in: %s",
		    what->data);
	} else if (!ok && c->probes == 1) {
		start_probe(c, wire == WIRE_FRAMED ? WIRE_UNFRAMED :
		    WIRE_FRAMED);
	} else if (ok && wire != first && !c->opts->wire_auto) {
		cannot_start(c, "the server at %s speaks the %s generation "
		    "of the protocol, not the %s one: use --wire %s, or leave "
		    "--wire out to detect it", c->addr.data, wire_name(wire),
		    wire_name(first), wire_name(wire));
	} else if (!ok && c->opts->wire_auto) {
		if (span_eq((struct span){ c->probe_what[0].data,
		    c->probe_what[0].len }, (struct span){
		    c->probe_what[1].data, c->probe_what[1].len }))
			cannot_start(c, "the server at %s did not answer a "
			    "List: %s", c->addr.data, c->probe_what[0].data);
		else
			cannot_start(c, "the server at %s answered a List in "
			    "neither generation of the protocol (--wire): "
			    "framed, %s; unframed, %s", c->addr.data,
			    c->probe_what[0].data, c->probe_what[1].data);
	} else {
		/* Forced and neither answered: Register says what is wrong. */
		if (ok) {
			if (wire != c->srv.wire) {
				session_unframed_note(&note, c->addr.data);
				ui_printf(UI_WARNING, "%s", note.data);
			}
			c->srv.wire = wire;
			warn_duplicate(c, &users);
		}
		start_call(c, &c->cmd, MSG_REGISTER, &c->user, 1,
		    command_timeout(c, RPC_DEFAULT_TIMEOUT_MS));
	}
	buf_free(&note);
	rpc_strlist_free(&users);
}

static void
cmd_done(struct client *c)
{
	struct rpc_strlist list;
	struct rpc_error err;
	struct buf line = BUF_INIT;
	enum msg_type type = c->cmd.type;
	int greeting = c->cmd.greeting, rc;

	rpc_strlist_init(&list);
	rpc_error_init(&err);
	/* Only the wire probe's Lists shut their write side. */
	if (c->cmd.call.srv.half_close) {
		probe_done(c);
		return;
	}
	rc = outcome(c, &c->cmd, &list, &err);
	rpc_call_cancel(&c->cmd.call);
	switch (type) {
	case MSG_REGISTER:
		if (rc == -1 && cut_short(c) && err.status == RPC_ERR_NET) {
			/* Cut short: it may have got through.  Log out. */
			session_queue_clear(&c->queue);
			c->registered = 1;
			session_started(c);
			break;
		}
		if (rc == -1) {
			/* Never logged in: nothing to log out. */
			ui_stop();
			fflush(stdout);
			session_describe(&line, "register", MSG_REGISTER, &err);
			fprintf(stderr, "%s\n", line.data);
			c->status = 1;
			c->done = 1;
			break;
		}
		c->registered = 1;
		c->poll.next = clock_ms() + SESSION_POLL_MS;
		/* The users are shown however soon the input ended. */
		if (!cut_short(c) && start_call(c, &c->cmd, MSG_LIST, NULL, 0,
		    command_timeout(c, RPC_DEFAULT_TIMEOUT_MS)) == 0)
			c->cmd.greeting = 1;
		else
			session_started(c);
		break;
	case MSG_LIST:
		if (rc == 0) {
			print_users(&list);
			keep_users(c, &list);
		} else if (greeting)
			/* Not a command of the user's: said, but no failure. */
			report("list", MSG_LIST, &err);
		else
			command_report(c, "list", MSG_LIST, &err);
		if (greeting)
			session_started(c);
		break;
	case MSG_SAY:
	case MSG_TELL:
		if (rc == -1)
			command_report(c, type == MSG_SAY ? "say" : "tell",
			    type, &err);
		else if (type == MSG_TELL)
			tells_sent(&c->tells, (struct span){
			    c->cmd.target.data, c->cmd.target.len }, c->polls);
		/* Show our own words (and anything else) without waiting. */
		c->poll.next = clock_ms();
		break;
	case MSG_SHUTDOWN:
		if (rc == 0) {
			ui_printf(UI_INFO, "The server is shutting down; "
			    "leaving");
			ui_stop();
			c->status = 0;
			c->logout_confirmed = 1;	/* nobody left to log out */
			c->done = 1;
		} else
			command_report(c, "shutdown", MSG_SHUTDOWN, &err);
		break;
	case MSG_QUIT:
		c->logout_confirmed = rc == 0;
		if (rc == -1) {
			fflush(stdout);
			session_describe(&line, "quit", MSG_QUIT, &err);
			fprintf(stderr, "%s; the logout could not be "
			    "confirmed\n", line.data);
		}
		c->done = 1;
		break;
	default:
		break;
	}
	buf_free(&line);
	rpc_strlist_free(&list);
	rpc_error_free(&err);
}

static void
on_signals(struct client *c)
{
	unsigned char sigs[16];
	ssize_t n, i;

	while ((n = read(sigpipe_fds[0], sigs, sizeof sigs)) > 0) {
		for (i = 0; i < n && !c->done; i++) {
			switch (sigs[i]) {
			case SIGINT:
				if (!ui_interrupt())
					leave_now(c, 0);
				break;
			case SIGTERM:
			case SIGHUP:
				leave_now(c, 128 + sigs[i]);
				break;
			case SIGWINCH:
				ui_resize();
				break;
			case SIGCONT:
				ui_continue();
				break;
			}
		}
	}
}

/* Whatever is due now: the next command, a poll, the next step out. */
static void
advance(struct client *c)
{
	long long left;

	if (c->registered && !rpc_call_busy(&c->cmd.call))
		run_queue(c);
	switch (c->leaving) {
	case STAYING:
		if (c->registered && !rpc_call_busy(&c->bg.call) &&
		    clock_ms() >= c->poll.next)
			start_poll(c, SESSION_POLL_TIMEOUT_MS);
		break;
	case LEAVE_COMMANDS:
		if (c->queue.n > 0 || rpc_call_busy(&c->cmd.call))
			break;
		c->leaving = LEAVE_LAST_POLL;
		c->last_polled = 0;
		/* FALLTHROUGH */
	case LEAVE_LAST_POLL:
		if (rpc_call_busy(&c->bg.call))
			break;
		left = c->leave_at + LAST_POLL_MS - clock_ms();
		if (c->registered && left > 0 && (!c->last_polled ||
		    c->more)) {
			c->last_polled = 1;
			start_poll(c, (int)left);
			break;
		}
		c->leaving = LEAVE_QUIT;
		/* FALLTHROUGH */
	case LEAVE_QUIT:
		say_quitting(c);
		ui_stop();
		c->leaving = LEFT;
		if (start_call(c, &c->cmd, MSG_QUIT, &c->user, 1,
		    QUIT_TIMEOUT_MS) == -1)
			c->done = 1;
		break;
	case LEFT:
		break;
	}
}

/* Milliseconds poll() may sleep: until the next thing due. */
static int
wait_ms(const struct client *c)
{
	long long now = clock_ms(), w = 60000;
	int k;

	if (c->leaving == STAYING && c->registered &&
	    !rpc_call_busy(&c->bg.call))
		w = c->poll.next - now;
	if (c->leaving == LEAVE_COMMANDS && c->queue.n > 0 &&
	    c->leave_at + LAST_POLL_MS - now < w)
		w = c->leave_at + LAST_POLL_MS - now;
	if ((k = rpc_call_wait_ms(&c->cmd.call)) >= 0 && k < w)
		w = k;
	if ((k = rpc_call_wait_ms(&c->bg.call)) >= 0 && k < w)
		w = k;
	return w < 0 ? 0 : (int)w;
}

/*
 * Whether to read input now: not after its end, nor when leaving, nor
 * with a full queue.
 */
static int
want_input(const struct client *c)
{
	return c->leaving == STAYING && !c->input_ended &&
	    c->queue.bytes.len < QUEUE_MAX;
}

static void
run(struct client *c)
{
	struct pollfd pfd[2 + 2 * RPC_CALL_FDS_MAX];
	size_t ncmd, nbg, nfds;
	int in = -1;

	while (!c->done) {
		advance(c);
		if (c->done)
			break;
		nfds = 0;
		pfd[nfds].fd = sigpipe_fds[0];
		pfd[nfds].events = POLLIN;
		pfd[nfds++].revents = 0;
		in = -1;
		if (want_input(c)) {
			in = (int)nfds;
			pfd[nfds].fd = ui_input_fd();
			pfd[nfds].events = POLLIN;
			pfd[nfds++].revents = 0;
		}
		ncmd = rpc_call_pollfds(&c->cmd.call, pfd + nfds,
		    RPC_CALL_FDS_MAX);
		nbg = rpc_call_pollfds(&c->bg.call, pfd + nfds + ncmd,
		    RPC_CALL_FDS_MAX);
		if (poll(pfd, nfds + ncmd + nbg, wait_ms(c)) == -1 &&
		    errno != EINTR) {
			ui_printf(UI_ERROR, "poll: %s", strerror(errno));
			leave_now(c, 1);
			continue;
		}
		if (pfd[0].revents & POLLIN)
			on_signals(c);
		/*
		 * A pipe's writer gone is POLLHUP without POLLIN: read() then
		 * says EOF after the last bytes.  A terminal that hangs up has
		 * nothing more to give.
		 */
		if (in != -1 && want_input(c)) {
			if ((pfd[in].revents & POLLIN) || (!ui_is_terminal() &&
			    (pfd[in].revents & (POLLHUP | POLLERR)))) {
				if (ui_read(on_line, c) == 1)
					end_input(c);
			} else if (pfd[in].revents & (POLLHUP | POLLERR |
			    POLLNVAL))
				end_input(c);
		}
		if (rpc_call_step(&c->cmd.call, pfd + nfds, ncmd))
			cmd_done(c);
		if (rpc_call_step(&c->bg.call, pfd + nfds + ncmd, nbg))
			bg_done(c);
	}
}

/*
 * The one place the exit status is decided (PROTOCOL.md §5.4): a session that
 * ended well (status 0) but in which a command failed, or whose logout
 * the server did not confirm, exits 1.  Signals keep theirs (128 + N).
 */
static int
exit_status(const struct client *c)
{
	if (c->status == 0 && c->registered && !c->logout_confirmed)
		return 1;
	if (c->status == 0 && c->failed)
		return 1;
	return c->status;
}

/* "localhost:3410" for ":3410", otherwise as the user wrote it. */
static void
format_addr(const struct client_opts *opts, struct buf *b)
{
	const char *addr = opts->addr;

	if (addr == NULL) {
		if (opts->host != NULL && strchr(opts->host, ':') != NULL)
			buf_appendf(b, "[%s]:%s", opts->host, opts->port);
		else
			buf_appendf(b, "%s:%s", opts->host != NULL ?
			    opts->host : "localhost", opts->port);
	} else if (addr[0] == ':')
		buf_appendf(b, "localhost%s", addr);
	else
		buf_appendf(b, "%s", addr);
}

/*
 * The name to log in with, or 0 after saying on stderr why there is none:
 * as typed when it is valid, in NFC when only that is (PROTOCOL.md §5.4).
 */
static int
prepare_user(struct client *c, const char *typed)
{
	struct span t = span_cstr(typed);
	struct buf why = BUF_INIT, shown = BUF_INIT, changes = BUF_INIT;
	enum username_status st;
	int normalised, ok;

	st = username_prepare(t, &c->name, &normalised);
	/* NUL-terminated for the ui; the span is taken once it has moved. */
	buf_append(&c->name, "", 1);
	c->name.len--;
	c->user = (struct span){ c->name.data, c->name.len };
	text_escape(&c->shown_user, c->user);
	buf_append(&c->shown_user, "", 1);
	text_escape(&shown, t);
	if ((ok = st == USERNAME_OK) && normalised) {
		/* The two look alike: say what changed. */
		username_nfc_changes(t, c->user, &changes);
		ui_printf(UI_WARNING, "rpcchat: the name '%.*s' is written "
		    "with combining marks; logging in as '%s', its Unicode "
		    "NFC form (%s), which the server accepts", (int)shown.len,
		    shown.data, c->shown_user.data, changes.data);
	} else if (!ok) {
		username_explain(t, st, &why);
		ui_printf(UI_ERROR, "rpcchat: cannot log in as '%.*s': %s",
		    (int)shown.len, shown.data, why.data);
	}
	buf_free(&why);
	buf_free(&shown);
	buf_free(&changes);
	return ok;
}

int
client_run(const struct client_opts *opts)
{
	struct client c;
	struct ui_opts uo;

	memset(&c, 0, sizeof c);
	c.opts = opts;
	c.srv.host = opts->host;
	c.srv.port = opts->port;
	c.srv.wire = opts->wire;
	c.srv.timeout_ms = RPC_DEFAULT_TIMEOUT_MS;
	c.srv.peer = &c.peer;
	c.srv.strict = opts->strict;
	buf_init(&c.probe_what[0]);
	buf_init(&c.probe_what[1]);
	rpc_call_init(&c.cmd.call);
	rpc_call_init(&c.bg.call);
	buf_init(&c.cmd.target);
	buf_init(&c.bg.target);
	buf_init(&c.name);
	names_init(&c.names);
	tells_init(&c.tells);
	buf_init(&c.addr);
	format_addr(opts, &c.addr);
	buf_init(&c.shown_user);
	/* Checked before anything is said or sent (PROTOCOL.md §5.1, §5.4). */
	if (!prepare_user(&c, opts->user)) {
		c.status = 1;
		goto out;
	}

	if (setup_signals() == -1) {
		fprintf(stderr, "rpcchat: signals: %s\n", strerror(errno));
		c.status = 1;
		goto out;
	}
	if (opts->ncommands > 0 &&
	    ui_input_lines(opts->commands, opts->ncommands) == -1) {
		fprintf(stderr, "rpcchat: -c: %s\n", strerror(errno));
		c.status = 1;
		goto out;
	}
	ui_printf(UI_INFO, "Welcome, %s, contacting server at %s",
	    c.shown_user.data, c.addr.data);
	memset(&uo, 0, sizeof uo);
	uo.user = c.name.data;
	uo.terminal = ui_want_terminal();
	uo.color = opts->color;
	uo.history = opts->history;
	uo.timestamps = opts->timestamps < 0 ? uo.terminal : opts->timestamps;
	uo.users = completion_users;
	uo.refused = line_refused;
	uo.arg = &c;
	/* Typing is served while the server is contacted, too. */
	ui_start(&uo);
	/* The wire to try first: framed unless --wire named the other. */
	start_probe(&c, opts->wire_auto ? WIRE_FRAMED : c.srv.wire);
	run(&c);
	ui_stop();
	c.status = exit_status(&c);
out:
	end_signals();
	rpc_call_free(&c.cmd.call);
	rpc_call_free(&c.bg.call);
	rpc_peer_free(&c.peer);
	session_queue_free(&c.queue);
	names_free(&c.names);
	tells_free(&c.tells);
	buf_free(&c.cmd.target);
	buf_free(&c.bg.target);
	session_poll_free(&c.poll);
	buf_free(&c.addr);
	buf_free(&c.shown_user);
	buf_free(&c.probe_what[0]);
	buf_free(&c.probe_what[1]);
	buf_free(&c.name);
	fflush(stdout);
	return c.status;
}
