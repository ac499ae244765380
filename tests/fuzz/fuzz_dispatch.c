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
 * in the error string the spec gives for that request, and the chat must
 * agree with a model of it: who is logged in, and how many messages each
 * user has pending (no message lost or duplicated, a failed call changes
 * nothing), and who falls idle when.
 *
 * The checks are incremental, so that a second of fuzzing runs thousands
 * of inputs: the model answers what the chat held before a step, and
 * after it only what the step touched is compared (the users it named,
 * the user count, the bytes charged).  The full comparison - every user's
 * count, the List, the next expiry, chat_check_invariants - runs every
 * FULL_EVERY steps and at the end of each input, so what a step broke
 * elsewhere is still found; RPCCHAT_FUZZ_FULL=1 in the environment runs
 * it after every step, to find the step that broke it.
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
/* Steps between two full comparisons of the chat with the model. */
#define FULL_EVERY	16

/*
 * The second is the one a big crowd fills: it has no idle timeout, since
 * logging thousands out at once costs the chat tens of milliseconds, the
 * time of a hundred other inputs.
 */
static const struct chat_limits configs[] = {
	{ 50, 5, 30 * 1000, 0 },
	{ 0, 5, 0, 0 },
	{ 3, 1, 0, 0 },
	{ 0, CHAT_DEFAULT_QUEUE_LIMIT, CHAT_DEFAULT_IDLE_TIMEOUT_MS, 0 },
};

/* A logged-in user as the model knows it. */
struct muser {
	size_t		 pending;	/* at least, as of broadcast "seen" */
	size_t		 most;		/* and at most */
	uint64_t	 seen;
	int64_t		 last;		/* Register or CheckMessages: idling */
	size_t		 len;
	char		 name[USER_MAX];
};

/*
 * What the chat must hold, worked out from the calls and their results
 * alone: the users in byte order, and the least and the most each one
 * can have pending.  A message added to a full queue or to the full log
 * drops one there by the sender-fair rule (PROTOCOL.md §4.4), which a
 * given user may or may not have been waiting for: so a message for a
 * user raises the most by one and leaves the least as it was, and the
 * most is capped at a private queue and the log, each full.  Whenever the
 * chat's count is looked at and found within the two, both become it.
 * A broadcast (a Say, a login or logout notice) reaches every user: it is
 * counted once, in nbroadcast, and added to a user's most when that user
 * is next looked at, so that no step costs the model more than a lookup.
 */
struct model {
	struct muser	**user;
	size_t		  n, cap;
	size_t		  list_len;	/* bytes of chat_list's string list */
	uint64_t	  nbroadcast;
};

struct session {
	struct chat		*chat;
	struct store		*store;		/* the memory store over chat */
	const struct chat_limits *limits;
	struct model		 m;
	int64_t			 now;
	size_t			 expired;
	unsigned		 steps;
	int			 crowded;	/* a big crowd has come */
	const struct sockaddr_storage *peer;	/* who calls, for the log */
};

/* Peers of both families, and none (the log then shows "?"). */
static struct sockaddr_storage peer4, peer6;

/* The full comparison after every step (RPCCHAT_FUZZ_FULL). */
static int full_always;

/* The request and response of the step under way, for the report. */
static struct span cur_req, cur_resp;

static void
dump(const char *what, struct span s)
{
	struct buf b = BUF_INIT;

	if (s.p == NULL) {
		fprintf(stderr, "%s: none (between steps)\n", what);
		return;
	}
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

/* -- the model ------------------------------------------------------------ */

static struct span
muser_name(const struct muser *u)
{
	return (struct span){ u->name, u->len };
}

/* The user, or NULL with *at where it would go. */
static struct muser *
model_find(const struct model *m, struct span name, size_t *at)
{
	size_t lo = 0, hi = m->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = span_cmp(name, muser_name(m->user[mid]))) == 0) {
			if (at != NULL)
				*at = mid;
			return m->user[mid];
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (at != NULL)
		*at = lo;
	return NULL;
}

