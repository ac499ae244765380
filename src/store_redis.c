/*
 * store_redis.c - the chat state in Redis (PROTOCOL.md §7), behind store.h.
 *
 * Every call is one FCALL of a function of store_redis.lua (embedded at
 * build time), which keeps PROTOCOL.md §3-§4 in one atomic step, so any
 * number of front ends serve one chat without racing.  The stateless
 * rules are applied here, before Redis is asked, through rules.h; what
 * the functions answer is spelled in store_redis.h.
 *
 * The connection, its handshake, its deadlines and its outages are
 * redis_conn.c's; here are the calls.  A call that cannot go out, or
 * whose answer does not come, is answered "store unavailable" and never
 * retried (it may have been applied).  With --store-sync N a call that
 * changed the chat is answered only once WAIT N confirms it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "clock.h"
#include "codec.h"
#include "log.h"
#include "proto.h"
#include "redis_conn.h"
#include "rules.h"
#include "store.h"
#include "store_redis.h"
#include "xmalloc.h"

/* Idle logouts are asked for at least this often. */
#define EXPIRE_EVERY_MS		1000
/* Redis's refusals of calls are logged at most this often. */
#define ERROR_LOG_MS		1000

const struct rstore_name rstore_statuses[] = {
	{ "DONE", RSTORE_DONE },
	{ "NOT_LOGGED_IN", RSTORE_NOT_LOGGED_IN },
	{ "TOO_LONG", RSTORE_TOO_LONG },
	{ "TOO_MANY_USERS", RSTORE_TOO_MANY_USERS },
	{ "REPLACED", RSTORE_REPLACED },
	{ "TAKEN", RSTORE_TAKEN },
	{ NULL, 0 }
};

const char *const rstore_errors[] = {
	RSTORE_ERR_NOCONFIG,
	RSTORE_ERR_MISMATCH,
	NULL
};

struct rcall {
	struct rstore		*rs;
	store_done		*done;
	void			*arg;
	uint64_t		 tag;
	int			 type;
	int			 answered;
	long long		 deadline;
	TAILQ_ENTRY(rcall)	 entry;		/* in calls, until answered */
	/* While WAIT confirms it: the answer to give. */
	int			 confirming;
	int			 flags;
	struct buf		 results;
	struct buf		 err;
	/* The user the call was made for, for the texts of the answer. */
	size_t			 len;
	char			 name[USER_MAX];
};
TAILQ_HEAD(rcall_list, rcall);

/* The SELECT, FUNCTION LOAD and configuration every connection sends. */
struct handshake {
	struct redis_handshake	 h;
	char			 db[16];
	char			 select[32];
	char			 lim[4][24];
};

struct rstore {
	struct redis_url	 url;
	struct chat_limits	 lim;
	int			 sync;
	struct redis_conn	*conn;
	struct handshake	 hs;
	char			 name[512];
	void			(*expired)(void *, struct span);
	void			(*fatal)(void *, const char *);
	void			*arg;
	int			 closing;

	/* Calls not answered yet, in deadline order. */
	struct rcall_list	 calls;
	int			 expiring;	/* an expire call is out */
	long long		 next_expire;
	int			 asking_library; /* a FUNCTION LIST is out */
	long long		 last_error_log;

	struct buf		 results;	/* reused from call to call */
	struct buf		 err;
	struct buf		 text;
	struct buf		 notice;
};

static struct redis_cmd *
step(struct handshake *hs, const char *what)
{
	struct redis_handshake *h = &hs->h;

	h->what[h->n] = what;
	return &h->cmd[h->n++];
}

