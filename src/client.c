/*
 * client.c - the interactive client (see client.h, SPEC §5).
 *
 * One thread and one poll() loop: the input (a terminal through libedit's
 * callbacks, or a pipe), a self-pipe carrying signals, and a timer for
 * CheckMessages about once a second.  Every RPC is synchronous and
 * bounded by its timeout, so nothing can freeze typing for longer.
 *
 * The server may go away and come back.  The client then says so once,
 * polls with back-off (1 s doubling to 8 s), and on return registers
 * again if the server has forgotten it, all in one notice.
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
#include "command.h"
#include "proto.h"
#include "rpc_client.h"
#include "text.h"
#include "ui.h"
#include "username.h"

#define POLL_INTERVAL_MS	1000
#define BACKOFF_MAX_MS		8000
/* Leaving must not hang on a dead server. */
#define QUIT_TIMEOUT_MS		2000
/* The background poll, and completion, must not stall typing for long. */
#define POLL_TIMEOUT_MS		3000
#define COMPLETE_TIMEOUT_MS	1000
#define USERS_MAX_AGE_MS	3000
/* How much of an unknown command is shown back. */
#define SHOW_WORD_MAX		40

struct client {
	const struct client_opts *opts;
	struct rpc_server	 srv;
	struct span		 user;		/* as sent: in name */
	struct buf		 name;
	struct buf		 addr;		/* the server, for people */
	struct buf		 shown_user;	/* escaped, NUL-terminated */
	struct buf		 not_logged_in;	/* the server's text for us */

	int			 done;
	int			 status;
	/*
	 * A command failed (said on stderr): the exit status is 1 however
	 * the session ends (SPEC §5.4).  Failed background polls do not
	 * count.
	 */
	int			 failed;
	long long		 next_poll;
	int			 backoff_ms;
	int			 down;		/* unreachable: said so */
	struct buf		 failing;	/* other failure: said so */