static size_t
capped(size_t pending, uint64_t add, size_t limit)
{
	return add >= limit || pending > limit - add ? limit :
	    pending + (size_t)add;
}

/* Brings the broadcasts the user has not yet counted into its most. */
static void
model_catch_up(struct session *s, struct muser *u)
{
	u->most = capped(u->most, s->m.nbroadcast - u->seen,
	    2 * s->limits->queue_limit);
	u->seen = s->m.nbroadcast;
}

/*
 * Whether the chat's count for the user is one the calls allow; if so the
 * model takes it as the user's count.
 */
static int
model_agrees(struct session *s, struct muser *u, size_t got)
{
	model_catch_up(s, u);
	if (got < u->pending || got > u->most)
		return 0;
	u->pending = u->most = got;
	return 1;
}

/* A message for this user alone (a Tell, "No such user"). */
static void
model_give(struct session *s, struct muser *u)
{
	model_catch_up(s, u);
	u->most = capped(u->most, 1, 2 * s->limits->queue_limit);
}

/* Register: a fresh queue, after a notice to everyone else. */
static void
model_login(struct session *s, struct span name)
{
	struct model *m = &s->m;
	struct muser *u;
	size_t at;

	m->nbroadcast++;
	if ((u = model_find(m, name, &at)) == NULL) {
		if (m->n == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 16;
			m->user = xreallocarray(m->user, m->cap,
			    sizeof *m->user);
		}
		u = xcalloc(1, sizeof *u);
		memcpy(u->name, name.p, name.len);
		u->len = name.len;
		memmove(&m->user[at + 1], &m->user[at],
		    (m->n - at) * sizeof *m->user);
		m->user[at] = u;
		m->n++;
		m->list_len += str_wire_size(name.len);
	}
	u->pending = u->most = 0;
	u->seen = m->nbroadcast;
	u->last = s->now;
}

/* Quit or idle expiry: gone, with a notice to everyone left. */
static void
model_logout(struct session *s, struct span name)
{
	struct model *m = &s->m;
	struct muser *u;
	size_t at;

	if ((u = model_find(m, name, &at)) == NULL)
		fail("model", "logging out a user not logged in");
	m->list_len -= str_wire_size(u->len);
	free(u);
	memmove(&m->user[at], &m->user[at + 1],
	    (m->n - at - 1) * sizeof *m->user);
	m->n--;
	m->nbroadcast++;
}

static void
model_init(struct model *m)
{
	memset(m, 0, sizeof *m);
	m->list_len = 2;	/* the count */
}

static void
model_free(struct model *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->user[i]);
	free(m->user);
}

/*
 * The idle clock moves in steps (README): a CheckMessages sets a user's
 * time only once it is a step old, a tenth of the timeout and at most
 * 5 s, so the timeout acts up to a step late, never early.
 */
static int64_t
model_idle_step(const struct session *s)
{
	int64_t step = s->limits->idle_timeout_ms / 10;

	return step < 5000 ? step : 5000;
}

/* How long after its last time a user is logged out. */
static int64_t
model_idle_late(const struct session *s)
{
	return s->limits->idle_timeout_ms + model_idle_step(s);
}

/* When the model's next user falls idle; INT64_MAX if never. */
static int64_t
model_next_expiry(const struct session *s)
{
	int64_t first = INT64_MAX;
	size_t i;

	if (s->limits->idle_timeout_ms == 0)
		return INT64_MAX;
	for (i = 0; i < s->m.n; i++)
		if (s->m.user[i]->last < first)
			first = s->m.user[i]->last;
	return first == INT64_MAX ? first : first + model_idle_late(s);
}

/* -- comparing the chat with the model ------------------------------------ */

static void
check_invariants(struct session *s, const char *when)
{
	const char *broken;

	if ((broken = chat_check_invariants(s->chat)) != NULL) {
		fprintf(stderr, "fuzz_dispatch: invariant broken %s\n", when);
		fail("chat_check_invariants", broken);
	}
}

