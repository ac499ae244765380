/*
 * fuzz_dispatch.c - the server's whole request path under libFuzzer.
 *
 * One input is one session against one chat: a configuration byte (bits
 * 0-1 the limits, kept small so they are hit; bits 4-5 the peer's address
 * family for the log), then a run of steps.  Each step
 * advances a fake clock (so idle expiry runs) and feeds one request to
 * the code the server runs for a connection: the request framing of
 * either wire (frame.h), rpc_dispatch, the response framing.  After every
 * step the response must parse as its call's shape, fit in one frame, end
 * in the error string the spec gives for that request, and the chat state
 * must keep its invariants and the message counts the spec implies (no
 * message lost or duplicated, a failed call changes nothing).
 *
 * A step starts with an op byte:
 *	bits 0-4	seconds the clock advances before the request
 *	bits 5-6	0: raw - u16 length, then that many bytes of request
 *			1: built - u8 type, each argument as u8 length + bytes,
 *			   then u16: the last argument is padded to that size
 *			   (reaches "message too long" and full frames cheaply)
 *			2: crowd - u16 count, u8 name length: Register that many
 *			   generated names; 0xffNN is 2900 + NN of them (reaches
 *			   the List-size user limit)
 *			3: wire - u8 read size (bit 7: Shutdown not allowed),
 *			   u16 length, then the bytes a client sends, through
 *			   the server's request framing first
 *	bit 7		0-2: run this step with Shutdown not allowed;
 *			3: the unframed wire
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chat.h"
#include "codec.h"
#include "frame.h"
#include "log.h"
#include "proto.h"
#include "rpc_server.h"
#include "store.h"
#include "text.h"
#include "username.h"
#include "xmalloc.h"

#define START_MS	1000000
/* Beyond this many users the per-user count oracle is skipped (cost). */
#define ORACLE_USERS	200

static const struct chat_limits configs[] = {
	{ 50, 5, 30 * 1000, 0 },
	{ 0, 5, 30 * 1000, 0 },
	{ 3, 1, 0, 0 },
	{ 0, CHAT_DEFAULT_QUEUE_LIMIT, CHAT_DEFAULT_IDLE_TIMEOUT_MS, 0 },
};

struct snapshot {
	struct buf	 names;		/* the List response's string list */
	struct span	*user;		/* point into names */
	size_t		*pending;
	size_t		 n;
};

struct session {
	struct chat		*chat;
	struct store		*store;		/* the memory store over chat */
	const struct chat_limits *limits;
	int64_t			 now;
	size_t			 expired;
	int			 crowded;	/* a big crowd has come */
	const struct sockaddr_storage *peer;	/* who calls, for the log */
};

/* Peers of both families, and none (the log then shows "?"). */
static struct sockaddr_storage peer4, peer6;

/* The request and response of the step under way, for the report. */
static struct span cur_req, cur_resp;

static void
dump(const char *what, struct span s)
{
	struct buf b = BUF_INIT;

	text_escape(&b, s);
	fprintf(stderr, "%s (%zu bytes): %.*s\n", what, s.len,
	    b.len > 2000 ? 2000 : (int)b.len, b.data);
	buf_free(&b);
}