/* One builder for what every new connection sends, in order. */
static void
handshake_build(struct handshake *hs, int db, const struct chat_limits *lim)
{
	struct redis_cmd *c;
	int i;

	memset(hs, 0, sizeof *hs);
	if (db != 0) {
		snprintf(hs->db, sizeof hs->db, "%d", db);
		snprintf(hs->select, sizeof hs->select, "SELECT %d", db);
		c = step(hs, hs->select);
		redis_cmd_arg(c, "SELECT");
		redis_cmd_arg(c, hs->db);
	}
	c = step(hs, "loading the functions");
	redis_cmd_arg(c, "FUNCTION");
	redis_cmd_arg(c, "LOAD");
	redis_cmd_arg(c, "REPLACE");
	redis_cmd_argn(c, store_redis_lua, store_redis_lua_len);
	/* The limits every front end must share, as rpcchat_config takes them. */
	snprintf(hs->lim[0], sizeof hs->lim[0], "%zu", lim->queue_limit);
	snprintf(hs->lim[1], sizeof hs->lim[1], "%lld",
	    (long long)lim->idle_timeout_ms);
	snprintf(hs->lim[2], sizeof hs->lim[2], "%zu", lim->max_users);
	snprintf(hs->lim[3], sizeof hs->lim[3], "%zu", lim->max_memory);
	c = step(hs, "it serves a chat with other limits");
	redis_cmd_arg(c, "FCALL");
	redis_cmd_arg(c, "rpcchat_config");
	redis_cmd_arg(c, "0");
	for (i = 0; i < 4; i++)
		redis_cmd_arg(c, hs->lim[i]);
}

/* -- answers -------------------------------------------------------------- */

static void
call_answer(struct rcall *rc, struct span results, struct span err,
    int flags)
{
	if (rc->answered)
		return;
	rc->answered = 1;
	TAILQ_REMOVE(&rc->rs->calls, rc, entry);
	rc->done(rc->arg, rc->tag, results, err, flags);
}

/* The store could not be asked, or did not answer: the outage counts it. */
static void
answer_unavailable(struct rcall *rc)
{
	if (rc->answered)
		return;
	if (!rc->rs->closing)
		redis_conn_failed(rc->rs->conn);
	call_answer(rc, (struct span){ "", 0 }, SPAN_LIT(STORE_UNAVAILABLE),
	    STORE_OUTAGE);
}

/* Redis answered, but not what a function answers: logged, not counted. */
static void
answer_refused(struct rcall *rc, const char *why)
{
	struct rstore *rs = rc->rs;
	long long now = clock_ms();

	if (now - rs->last_error_log >= ERROR_LOG_MS) {
		log_msg("store: %s: a call failed: %.200s",
		    redis_conn_name(rs->conn), why);
		rs->last_error_log = now;
	}
	call_answer(rc, (struct span){ "", 0 }, SPAN_LIT(STORE_UNAVAILABLE),
	    STORE_OUTAGE);
}

static void
rcall_free(struct rcall *rc)
{
	buf_free(&rc->results);
	buf_free(&rc->err);
	free(rc);
}

static struct span
buf_span(const struct buf *b)
{
	return b->len > 0 ? (struct span){ b->data, b->len } : SPAN_LIT("");
}

/* -- decoding ------------------------------------------------------------- */

static int
is_string(const redisReply *r)
{
	return r->type == REDIS_REPLY_STRING;
}

/* A string list from reply elements [from, n); -1 if it breaks a rule. */
static int
put_reply_list(struct buf *out, const redisReply *r, size_t from)
{
	size_t i, start = out->len, n = r->elements - from;

	if (n > U16_MAX)
		return -1;
	put_u16(out, n);
	for (i = from; i < r->elements; i++) {
		if (!is_string(r->element[i]) || r->element[i]->len > TEXT_MAX)
			return -1;
		put_str(out, (struct span){ r->element[i]->str,
		    r->element[i]->len });
		/* Room for the empty error string. */
		if (out->len - start > FRAME_MAX - 2)
			return -1;
	}
	return 0;
}

static int
status_of(const redisReply *r, long long *status)
{
	if (r->type == REDIS_REPLY_INTEGER) {
		*status = r->integer;
		return 0;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER) {
		*status = r->element[0]->integer;
		return 0;
	}
	return -1;
}