/* One user the step touched: logged in or not, and its count. */
static void
check_user(struct session *s, struct span name)
{
	struct muser *u = model_find(&s->m, name, NULL);
	size_t got;

	if (chat_logged_in(s->chat, name) != (u != NULL))
		fail("chat_logged_in", u != NULL ? "a user lost" :
		    "a user the calls did not log in");
	got = chat_pending(s->chat, name);
	if (u == NULL ? got != 0 : !model_agrees(s, u, got)) {
		fprintf(stderr, "user %.*s: pending %zu, expected %zu-%zu\n",
		    (int)name.len, name.p, got, u ? u->pending : 0,
		    u ? u->most : 0);
		fail("message counts", "a message lost or duplicated");
	}
}

static void
check_nusers(struct session *s)
{
	if (chat_nusers(s->chat) != s->m.n)
		fail("chat_nusers", "not the users the calls logged in");
}

/* The whole chat against the whole model. */
static void
check_all(struct session *s, const char *when)
{
	struct buf names = BUF_INIT;
	struct span in, *user = NULL;
	size_t n, i;

	check_invariants(s, when);
	check_nusers(s);
	chat_list(s->chat, &names);
	in = (struct span){ names.data, names.len };
	if (get_strlist(&in, &user, &n) == -1 || in.len != 0)
		fail("chat_list", "not one well-formed string list");
	if (n != s->m.n || names.len != s->m.list_len)
		fail("chat_list", "not the users the calls logged in");
	for (i = 0; i < n; i++)
		if (!span_eq(user[i], muser_name(s->m.user[i])))
			fail("chat_list", "not the users the calls logged in, "
			    "in byte order");
	if (s->limits->max_users != 0 && n > s->limits->max_users)
		fail("chat_list", "more users than --max-users");
	if (str_wire_size(0) + names.len > FRAME_MAX)
		fail("chat_list", "List response larger than a frame");
	/* Logged in, as the List says: only the counts are left. */
	for (i = 0; i < n; i++)
		if (!model_agrees(s, s->m.user[i],
		    chat_pending(s->chat, user[i]))) {
			fprintf(stderr, "user %.*s: pending %zu, expected "
			    "%zu-%zu\n", (int)user[i].len, user[i].p,
			    chat_pending(s->chat, user[i]),
			    s->m.user[i]->pending, s->m.user[i]->most);
			fail("message counts", "a message lost or duplicated");
		}
	if (chat_next_expiry(s->chat) != model_next_expiry(s))
		fail("chat_next_expiry", "not when the model's first user "
		    "falls idle");
	if (chat_charged(s->chat) > chat_budget(s->chat))
		fail("chat_charged", "over the budget");
	free(user);
	buf_free(&names);
}

/* After each step: what every step touches, and now and then the rest. */
static void
step_done(struct session *s, const char *when)
{
	check_nusers(s);
	if (full_always || ++s->steps % FULL_EVERY == 0)
		check_all(s, when);
}

static void
on_expired(void *arg, struct span user)
{
	struct session *s = arg;
	struct muser *u;

	if (username_check(user) != USERNAME_OK)
		fail("chat_expire_idle", "expired a name that cannot log in");
	if ((u = model_find(&s->m, user, NULL)) == NULL)
		fail("chat_expire_idle", "expired a user not logged in");
	if (s->limits->idle_timeout_ms == 0 ||
	    u->last > s->now - model_idle_late(s))
		fail("chat_expire_idle", "expired a user not idle for the "
		    "timeout");
	model_logout(s, user);
	s->expired++;
}

static void
advance_clock(struct session *s, unsigned seconds)
{
	size_t before = s->m.n;

	s->now += (int64_t)seconds * 1000;
	s->expired = 0;
	if (chat_expire_idle(s->chat, s->now, on_expired, s) != s->expired)
		fail("chat_expire_idle", "count differs from callbacks");
	if (chat_next_expiry(s->chat) <= s->now)
		fail("chat_next_expiry", "a user idle past the timeout remains");
	if (chat_nusers(s->chat) + s->expired != before)
		fail("chat_expire_idle", "users lost or gained");
}