	struct rpc_strlist	 users;		/* for completion */
	long long		 users_at;
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
restore_signals(void)
{
	size_t i;

	for (i = 0; i < sizeof caught_signals / sizeof caught_signals[0]; i++)
		signal(caught_signals[i], SIG_DFL);
	if (sigpipe_fds[0] != -1) {
		close(sigpipe_fds[0]);
		close(sigpipe_fds[1]);
		sigpipe_fds[0] = sigpipe_fds[1] = -1;
	}
}

/*
 * One line for a failed call: "say: connect to ...".  A server error that
 * already names its call ("Say: user x is not logged in") is shown as is.
 */
static void
describe(struct buf *out, const char *what, enum msg_type type,
    const struct rpc_error *err)
{
	const char *call = msg_type_name(type), *msg = err->msg.data;
	size_t n = strlen(call);

	if (msg == NULL)
		msg = "failed";
	if (err->status == RPC_ERR_SERVER && strncmp(msg, call, n) == 0 &&
	    msg[n] == ':')
		buf_appendf(out, "%s", msg);
	else
		buf_appendf(out, "%s: %s", what, msg);
}

static void
report(const char *what, enum msg_type type, const struct rpc_error *err)
{
	struct buf line = BUF_INIT;

	describe(&line, what, type, err);
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
	size_t i;

	if (users->n == 0) {
		ui_printf(UI_INFO, "No users logged in");
		return;
	}
	buf_appendf(&b, "%zu user%s logged in: ", users->n,
	    users->n == 1 ? "" : "s");
	for (i = 0; i < users->n; i++) {
		if (i > 0)
			buf_append(&b, ", ", 2);
		text_escape(&b, users->v[i]);
	}
	ui_printf(UI_INFO, "%.*s", (int)b.len, b.data);
	buf_free(&b);
}

static void
keep_users(struct client *c, struct rpc_strlist *fresh)
{
	rpc_strlist_free(&c->users);
	c->users = *fresh;
	rpc_strlist_init(fresh);
	c->users_at = anet_now_ms();
}

static void
do_list(struct client *c)
{
	struct rpc_strlist users;
	struct rpc_error err;

	rpc_strlist_init(&users);
	rpc_error_init(&err);
	if (rpc_list(&c->srv, &users, &err) == 0) {
		print_users(&users);
		keep_users(c, &users);
	} else
		command_report(c, "list", MSG_LIST, &err);
	rpc_strlist_free(&users);
	rpc_error_free(&err);
}

/* The user list for completion after "tell ", refreshed when stale. */
static const struct rpc_strlist *
completion_users(void *arg)
{
	struct client *c = arg;
	struct rpc_server quick = c->srv;
	struct rpc_strlist users;
	struct rpc_error err;

	if (c->users_at != 0 &&
	    anet_now_ms() - c->users_at < USERS_MAX_AGE_MS)
		return &c->users;
	quick.timeout_ms = COMPLETE_TIMEOUT_MS;
	rpc_strlist_init(&users);
	rpc_error_init(&err);
	if (rpc_list(&quick, &users, &err) == 0)
		keep_users(c, &users);
	rpc_strlist_free(&users);
	rpc_error_free(&err);
	return &c->users;
}

/* Bytes of the delivered text, "USER says MSG" (SPEC §4.1). */
static int
too_long(const struct client *c, const char *verb, struct span msg)
{
	size_t fixed = c->user.len + strlen(verb);

	return msg.len > TEXT_MAX || fixed > TEXT_MAX - msg.len;
}

static void
do_say(struct client *c, struct span msg)
{
	struct rpc_error err;

	if (too_long(c, " says ", msg)) {
		command_failed(c, "message too long");
		return;
	}
	rpc_error_init(&err);
	if (rpc_say(&c->srv, c->user, msg, &err) == -1)
		command_report(c, "say", MSG_SAY, &err);
	/* Show our own words (and anything else) without waiting. */
	c->next_poll = anet_now_ms();
	rpc_error_free(&err);
}

static void
do_tell(struct client *c, struct span target, struct span msg)
{
	struct rpc_error err;

	if (too_long(c, " tells you ", msg)) {
		command_failed(c, "message too long");
		return;
	}
	rpc_error_init(&err);
	if (rpc_tell(&c->srv, c->user, target, msg, &err) == -1)
		command_report(c, "tell", MSG_TELL, &err);
	c->next_poll = anet_now_ms();
	rpc_error_free(&err);
}

/* Ends the session: log out (briefly trying) so no ghost is left. */
static void
leave(struct client *c, int status)
{
	struct rpc_server quick = c->srv;
	struct rpc_error err;

	c->done = 1;
	c->status = status;
	ui_printf(UI_INFO, "Quitting: logging out %s", c->shown_user.data);
	ui_stop();
	quick.timeout_ms = QUIT_TIMEOUT_MS;
	rpc_error_init(&err);
	if (rpc_quit(&quick, c->user, &err) == -1)
		report("quit", MSG_QUIT, &err);
	rpc_error_free(&err);
}

static void
do_shutdown(struct client *c)
{
	struct rpc_error err;

	rpc_error_init(&err);
	if (rpc_shutdown(&c->srv, &err) == 0) {
		ui_printf(UI_INFO, "The server is shutting down; leaving");
		ui_stop();
		c->done = 1;
		c->status = 0;
	} else
		command_report(c, "shutdown", MSG_SHUTDOWN, &err);
	rpc_error_free(&err);
}

static void
unknown(struct client *c, struct span word)
{
	struct buf b = BUF_INIT;
	size_t n = word.len;

	/* Long input is shown cut, at a UTF-8 character boundary. */
	if (n > SHOW_WORD_MAX) {
		n = SHOW_WORD_MAX;
		while (n > 0 && ((unsigned char)word.p[n] & 0xc0) == 0x80)
			n--;
	}
	text_escape(&b, (struct span){ word.p, n });
	command_failed(c, "unknown command: %.*s%s", (int)b.len, b.data,
	    n < word.len ? "..." : "");
	ui_printf(UI_ERROR_HELP, "%s", command_help);
	buf_free(&b);
}

static int
on_line(void *arg, struct span line)
{
	struct client *c = arg;
	struct command cmd;

	command_parse(line, &cmd);
	switch (cmd.kind) {
	case CMD_NONE:
		break;
	case CMD_TELL:
		do_tell(c, cmd.target, cmd.message);
		break;
	case CMD_SAY:
		do_say(c, cmd.message);
		break;
	case CMD_LIST:
		do_list(c);
		break;
	case CMD_QUIT:
		leave(c, 0);
		break;
	case CMD_SHUTDOWN:
		do_shutdown(c);
		break;
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
	return c->done;
}

/* Says a failure of the background poll once, not every second. */
static void
poll_failed(struct client *c, const char *what, enum msg_type type,
    const struct rpc_error *err)
{
	long long now = anet_now_ms();

	if (err->status == RPC_ERR_NET) {
		if (!c->down)
			ui_printf(UI_NOTICE, "*** cannot reach the server: "
			    "%s; retrying", err->msg.data);
		c->down = 1;
	} else if (c->failing.len == 0 ||
	    strcmp(c->failing.data, err->msg.data) != 0) {
		report(what, type, err);
		buf_clear(&c->failing);
		buf_appendf(&c->failing, "%s", err->msg.data);
	}
	c->backoff_ms = c->backoff_ms == 0 ? POLL_INTERVAL_MS :
	    c->backoff_ms * 2;
	if (c->backoff_ms > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	c->next_poll = now + c->backoff_ms;
}

static void
register_again(struct client *c, int came_back)
{
	struct rpc_error err;

	rpc_error_init(&err);
	if (rpc_register(&c->srv, c->user, &err) == -1) {
		poll_failed(c, "register", MSG_REGISTER, &err);
		rpc_error_free(&err);
		return;
	}
	if (came_back)
		ui_printf(UI_NOTICE, "*** the server at %s is back; logged in "
		    "again as %s", c->addr.data, c->shown_user.data);
	else
		ui_printf(UI_NOTICE, "*** the server had logged us out; "
		    "logged in again as %s", c->shown_user.data);
	rpc_error_free(&err);
}

static void
check_messages(struct client *c)
{
	struct rpc_server quick = c->srv;
	struct rpc_strlist msgs;
	struct rpc_error err;
	int came_back;
	size_t i;

	quick.timeout_ms = POLL_TIMEOUT_MS;
	rpc_strlist_init(&msgs);
	rpc_error_init(&err);
	if (rpc_check_messages(&quick, c->user, &msgs, &err) == -1) {
		poll_failed(c, "check messages", MSG_CHECK_MESSAGES, &err);
		goto done;
	}
	came_back = c->down;
	c->down = 0;
	c->backoff_ms = 0;
	buf_clear(&c->failing);
	c->next_poll = anet_now_ms() + POLL_INTERVAL_MS;

	if (msgs.n == 1 && span_eq(msgs.v[0], (struct span){
	    c->not_logged_in.data, c->not_logged_in.len })) {
		register_again(c, came_back);
		goto done;
	}
	if (came_back)
		ui_printf(UI_NOTICE, "*** the server at %s is back",
		    c->addr.data);
	for (i = 0; i < msgs.n; i++)
		ui_print_span(UI_MESSAGE, msgs.v[i]);
	/* A full response means more is waiting (SPEC §4.2): go on. */
	if (msgs.storage.len > FRAME_MAX / 2)
		c->next_poll = anet_now_ms();
done:
	rpc_strlist_free(&msgs);
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
					leave(c, 0);
				break;
			case SIGTERM:
			case SIGHUP:
				leave(c, 128 + sigs[i]);
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

static void
run(struct client *c)
{
	struct pollfd pfd[2];
	long long now, wait;
	int rc;

	c->next_poll = anet_now_ms() + POLL_INTERVAL_MS;
	while (!c->done) {
		now = anet_now_ms();
		if (now >= c->next_poll) {
			check_messages(c);
			continue;
		}
		wait = c->next_poll - now;
		pfd[0].fd = sigpipe_fds[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = ui_input_fd();
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		rc = poll(pfd, 2, (int)wait);
		if (rc == -1 && errno != EINTR) {
			ui_printf(UI_ERROR, "poll: %s", strerror(errno));
			leave(c, 1);
			break;
		}
		if (pfd[0].revents & POLLIN)
			on_signals(c);
		if (c->done)
			break;
		/*
		 * A pipe's writer gone is POLLHUP without POLLIN: read() then
		 * says EOF after the last bytes.  A terminal that hangs up has
		 * nothing more to give.
		 */
		if ((pfd[1].revents & POLLIN) || (!ui_is_terminal() &&
		    (pfd[1].revents & (POLLHUP | POLLERR)))) {
			if (ui_read(on_line, c) == 1 && !c->done)
				leave(c, 0);
		} else if (pfd[1].revents & (POLLHUP | POLLERR | POLLNVAL))
			leave(c, 0);
	}
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
 * as typed when it is valid, in NFC when only that is (SPEC §5.4).
 */
static int
prepare_user(struct client *c, const char *typed)
{
	struct span t = span_cstr(typed);
	struct buf why = BUF_INIT, shown = BUF_INIT;
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
	if ((ok = st == USERNAME_OK) && normalised)
		ui_printf(UI_WARNING, "rpcchat: the name '%.*s' is written "
		    "with combining marks; logging in as '%s', its Unicode "
		    "NFC form, which the server accepts", (int)shown.len,
		    shown.data, c->shown_user.data);
	else if (!ok) {
		username_explain(t, st, &why);
		ui_printf(UI_ERROR, "rpcchat: cannot log in as '%.*s': %s",
		    (int)shown.len, shown.data, why.data);
	}
	buf_free(&why);
	buf_free(&shown);
	return ok;
}

int
client_run(const struct client_opts *opts)
{
	struct client c;
	struct ui_opts uo;
	struct rpc_error err;

	memset(&c, 0, sizeof c);
	c.opts = opts;
	c.srv.host = opts->host;
	c.srv.port = opts->port;
	c.srv.wire = opts->wire;
	c.srv.timeout_ms = RPC_DEFAULT_TIMEOUT_MS;
	buf_init(&c.name);
	rpc_strlist_init(&c.users);
	buf_init(&c.failing);
	buf_init(&c.addr);
	format_addr(opts, &c.addr);
	buf_init(&c.not_logged_in);
	buf_init(&c.shown_user);
	/* Checked before anything is said or sent (SPEC §5.1, §5.4). */
	if (!prepare_user(&c, opts->user)) {
		c.status = 1;
		goto out;
	}
	buf_appendf(&c.not_logged_in, "*** You are not logged in, %.*s",
	    (int)c.user.len, c.user.p);

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
	rpc_error_init(&err);
	if (rpc_register(&c.srv, c.user, &err) == -1) {
		struct buf line = BUF_INIT;

		fflush(stdout);
		describe(&line, "register", MSG_REGISTER, &err);
		fprintf(stderr, "%s\n", line.data);
		buf_free(&line);
		rpc_error_free(&err);
		c.status = 1;
		goto out;
	}
	rpc_error_free(&err);

	memset(&uo, 0, sizeof uo);
	uo.user = c.name.data;
	uo.terminal = ui_want_terminal();
	uo.color = opts->color;
	uo.history = opts->history;
	uo.timestamps = opts->timestamps < 0 ? uo.terminal : opts->timestamps;
	uo.users = completion_users;
	uo.users_arg = &c;
	ui_start(&uo);
	do_list(&c);
	run(&c);
	ui_stop();
	if (c.failed && c.status == 0)
		c.status = 1;
out:
	restore_signals();
	rpc_strlist_free(&c.users);
	buf_free(&c.failing);
	buf_free(&c.addr);
	buf_free(&c.not_logged_in);
	buf_free(&c.shown_user);
	buf_free(&c.name);
	fflush(stdout);
	return c.status;
}