/* Turns a function's reply into the call's results and error. */
static int
decode(struct rstore *rs, struct rcall *rc, const redisReply *r,
    long long *status)
{
	struct span user = { rc->name, rc->len };

	*status = RSTORE_DONE;
	if (rc->type == MSG_LIST) {
		if (r->type != REDIS_REPLY_ARRAY)
			return -1;
		return put_reply_list(&rs->results, r, 0);
	}
	if (status_of(r, status) == -1)
		return -1;
	switch (*status) {
	case RSTORE_DONE:
	case RSTORE_TAKEN:
		if (rc->type == MSG_CHECK_MESSAGES)
			return r->type == REDIS_REPLY_ARRAY ?
			    put_reply_list(&rs->results, r, 1) : -1;
		return *status == RSTORE_DONE ? 0 : -1;
	case RSTORE_REPLACED:
		return rc->type == MSG_REGISTER ? 0 : -1;
	case RSTORE_NOT_LOGGED_IN:
		if (rc->type == MSG_CHECK_MESSAGES)
			rules_not_logged_in_list(user, &rs->results);
		else
			rules_not_logged_in(msg_type_name(
			    (unsigned)rc->type), user, &rs->err);
		return 0;
	case RSTORE_TOO_LONG:
		rules_too_long(&rs->err);
		return 0;
	case RSTORE_TOO_MANY_USERS:
		rules_too_many_users(&rs->err);
		return 0;
	}
	return -1;
}

/* Whether the chat changed: then --store-sync waits for replicas. */
static int
changed(int type, long long status)
{
	switch (status) {
	case RSTORE_DONE:
		return type != MSG_LIST && type != MSG_CHECK_MESSAGES;
	case RSTORE_REPLACED:
	case RSTORE_TAKEN:
		return 1;
	}
	return 0;
}

/* -- replies -------------------------------------------------------------- */

static void
on_library(void *priv, const redisReply *r)
{
	struct rstore *rs = priv;

	rs->asking_library = 0;
	/* FUNCTION LIST LIBRARYNAME answers an empty list for none. */
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 0)
		redis_conn_drop(rs->conn, "the functions are not loaded");
}

/* An error reply to a call: what it says about the connection. */
static void
call_error(struct rstore *rs, struct rcall *rc, const redisReply *r)
{
	struct redis_cmd c = { 0 };

	if (redis_error_is(r, RSTORE_ERR_NOCONFIG)) {
		redis_conn_drop(rs->conn, "the chat's configuration is "
		    "missing");
		answer_unavailable(rc);
		return;
	}
	/* Every write refused, not just this one: an outage of its own. */
	if (redis_error_is(r, "NOREPLICAS") || redis_error_is(r, "MISCONF")) {
		redis_conn_refusing(rs->conn, r->str);
		answer_unavailable(rc);
		return;
	}
	switch (redis_error_kind(r)) {
	case REDIS_NOT_MASTER:
		redis_conn_drop(rs->conn, r->str);
		answer_unavailable(rc);
		return;
	case REDIS_REFUSED:
		/* "ERR Function not found" has no code of its own: ask. */
		if (!rs->asking_library) {
			redis_cmd_arg(&c, "FUNCTION");
			redis_cmd_arg(&c, "LIST");
			redis_cmd_arg(&c, "LIBRARYNAME");
			redis_cmd_arg(&c, RSTORE_LIBRARY);
			rs->asking_library = redis_conn_send(rs->conn, &c, 0,
			    clock_ms() + STORE_CALL_TIMEOUT_MS, on_library,
			    rs) == 0;
		}
		break;
	case REDIS_TRANSIENT:
		break;
	}
	answer_refused(rc, r->str);
}

static void
on_wait(void *priv, const redisReply *r)
{
	struct rcall *rc = priv;
	struct rstore *rs = rc->rs;

	if (rc->answered || rs->closing)
		;
	else if (r != NULL && redis_conn_confirmed(rs->conn, r))
		call_answer(rc, buf_span(&rc->results), buf_span(&rc->err),
		    rc->flags);
	else
		answer_unavailable(rc);
	rcall_free(rc);
}