static void
fail(const char *what, const char *detail)
{
	dump("request", cur_req);
	dump("response", cur_resp);
	fprintf(stderr, "fuzz_dispatch: %s%s%s\n", what,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	abort();
}

static void
check_invariants(struct session *s, const char *when)
{
	const char *broken;

	if ((broken = chat_check_invariants(s->chat)) != NULL) {
		fprintf(stderr, "fuzz_dispatch: invariant broken %s\n", when);
		fail("chat_check_invariants", broken);
	}
}

static int
span_cmp(struct span a, struct span b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n > 0 ? memcmp(a.p, b.p, n) : 0;

	if (c != 0)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

static int
span_has_prefix(struct span s, const char *prefix)
{
	size_t n = strlen(prefix);

	return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

static int
span_has_suffix(struct span s, const char *suffix)
{
	size_t n = strlen(suffix);

	return s.len >= n && memcmp(s.p + s.len - n, suffix, n) == 0;
}

/* Whether s is exactly fmt with its one %s replaced by arg. */
static int
span_is(struct span s, const char *fmt, struct span arg)
{
	struct buf want = BUF_INIT;
	const char *hole = strstr(fmt, "%s");
	int same;

	if (hole == NULL)
		buf_append(&want, fmt, strlen(fmt));
	else {
		buf_append(&want, fmt, (size_t)(hole - fmt));
		buf_append(&want, arg.p, arg.len);
		buf_append(&want, hole + 2, strlen(hole + 2));
	}
	same = span_eq(s, (struct span){ want.data, want.len });
	buf_free(&want);
	return same;
}

/*
 * Whether s is prefix + value + suffix, or, where that would be longer
 * than max, the same with value cut short and followed by "..." so that
 * the whole is max bytes: a name from the wire is shortened, visibly, to
 * keep an error within one frame.
 */
static int
is_elided(struct span s, struct span prefix, struct span value,
    struct span suffix, size_t max)
{
	size_t fixed = prefix.len + suffix.len, keep;

	if (s.len < fixed ||
	    memcmp(s.p, prefix.p, prefix.len) != 0 ||
	    memcmp(s.p + s.len - suffix.len, suffix.p, suffix.len) != 0)
		return 0;
	if (fixed + value.len <= max)
		return s.len == fixed + value.len &&
		    (value.len == 0 ||
		    memcmp(s.p + prefix.len, value.p, value.len) == 0);
	keep = max - fixed - 3;
	return s.len == max &&
	    memcmp(s.p + prefix.len, value.p, keep) == 0 &&
	    memcmp(s.p + prefix.len + keep, "...", 3) == 0;
}

/* Whether s is a decimal number (no sign, no leading zero but "0"). */
static int
is_number(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || (len > 1 && p[0] == '0'))
		return 0;
	for (i = 0; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

/* "*** N messages were dropped" */
static int
is_drop_notice(struct span m)
{
	static const char pre[] = "*** ", post[] = " messages were dropped";

	if (!span_has_prefix(m, pre) || !span_has_suffix(m, post) ||
	    m.len <= strlen(pre) + strlen(post))
		return 0;
	return is_number(m.p + strlen(pre), m.len - strlen(pre) - strlen(post));
}

static void
snapshot_take(struct session *s, struct snapshot *snap)
{
	struct span in;
	size_t i;

	buf_init(&snap->names);
	chat_list(s->chat, &snap->names);
	in = (struct span){ snap->names.data, snap->names.len };
	if (get_strlist(&in, &snap->user, &snap->n) == -1 || in.len != 0)
		fail("chat_list", "not one well-formed string list");
	if (snap->n != chat_nusers(s->chat))
		fail("chat_list", "count differs from chat_nusers");
	for (i = 1; i < snap->n; i++)
		if (span_cmp(snap->user[i - 1], snap->user[i]) >= 0)
			fail("chat_list", "not sorted and unique");
	if (s->limits->max_users != 0 && snap->n > s->limits->max_users)
		fail("chat_list", "more users than --max-users");
	if (str_wire_size(0) + snap->names.len > FRAME_MAX)
		fail("chat_list", "List response larger than a frame");
	/* Per-user counts only where the oracle will look at them (cost). */
	snap->pending = NULL;
	if (snap->n == 0 || snap->n > ORACLE_USERS)
		return;
	snap->pending = xreallocarray(NULL, snap->n, sizeof *snap->pending);
	for (i = 0; i < snap->n; i++) {
		snap->pending[i] = chat_pending(s->chat, snap->user[i]);
		/* Its private queue and the log, each within the limit. */
		if (snap->pending[i] > 2 * s->limits->queue_limit)
			fail("chat_pending", "queue beyond its limit");
	}
}

static void
snapshot_free(struct snapshot *snap)
{
	free(snap->user);
	free(snap->pending);
	buf_free(&snap->names);
}

static int
snapshot_has(const struct snapshot *snap, struct span user)
{
	size_t i;

	for (i = 0; i < snap->n; i++)
		if (span_eq(snap->user[i], user))
			return 1;
	return 0;
}

static int
snapshot_same(const struct snapshot *a, const struct snapshot *b)
{
	size_t i;

	if (!span_eq((struct span){ a->names.data, a->names.len },
	    (struct span){ b->names.data, b->names.len }))
		return 0;
	if (a->pending == NULL || b->pending == NULL)
		return 1;
	for (i = 0; i < a->n; i++)
		if (a->pending[i] != b->pending[i])
			return 0;
	return 1;
}

/* A gain of SKIP: this user's count is checked elsewhere. */
#define SKIP	SIZE_MAX

/*
 * Every user logged in before and after must hold what it held plus what
 * the step queued for it ("gain"), less at most one for each message
 * added: one added to a full queue or log drops one there (PROTOCOL.md
 * §4.4), which this user may or may not have been waiting for.
 */
static void
check_gains(struct session *s, const struct snapshot *before,
    size_t (*gain)(void *, struct span), void *arg)
{
	struct snapshot after;
	size_t i, want, got, add;

	snapshot_take(s, &after);
	for (i = 0; i < before->n; i++) {
		if (!snapshot_has(&after, before->user[i]))
			continue;
		if ((add = gain(arg, before->user[i])) == SKIP)
			continue;
		got = chat_pending(s->chat, before->user[i]);
		want = before->pending[i] + add;
		if (got > want || got < before->pending[i]) {
			fprintf(stderr, "user %.*s: pending %zu -> %zu, "
			    "expected %zu at most\n", (int)before->user[i].len,
			    before->user[i].p, before->pending[i], got, want);
			fail("message counts", "a message lost or duplicated");
		}
	}
	snapshot_free(&after);
}

struct gain_ctx {
	unsigned	 type;
	struct span	 arg[3];
	int		 target_in;	/* Tell: target was logged in */
};

static size_t
gain_of_call(void *arg, struct span user)
{
	struct gain_ctx *g = arg;

	switch (g->type) {
	case MSG_REGISTER:
	case MSG_QUIT:
		return span_eq(user, g->arg[0]) ? SKIP : 1;
	case MSG_SAY:
		return 1;
	case MSG_CHECK_MESSAGES:
		return span_eq(user, g->arg[0]) ? SKIP : 0;
	case MSG_TELL:
		if (g->target_in)
			return span_eq(user, g->arg[1]);
		return span_eq(user, g->arg[0]);
	default:
		return 0;
	}
}

static size_t
gain_of_expiry(void *arg, struct span user)
{
	return *(size_t *)arg;
}

static void
on_expired(void *arg, struct span user)
{
	struct session *s = arg;

	if (username_check(user) != USERNAME_OK)
		fail("chat_expire_idle", "expired a name that cannot log in");
	s->expired++;
}

static void
advance_clock(struct session *s, unsigned seconds)
{
	struct snapshot before;
	int64_t next;

	s->now += (int64_t)seconds * 1000;
	snapshot_take(s, &before);
	s->expired = 0;
	if (chat_expire_idle(s->chat, s->now, on_expired, s) != s->expired)
		fail("chat_expire_idle", "count differs from callbacks");
	if (s->limits->idle_timeout_ms == 0 && s->expired != 0)
		fail("chat_expire_idle", "expired with the timeout off");
	next = chat_next_expiry(s->chat);
	if (next <= s->now)
		fail("chat_next_expiry", "a user idle past the timeout remains");
	if (chat_nusers(s->chat) + s->expired != before.n)
		fail("chat_expire_idle", "users lost or gained");
	if (before.n <= ORACLE_USERS)
		check_gains(s, &before, gain_of_expiry, &s->expired);
	snapshot_free(&before);
	check_invariants(s, "after idle expiry");
}

/* Whether adding user would make the List response outgrow a frame. */
static int
list_full(const struct snapshot *before, struct span user)
{
	/* count + names, the new name, the empty error string */
	return before->names.len + str_wire_size(user.len) +
	    str_wire_size(0) > FRAME_MAX;
}

/* The text a Say or Tell delivers is longer than one message may be. */
static int
too_long(unsigned type, const struct span *arg)
{
	if (type == MSG_SAY)
		return arg[0].len + strlen(" says ") + arg[1].len > TEXT_MAX;
	return arg[0].len + strlen(" tells you ") + arg[2].len > TEXT_MAX;
}

/*
 * The error a parsed call answered with must be one the spec knows
 * (PROTOCOL.md §3.2-3.3, §4), and given exactly when its condition holds.
 */
static void
check_error(struct session *s, unsigned type, struct span err,
    const struct span *arg, const struct snapshot *before,
    int shutdown_allowed)
{
	const char *name = msg_type_name(type);
	struct buf want = BUF_INIT;
	int in, ok = 0;

	if (msg_type_nargs(type) > 0)
		in = snapshot_has(before, arg[0]);
	else
		in = 0;
	switch (type) {
	case MSG_REGISTER:
		switch (username_check(arg[0])) {
		case USERNAME_BAD_LENGTH:
			ok = span_is(err, "Register: user must be between 1 "
			    "and 20 letters", arg[0]);
			break;
		case USERNAME_BAD_CHAR:
			ok = span_is(err, "Register: user must only contain "
			    "letters and digits", arg[0]);
			break;
		case USERNAME_OK:
			if (!in && ((s->limits->max_users != 0 &&
			    before->n >= s->limits->max_users) ||
			    list_full(before, arg[0])))
				ok = span_is(err, "Register: too many users",
				    arg[0]);
			else
				ok = err.len == 0;
			break;
		}
		break;
	case MSG_CHECK_MESSAGES:
		if (username_check(arg[0]) != USERNAME_OK)
			ok = span_is(err, "CheckMessages: invalid user name",
			    arg[0]);
		else
			ok = err.len == 0;
		break;
	case MSG_TELL:
	case MSG_SAY:
	case MSG_QUIT:
		buf_appendf(&want, "%s: user ", name);
		if (is_elided(err, (struct span){ want.data, want.len },
		    arg[0], SPAN_LIT(" is not logged in"), FRAME_MAX - 2))
			ok = !in;
		else if (span_is(err, "message too long", arg[0]))
			ok = type != MSG_QUIT && too_long(type, arg);
		else if (err.len == 0)
			ok = in && (type == MSG_QUIT || !too_long(type, arg));
		break;
	case MSG_SHUTDOWN:
		if (shutdown_allowed)
			ok = err.len == 0;
		else
			ok = span_is(err, "Shutdown: not allowed", arg[0]);
		break;
	case MSG_LIST:
		ok = err.len == 0;
		break;
	}
	buf_free(&want);
	if (!ok) {
		fail("error", "not the one the spec gives for this request");
	}
}

/* Whether err is a parse error of the call ("Call: ..."). */
static int
is_parse_error(unsigned type, struct span err)
{
	static const char left[] = " bytes left over after the arguments";
	char pre[64];
	size_t n;

	snprintf(pre, sizeof pre, "%s: ", msg_type_name(type));
	if (span_is(err, "%s: request too short",
	    span_cstr(msg_type_name(type))))
		return 1;
	n = strlen(pre);
	if (!span_has_prefix(err, pre) || !span_has_suffix(err, left) ||
	    err.len < n + strlen(left))
		return 0;
	return is_number(err.p + n, err.len - n - strlen(left));
}

/* Parses req as the server would, to know what it asked. */
static int
parse_args(unsigned type, struct span req, struct span *arg)
{
	int i, n = msg_type_nargs(type);

	for (i = 0; i < n; i++)
		if (get_str(&req, &arg[i]) == -1)
			return -1;
	return req.len == 0 ? n : -1;
}

/*
 * One request message through the dispatcher and the response framing, as
 * the server's conn_answer does, and every check on what came out.
 */
static void
step(struct session *s, struct span req, int shutdown_allowed, enum wire wire)
{
	struct dispatch call;
	struct snapshot before;
	struct gain_ctx g;
	struct buf resp = BUF_INIT;
	struct span in, err, *list = NULL, rq = req;
	size_t nlist = 0, i, delivered, start;
	uint16_t type = UINT16_MAX;
	int nargs = -1, known, oracle;

	memset(&g, 0, sizeof g);
	known = get_u16(&rq, &type) == 0 && type < MSG_NTYPES;
	if (known)
		nargs = parse_args(type, rq, g.arg);
	g.type = known ? type : MSG_NTYPES;
	snapshot_take(s, &before);
	oracle = before.n <= ORACLE_USERS;
	if (known && type == MSG_TELL && nargs >= 0)
		g.target_in = snapshot_has(&before, g.arg[1]);

	memset(&call, 0, sizeof call);
	call.store = s->store;
	call.now_ms = s->now;
	call.peer = s->peer;
	call.shutdown_allowed = shutdown_allowed;
	cur_req = req;
	cur_resp = (struct span){ NULL, 0 };
	frame_begin(wire, &resp);
	start = resp.len;
	rpc_dispatch(&call, req, &resp);
	cur_resp = (struct span){ resp.data, resp.len };
	if (frame_end(wire, &resp) == -1)
		fail("frame_end", "the response does not fit a frame");
	if (wire == WIRE_FRAMED && (start != 2 ||
	    ((size_t)(unsigned char)resp.data[0] << 8 |
	    (unsigned char)resp.data[1]) != resp.len - 2))
		fail("frame_end", "the prefix is not the response's length");
	if (wire == WIRE_UNFRAMED && start != 0)
		fail("frame_begin", "a prefix on the unframed wire");

	/* The response: its call's shape, within one frame, nothing more. */
	if (resp.len - start > FRAME_MAX)
		fail("response", "larger than a frame");
	in = (struct span){ resp.data + start, resp.len - start };
	if (known && msg_type_has_list(type) &&
	    get_strlist(&in, &list, &nlist) == -1)
		fail("response", "no string list where its call has one");
	if (get_str(&in, &err) == -1)
		fail("response", "does not end in an error string");
	if (in.len != 0)
		fail("response", "bytes left over after the error string");
	if (!known) {
		if (err.len == 0)
			fail("response", "unknown or short request succeeded");
		if (req.len < 2 ? !span_is(err, "request too short", err) :
		    !span_has_prefix(err, "unknown message type "))
			fail("response", "wrong error for a short or unknown "
			    "request");
	} else if (nargs < 0) {
		if (!is_parse_error(type, err))
			fail("response", "a malformed request without its "
			    "parse error");
	} else if (is_parse_error(type, err))
		fail("response", "a parse error for a well-formed request");
	else
		check_error(s, type, err, g.arg, &before, shutdown_allowed);
	if (err.len != 0 && nlist != 0)
		fail("response", "results beside an error");
	if (known && type == MSG_SHUTDOWN)
		if (call.shutdown_requested != (err.len == 0) ||
		    (err.len == 0 && !shutdown_allowed))
			fail("Shutdown", "shutdown_requested disagrees");
	if (!(known && type == MSG_SHUTDOWN) && call.shutdown_requested)
		fail("rpc_dispatch", "shutdown requested by another call");

	check_invariants(s, "after a request");

	if (err.len != 0) {
		struct snapshot after;

		/* A call that failed changed nothing. */
		snapshot_take(s, &after);
		if (!snapshot_same(&before, &after))
			fail("failed call", "changed the chat state");
		snapshot_free(&after);
	} else if (type == MSG_LIST) {
		if (nlist != before.n)
			fail("List", "count differs from the users");
		for (i = 0; i < nlist; i++)
			if (!span_eq(list[i], before.user[i]))
				fail("List", "differs from chat_list");
	} else if (type == MSG_CHECK_MESSAGES) {
		for (i = 0; i < nlist; i++)
			if (list[i].len > TEXT_MAX)
				fail("CheckMessages", "a message over 65529 bytes");
		if (!snapshot_has(&before, g.arg[0])) {
			if (nlist != 1 || !span_is(list[0],
			    "*** You are not logged in, %s", g.arg[0]))
				fail("CheckMessages", "wrong answer for a user "
				    "not logged in");
		} else {
			delivered = nlist;
			if (nlist > 0 && is_drop_notice(list[0]))
				delivered--;
			for (i = 1; i < nlist; i++)
				if (is_drop_notice(list[i]))
					fail("CheckMessages", "drop notice not "
					    "first");
			if (delivered > 2 * s->limits->queue_limit)
				fail("CheckMessages", "more than the queue "
				    "limit delivered");
			for (i = 0; oracle && i < before.n; i++) {
				if (!span_eq(before.user[i], g.arg[0]))
					continue;
				if (before.pending[i] < delivered ||
				    chat_pending(s->chat, g.arg[0]) !=
				    before.pending[i] - delivered)
					fail("CheckMessages", "delivered count "
					    "and queue disagree");
				if (nlist == 0 && before.pending[i] != 0)
					fail("CheckMessages", "nothing "
					    "delivered from a queue that held "
					    "some");
			}
		}
	} else if (type == MSG_REGISTER) {
		if (!snapshot_has(&before, g.arg[0]) &&
		    chat_nusers(s->chat) != before.n + 1)
			fail("Register", "user count not one more");
		if (chat_pending(s->chat, g.arg[0]) != 0)
			fail("Register", "queue not fresh");
		if (username_check(g.arg[0]) != USERNAME_OK)
			fail("Register", "accepted an invalid name");
	} else if (type == MSG_QUIT) {
		if (!snapshot_has(&before, g.arg[0]) ||
		    chat_nusers(s->chat) != before.n - 1)
			fail("Quit", "user count not one less");
	} else if (type == MSG_SAY || type == MSG_TELL) {
		if (!snapshot_has(&before, g.arg[0]))
			fail(msg_type_name(type), "accepted from a user not "
			    "logged in");
		if (chat_nusers(s->chat) != before.n)
			fail(msg_type_name(type), "changed the users");
	}
	if (err.len == 0 && oracle)
		check_gains(s, &before, gain_of_call, &g);

	free(list);
	snapshot_free(&before);
	buf_free(&resp);
	cur_req = cur_resp = (struct span){ NULL, 0 };
}

/* Consumes n bytes of input, or what is left. */
static struct span
take(struct span *in, size_t n)
{
	struct span s = { in->p, n < in->len ? n : in->len };

	in->p += s.len;
	in->len -= s.len;
	return s;
}

static unsigned
take_u8(struct span *in)
{
	struct span s = take(in, 1);

	return s.len == 1 ? (unsigned char)s.p[0] : 0;
}

static unsigned
take_u16(struct span *in)
{
	unsigned hi = take_u8(in);

	return hi << 8 | take_u8(in);
}

static void
built_request(struct session *s, struct span *in, int shutdown_allowed)
{
	struct buf req = BUF_INIT, last = BUF_INIT;
	unsigned type = take_u8(in) % (MSG_NTYPES + 1), pad;
	int i, nargs = msg_type_nargs(type);
	struct span a;
	char fill;

	put_u16(&req, type);
	for (i = 0; i < nargs; i++) {
		a = take(in, take_u8(in));
		if (i < nargs - 1)
			put_str(&req, a);
		else
			buf_append(&last, a.p, a.len);
	}
	pad = take_u16(in);
	if (nargs > 0) {
		fill = last.len > 0 ? last.data[0] : 'x';
		if (last.len < pad) {
			memset(buf_reserve(&last, pad - last.len), fill,
			    pad - last.len);
			last.len = pad;
		}
		put_str(&req, (struct span){ last.data, last.len });
	}
	step(s, (struct span){ req.data, req.len }, shutdown_allowed,
	    WIRE_FRAMED);
	buf_free(&last);
	buf_free(&req);
}

/*
 * Bytes as they come off a connection, through the server's request
 * framing (frame_request) in reads of a chosen size, then, once a request
 * is complete, through step().  The framing must ask for more bytes each
 * time, never beyond what a request may take, and hand over a message
 * that lies inside what was read.
 */
static void
wire_step(struct session *s, struct span *input, enum wire wire)
{
	unsigned chunk = take_u8(input);
	int shutdown_allowed = !(chunk & 0x80);
	struct span stream = take(input, take_u16(input));
	struct span in = { stream.p, 0 }, msg;
	size_t need = 0, limit, want;
	char why[FRAME_WHY_LEN];

	chunk &= 0x7f;
	limit = wire == WIRE_FRAMED ? 2 + FRAME_MAX : UNFRAMED_REQUEST_MAX;
	cur_req = stream;
	for (;;) {
		memset(why, 0, sizeof why);
		switch (frame_request(wire, in, &msg, &need, why)) {
		case FRAME_COMPLETE:
			if (msg.p < in.p || msg.len > in.len ||
			    (size_t)(msg.p - in.p) > in.len - msg.len)
				fail("frame_request", "message outside the input");
			if (wire == WIRE_FRAMED ? msg.p != in.p + 2 ||
			    msg.len != ((size_t)(unsigned char)in.p[0] << 8 |
			    (unsigned char)in.p[1]) : msg.p != in.p)
				fail("frame_request", "message not where the "
				    "request starts");
			if (msg.len > FRAME_MAX)
				fail("frame_request", "message longer than a "
				    "frame");
			step(s, msg, shutdown_allowed, wire);
			return;
		case FRAME_BAD:
			if (wire == WIRE_FRAMED)
				fail("frame_request", "a framed request refused");
			if (why[0] == '\0' || memchr(why, '\0', sizeof why) ==
			    NULL)
				fail("frame_request", "refused without a reason");
			return;
		case FRAME_INCOMPLETE:
			if (need <= in.len)
				fail("frame_request", "incomplete, yet asks for "
				    "no more bytes");
			if (need > limit)
				fail("frame_request", "asks for more than a "
				    "request may hold");
			if (need > stream.len)
				return;		/* the read timeout's business */
			/* Reads bring what they bring, at least the need. */
			want = in.len + chunk;
			if (want < need)
				want = need;
			in.len = want < stream.len ? want : stream.len;
			break;
		}
	}
}

static void
crowd(struct session *s, struct span *in)
{
	struct dispatch call;
	struct buf req = BUF_INIT, resp = BUF_INIT;
	unsigned count = take_u16(in), len = 1 + take_u8(in) % USER_MAX;
	unsigned i, j, k;
	char name[USER_MAX];

	/*
	 * A count of 0xffNN is a big crowd, 2900 + NN names: 2978 20-byte
	 * names fill the List frame.  Only one big crowd per input, and only
	 * with short queues: thousands of users with deep queues make every
	 * later check slow, and the fuzzer with it.  Other counts are small.
	 */
	if (count >= 0xff00 && !s->crowded && s->limits->queue_limit <= 5) {
		count = 2900 + (count & 0xff);
		s->crowded = 1;
	} else
		count %= 64;

	memset(&call, 0, sizeof call);
	call.store = s->store;
	call.now_ms = s->now;
	call.peer = s->peer;
	for (i = 0; i < count; i++) {
		for (j = 0, k = i; j < len; j++, k /= 26)
			name[len - 1 - j] = (char)('a' + k % 26);
		buf_clear(&req);
		buf_clear(&resp);
		put_u16(&req, MSG_REGISTER);
		put_str(&req, (struct span){ name, len });
		rpc_dispatch(&call, (struct span){ req.data, req.len }, &resp);
		if (resp.len < 2 || resp.len > FRAME_MAX)
			fail("crowd", "bad Register response");
	}
	buf_free(&req);
	buf_free(&resp);
	check_invariants(s, "after a crowd of Registers");
}

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&peer4;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&peer6;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(4242);
	inet_pton(AF_INET, "192.0.2.1", &s4->sin_addr);
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(4242);
	inet_pton(AF_INET6, "2001:db8::1", &s6->sin6_addr);
	/*
	 * Log lines are formatted and escaped, as in the server, but go
	 * nowhere: the log code sees the hostile bytes too.
	 */
	log_set_output(fopen("/dev/null", "w"));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span in = { (const char *)data, size };
	struct session s;
	unsigned op, cfg, after_crowd = 0;

	if (size == 0)
		return 0;
	cfg = take_u8(&in);
	s.limits = &configs[cfg % (sizeof configs / sizeof configs[0])];
	s.chat = chat_new(s.limits);
	s.store = store_memory_wrap(s.chat);
	s.now = START_MS;
	s.crowded = 0;
	s.peer = (cfg & 0x30) == 0x10 ? &peer6 : (cfg & 0x30) == 0x20 ? NULL :
	    &peer4;
	check_invariants(&s, "when new");
	/* After a big crowd every step costs thousands of checks: few more. */
	while (in.len > 0 && (chat_nusers(s.chat) <= ORACLE_USERS ||
	    ++after_crowd <= 16)) {
		op = take_u8(&in);
		advance_clock(&s, op & 0x1f);
		switch ((op >> 5) & 3) {
		case 1:
			built_request(&s, &in, !(op & 0x80));
			break;
		case 2:
			crowd(&s, &in);
			break;
		case 3:
			wire_step(&s, &in, op & 0x80 ? WIRE_UNFRAMED :
			    WIRE_FRAMED);
			break;
		default:
			step(&s, take(&in, take_u16(&in)), !(op & 0x80),
			    WIRE_FRAMED);
			break;
		}
	}
	store_close(s.store);
	chat_free(s.chat);
	return 0;
}