/*
 * Whether Register must refuse a valid name: a new user beyond
 * --max-users, or one that would make the List response outgrow a frame
 * (the count and names, the new name, the empty error string).
 */
static int
room_full(const struct session *s, struct span user)
{
	if (model_find(&s->m, user, NULL) != NULL)
		return 0;
	return (s->limits->max_users != 0 &&
	    s->m.n >= s->limits->max_users) ||
	    s->m.list_len + str_wire_size(user.len) + str_wire_size(0) >
	    FRAME_MAX;
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
 * (PROTOCOL.md §3.2-3.3, §4), and given exactly when its condition holds
 * in the chat as it was before the call (the model).
 */
static void
check_error(struct session *s, unsigned type, struct span err,
    const struct span *arg, int shutdown_allowed)
{
	const char *name = msg_type_name(type);
	struct buf want = BUF_INIT;
	int in, ok = 0;

	if (msg_type_nargs(type) > 0)
		in = model_find(&s->m, arg[0], NULL) != NULL;
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
			if (room_full(s, arg[0]))
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
 * CheckMessages of a logged-in user: what was delivered and what is left
 * must add up to what the model says was pending.
 */
static void
check_delivery(struct session *s, struct muser *u, const struct span *list,
    size_t nlist)
{
	size_t delivered = nlist, i;

	if (nlist > 0 && is_drop_notice(list[0]))
		delivered--;
	for (i = 1; i < nlist; i++)
		if (is_drop_notice(list[i]))
			fail("CheckMessages", "drop notice not first");
	model_catch_up(s, u);
	if (delivered > 2 * s->limits->queue_limit)
		fail("CheckMessages", "more than a queue and the log delivered");
	if (u->most < delivered)
		fail("CheckMessages", "more delivered than was pending");
	if (nlist == 0 && u->pending != 0)
		fail("CheckMessages", "nothing delivered from a queue that "
		    "held some");
	/* What is left is what was there, less what was delivered. */
	u->pending = u->pending > delivered ? u->pending - delivered : 0;
	u->most -= delivered;
	if (s->now - u->last >= model_idle_step(s))
		u->last = s->now;
}

/* The model after a call that succeeded. */
static void
apply(struct session *s, unsigned type, const struct span *arg,
    const struct span *list, size_t nlist)
{
	struct muser *u = model_find(&s->m, arg[0], NULL), *t;
	size_t i;

	switch (type) {
	case MSG_REGISTER:
		if (username_check(arg[0]) != USERNAME_OK)
			fail("Register", "accepted an invalid name");
		model_login(s, arg[0]);
		break;
	case MSG_LIST:
		if (nlist != s->m.n)
			fail("List", "count differs from the users");
		for (i = 0; i < nlist; i++)
			if (!span_eq(list[i], muser_name(s->m.user[i])))
				fail("List", "not the users the calls logged "
				    "in, in byte order");
		break;
	case MSG_CHECK_MESSAGES:
		for (i = 0; i < nlist; i++)
			if (list[i].len > TEXT_MAX)
				fail("CheckMessages", "a message over 65529 bytes");
		if (u != NULL)
			check_delivery(s, u, list, nlist);
		else if (nlist != 1 || !span_is(list[0],
		    "*** You are not logged in, %s", arg[0]))
			fail("CheckMessages", "wrong answer for a user not "
			    "logged in");
		break;
	case MSG_TELL:
		if (u == NULL)
			fail("Tell", "accepted from a user not logged in");
		t = model_find(&s->m, arg[1], NULL);
		model_give(s, t != NULL ? t : u);
		break;
	case MSG_SAY:
		if (u == NULL)
			fail("Say", "accepted from a user not logged in");
		s->m.nbroadcast++;
		break;
	case MSG_QUIT:
		if (u == NULL)
			fail("Quit", "accepted from a user not logged in");
		model_logout(s, arg[0]);
		break;
	}
}

/*
 * One request message through the dispatcher and the response framing, as
 * the server's conn_answer does, and every check on what came out.
 */
static void
step(struct session *s, struct span req, int shutdown_allowed, enum wire wire)
{
	struct dispatch call;
	struct buf resp = BUF_INIT;
	struct span in, err, *list = NULL, rq = req, arg[3];
	size_t nlist = 0, start, charged;
	uint16_t type = UINT16_MAX;
	int nargs = -1, known;

	memset(arg, 0, sizeof arg);
	known = get_u16(&rq, &type) == 0 && type < MSG_NTYPES;
	if (known)
		nargs = parse_args(type, rq, arg);
	charged = chat_charged(s->chat);

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
		check_error(s, type, err, arg, shutdown_allowed);
	if (err.len != 0 && nlist != 0)
		fail("response", "results beside an error");
	if (known && type == MSG_SHUTDOWN)
		if (call.shutdown_requested != (err.len == 0) ||
		    (err.len == 0 && !shutdown_allowed))
			fail("Shutdown", "shutdown_requested disagrees");
	if (!(known && type == MSG_SHUTDOWN) && call.shutdown_requested)
		fail("rpc_dispatch", "shutdown requested by another call");

	if (err.len != 0) {
		/* A call that failed changed nothing. */
		if (chat_charged(s->chat) != charged)
			fail("failed call", "changed the bytes charged");
	} else if (known)
		apply(s, type, arg, list, nlist);
	/* The users the request named; the rest waits for check_all. */
	if (nargs > 0)
		check_user(s, arg[0]);
	if (nargs > 0 && type == MSG_TELL)
		check_user(s, arg[1]);
	step_done(s, "after a request");

	free(list);
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

/*
 * Registers a crowd straight into the chat: the request path of each
 * Register is what step() is for, and a crowd only sets the scene (a room
 * near the List's frame, --max-users reached) cheaply.
 */
static void
crowd(struct session *s, struct span *in)
{
	struct buf err = BUF_INIT;
	struct span name;
	unsigned count = take_u16(in), len = 1 + take_u8(in) % USER_MAX;
	unsigned i, j, k;
	int full;
	char buf[USER_MAX];

	/*
	 * A count of 0xffNN is a big crowd, 2900 + NN names: 2978 20-byte
	 * names fill the List frame.  Only one big crowd per input, and only
	 * with short queues, to keep the fuzzer fast.  Other counts are small.
	 */
	if (count >= 0xff00 && !s->crowded && s->limits->queue_limit <= 5) {
		count = 2900 + (count & 0xff);
		s->crowded = 1;
	} else
		count %= 64;

	name = (struct span){ buf, len };
	for (i = 0; i < count; i++) {
		for (j = 0, k = i; j < len; j++, k /= 26)
			buf[len - 1 - j] = (char)('a' + k % 26);
		buf_clear(&err);
		chat_register(s->chat, name, s->now, &err);
		full = room_full(s, name);
		if (full ? !span_is((struct span){ err.data, err.len },
		    "Register: too many users", name) : err.len != 0)
			fail("crowd", "Register refused or accepted wrongly");
		/* One refused, the rest would be: the room is full. */
		if (full)
			break;
		model_login(s, name);
	}
	buf_free(&err);
	step_done(s, "after a crowd of Registers");
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
	full_always = getenv("RPCCHAT_FUZZ_FULL") != NULL;
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
	memset(&s, 0, sizeof s);
	cfg = take_u8(&in);
	s.limits = &configs[cfg % (sizeof configs / sizeof configs[0])];
	s.chat = chat_new(s.limits);
	s.store = store_memory_wrap(s.chat);
	s.now = START_MS;
	s.peer = (cfg & 0x30) == 0x10 ? &peer6 : (cfg & 0x30) == 0x20 ? NULL :
	    &peer4;
	model_init(&s.m);
	check_all(&s, "when new");
	/* In a room of thousands each step costs more: a few steps more. */
	while (in.len > 0 && (!s.crowded || ++after_crowd <= FULL_EVERY)) {
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
	check_all(&s, "at the end of the input");
	store_close(s.store);
	chat_free(s.chat);
	model_free(&s.m);
	return 0;
}