static void
on_reply(void *priv, const redisReply *r)
{
	struct rcall *rc = priv;
	struct rstore *rs = rc->rs;
	long long status;
	int flags;

	if (rc->answered || rs->closing || r == NULL) {
		answer_unavailable(rc);
		rcall_free(rc);
		return;
	}
	buf_clear(&rs->results);
	buf_clear(&rs->err);
	if (r->type == REDIS_REPLY_ERROR) {
		call_error(rs, rc, r);
		rcall_free(rc);
		return;
	}
	if (decode(rs, rc, r, &status) == -1) {
		answer_refused(rc, "not what the function returns");
		rcall_free(rc);
		return;
	}
	if (rc->type != MSG_LIST)
		redis_conn_wrote(rs->conn);
	flags = status == RSTORE_REPLACED ? STORE_REPLACED : 0;
	if (rs->sync > 0 && changed(rc->type, status)) {
		/* Answered once the replicas confirm it (redis_conn.h). */
		buf_append(&rc->results, rs->results.data, rs->results.len);
		buf_append(&rc->err, rs->err.data, rs->err.len);
		rc->flags = flags;
		if (redis_conn_wait(rs->conn, rc->deadline, on_wait,
		    rc) == 0) {
			rc->confirming = 1;
			return;
		}
		/* An FCALL answered that late: Redis is not keeping up. */
		redis_conn_drop(rs->conn, "no time left to confirm a change");
		answer_unavailable(rc);
		rcall_free(rc);
		return;
	}
	call_answer(rc, buf_span(&rs->results), buf_span(&rs->err), flags);
	rcall_free(rc);
}

/* -- calls ---------------------------------------------------------------- */

/*
 * Sends FCALL fn 0 args...; the answer comes to on_reply.  Every call but
 * List may change the chat.
 */
static void
send_call(struct rstore *rs, int type, const char *fn, int nargs,
    const struct span *args, struct span user, store_done *done, void *arg,
    uint64_t tag)
{
	struct redis_cmd c = { 0 };
	struct rcall *rc;
	int i;

	rc = xcalloc(1, sizeof *rc);
	rc->rs = rs;
	rc->done = done;
	rc->arg = arg;
	rc->tag = tag;
	rc->type = type;
	rc->deadline = clock_ms() + STORE_CALL_TIMEOUT_MS;
	rc->len = user.len > USER_MAX ? USER_MAX : user.len;
	memcpy(rc->name, user.p, rc->len);
	redis_cmd_arg(&c, "FCALL");
	redis_cmd_arg(&c, fn);
	redis_cmd_arg(&c, "0");
	for (i = 0; i < nargs; i++)
		redis_cmd_argn(&c, args[i].p, args[i].len);
	TAILQ_INSERT_TAIL(&rs->calls, rc, entry);
	if (redis_conn_send(rs->conn, &c, type != MSG_LIST, rc->deadline,
	    on_reply, rc) == -1) {
		answer_unavailable(rc);
		rcall_free(rc);
	}
}

static void
answer_now(struct rstore *rs, store_done *done, void *arg, uint64_t tag,
    int flags)
{
	done(arg, tag, buf_span(&rs->results), buf_span(&rs->err), flags);
}

static void
rstore_call(void *impl, int type, const struct span *a, int64_t now,
    store_done *done, void *arg, uint64_t tag)
{
	struct rstore *rs = impl;
	struct span v[5];
	int too_long;

	(void)now;
	buf_clear(&rs->results);
	buf_clear(&rs->err);
	/* What needs no state is answered here, Redis or not. */
	switch (type) {
	case MSG_REGISTER:
		if (rules_register_name(a[0], &rs->err) == -1) {
			answer_now(rs, done, arg, tag, 0);
			return;
		}
		break;
	case MSG_CHECK_MESSAGES:
		if (!rules_valid_name(a[0])) {
			put_u16(&rs->results, 0);
			rules_invalid_check(&rs->err);
			answer_now(rs, done, arg, tag, 0);
			return;
		}
		break;
	case MSG_TELL:
	case MSG_SAY:
	case MSG_QUIT:
		if (!rules_valid_name(a[0])) {
			rules_not_logged_in(msg_type_name((unsigned)type),
			    a[0], &rs->err);
			answer_now(rs, done, arg, tag, 0);
			return;
		}
		break;
	}

	switch (type) {
	case MSG_REGISTER:
		send_call(rs, type, "rpcchat_register", 1, a, a[0], done, arg,
		    tag);
		break;
	case MSG_LIST:
		send_call(rs, type, "rpcchat_list", 0, NULL, a[0], done, arg,
		    tag);
		break;
	case MSG_CHECK_MESSAGES:
		send_call(rs, type, "rpcchat_check", 1, a, a[0], done, arg,
		    tag);
		break;
	case MSG_QUIT:
		send_call(rs, type, "rpcchat_quit", 1, a, a[0], done, arg, tag);
		break;
	case MSG_SAY:
		too_long = rules_message_too_long(a[0], RULES_SAY_INFIX, a[1]);
		buf_clear(&rs->text);
		if (!too_long)
			rules_say_text(a[0], a[1], &rs->text);
		v[0] = a[0];
		v[1] = buf_span(&rs->text);
		v[2] = too_long ? SPAN_LIT("1") : SPAN_LIT("0");
		send_call(rs, type, "rpcchat_say", 3, v, a[0], done, arg, tag);
		break;
	case MSG_TELL:
		too_long = rules_message_too_long(a[0], RULES_TELL_INFIX,
		    a[2]);
		buf_clear(&rs->text);
		buf_clear(&rs->notice);
		/* A target that breaks the name rules is never a user. */
		if (!too_long && rules_valid_name(a[1]))
			rules_tell_text(a[0], a[2], &rs->text);
		if (!too_long)
			rules_no_such_user(a[1], &rs->notice);
		v[0] = a[0];
		v[1] = rs->text.len ? a[1] : SPAN_LIT("");
		v[2] = buf_span(&rs->text);
		v[3] = buf_span(&rs->notice);
		v[4] = too_long ? SPAN_LIT("1") : SPAN_LIT("0");
		send_call(rs, type, "rpcchat_tell", 5, v, a[0], done, arg, tag);
		break;
	default:
		buf_appendf(&rs->err, "internal error");
		answer_now(rs, done, arg, tag, 0);
		break;
	}
}

/* -- idle logouts --------------------------------------------------------- */

static void
on_expire(void *priv, const redisReply *r)
{
	struct rstore *rs = priv;
	const redisReply *e;
	long long now = clock_ms(), wait = EXPIRE_EVERY_MS;
	size_t i;

	rs->expiring = 0;
	if (rs->closing)
		return;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER) {
		if (r->element[0]->integer >= 0 &&
		    r->element[0]->integer < wait)
			wait = r->element[0]->integer;
		for (i = 1; i < r->elements; i++) {
			e = r->element[i];
			if (is_string(e) && rs->expired != NULL)
				rs->expired(rs->arg, (struct span){ e->str,
				    e->len });
		}
	}
	rs->next_expire = now + wait;
}

static long long
rstore_tick(void *impl, long long now)
{
	struct rstore *rs = impl;
	struct redis_cmd c = { 0 };
	struct rcall *rc;
	long long next;

	/*
	 * A call past its deadline fails now; its answer, should it come, is
	 * ignored.  A Redis that answers that late is made again; replicas
	 * that do not confirm in time make the connection short.
	 */
	while ((rc = TAILQ_FIRST(&rs->calls)) != NULL && rc->deadline <= now) {
		if (rc->confirming)
			(void)redis_conn_confirmed(rs->conn, NULL);
		else
			redis_conn_drop(rs->conn, "a call passed its deadline");
		answer_unavailable(rc);
	}
	/* It may fail calls (a connection dropped): the head is looked at after. */
	next = redis_conn_tick(rs->conn, now);
	if ((rc = TAILQ_FIRST(&rs->calls)) != NULL)
		next = redis_earliest(next, rc->deadline);
	/* Not while short of replicas: users who cannot poll are not idle. */
	if (rs->lim.idle_timeout_ms == 0 || !redis_conn_ready(rs->conn, 1))
		return next;
	if (!rs->expiring && now >= rs->next_expire) {
		redis_cmd_arg(&c, "FCALL");
		redis_cmd_arg(&c, "rpcchat_expire");
		redis_cmd_arg(&c, "0");
		if (redis_conn_send(rs->conn, &c, 1, now + STORE_CALL_TIMEOUT_MS,
		    on_expire, rs) == 0) {
			rs->expiring = 1;
			rs->next_expire = now + EXPIRE_EVERY_MS;
		}
	}
	return rs->expiring ? next : redis_earliest(next, rs->next_expire);
}

/* -- the store ------------------------------------------------------------ */

static void
fatal(void *arg, const char *why)
{
	struct rstore *rs = arg;

	rs->fatal(rs->arg, why);
}

static void
describe(struct rstore *rs)
{
	char at[REDIS_ADDR_STR];
	size_t n;
	int i;

	if (rs->url.master[0] == '\0')
		n = (size_t)snprintf(rs->name, sizeof rs->name, "redis at %s",
		    redis_addr_str(&rs->url.hosts[0], at, sizeof at));
	else {
		n = (size_t)snprintf(rs->name, sizeof rs->name, "redis master "
		    "%s through Sentinel at", rs->url.master);
		for (i = 0; i < rs->url.nhosts && n < sizeof rs->name; i++)
			n += (size_t)snprintf(rs->name + n, sizeof rs->name - n,
			    "%s %s", i > 0 ? "," : "", redis_addr_str(
			    &rs->url.hosts[i], at, sizeof at));
	}
	if (rs->url.db != 0 && n < sizeof rs->name)
		n += (size_t)snprintf(rs->name + n, sizeof rs->name - n,
		    ", db %d", rs->url.db);
	if (rs->sync > 0 && n < sizeof rs->name)
		snprintf(rs->name + n, sizeof rs->name - n, "; changes "
		    "answered once %d replica%s confirm%s them", rs->sync,
		    rs->sync == 1 ? "" : "s", rs->sync == 1 ? "s" : "");
}

static void *
rstore_open(const struct store_params *p, char *err, size_t errlen)
{
	struct redis_conn_params cp;
	struct rstore *rs;

	rs = xcalloc(1, sizeof *rs);
	if (redis_url_parse(p->url, &rs->url, err, errlen) == -1) {
		free(rs);
		return NULL;
	}
	TAILQ_INIT(&rs->calls);
	rs->lim = p->limits;
	/* As the memory store settles them, so both keep the same chat. */
	chat_limits_settle(&rs->lim);
	rs->sync = p->sync;
	rs->expired = p->expired;
	rs->fatal = p->fatal;
	rs->arg = p->arg;
	handshake_build(&rs->hs, rs->url.db, &rs->lim);
	describe(rs);
	/* Not connected yet: the first tick starts that, from the loop. */
	memset(&cp, 0, sizeof cp);
	cp.url = &rs->url;
	cp.loop = p->loop;
	cp.sync = p->sync;
	cp.timeout_ms = STORE_CALL_TIMEOUT_MS;
	cp.handshake = &rs->hs.h;
	cp.fatal = fatal;
	cp.arg = rs;
	rs->conn = redis_conn_new(&cp);
	return rs;
}

static void
rstore_close(void *impl)
{
	struct rstore *rs = impl;

	/* Every call still out is called back, and ignored. */
	rs->closing = 1;
	redis_conn_free(rs->conn);
	buf_free(&rs->results);
	buf_free(&rs->err);
	buf_free(&rs->text);
	buf_free(&rs->notice);
	free(rs);
}

static const char *
rstore_name(void *impl)
{
	struct rstore *rs = impl;

	return rs->name;
}

const struct store_type store_redis_type = {
	.name = "redis",
	.open = rstore_open,
	.close = rstore_close,
	.call = rstore_call,
	.tick = rstore_tick,
	.describe = rstore_name,
};
