/*
 * store_redis.c - the chat state in Redis (PROTOCOL.md §7), behind store.h.
 *
 * The functions of store_redis.lua (embedded at build time) keep
 * PROTOCOL.md §3-§4, each call one atomic step, so any number of front
 * ends serve one chat without racing.  Calls go out together, in one
 * FCALL rpcchat_batch, as a database commits a group: while a batch is
 * out, the calls that arrive wait for its answer, then go as the next,
 * and batches go at most every BATCH_GAP_MS.  A function call has a cost
 * of its own, so shared by the calls of a busy front end; a lone call
 * goes at the store's next tick, when the loop comes round, no later
 * than hiredis would have written it.  List reads
 * the users' ZSET, which needs no function.  The stateless rules are
 * applied here, before Redis is asked, through rules.h; what the
 * functions answer is spelled in store_redis.h.
 *
 * The connection, its handshake, its deadlines and its outages are
 * redis_conn.c's; here are the calls.  A call that cannot go out, or
 * whose answer does not come, is answered "store unavailable" and never
 * retried (it may have been applied).  With --store-sync N the calls of a
 * batch that changed the chat are answered only once WAIT N confirms
 * them.
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

/* The periodic rpcchat_tidy goes at least this often. */
#define TIDY_EVERY_MS		1000
/* Redis's refusals of calls are logged at most this often. */
#define ERROR_LOG_MS		1000
/* Batches out at once; one goes early rather than hold more calls or bytes. */
#define BATCH_INFLIGHT		1
/*
 * A batch goes no sooner than this after the one before.  Redis's cost of
 * an FCALL, and the wakeups of Redis, of its replica and of the front end
 * for it, are shared by its calls: a busy front end that sent whatever
 * had come while a batch was out sent batches of 6 calls; held this long,
 * about 25, at a third less Redis CPU per call, for at most this much more
 * latency.  A front end that is not busy sent its last batch long before,
 * and sends a lone call at once.
 */
#define BATCH_GAP_MS		2
#define BATCH_CALLS		256
#define BATCH_BYTES		(256 * 1024)

const struct rstore_call rstore_calls[] = {
	{ 'R', 1 },			/* Register: user */
	{ 'C', 1 },			/* CheckMessages: user */
	{ 'S', 3 },			/* Say: user, text, too long */
	{ 'T', 5 },			/* Tell: user, target, text, notice,
					   too long */
	{ 'Q', 1 },			/* Quit: user */
	{ 0, 0 }
};

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
	/* Until it is sent: its type and arguments in the batch's body. */
	size_t			 body_off;
	size_t			 body_len;
	int			 nargs;
};
TAILQ_HEAD(rcall_list, rcall);

/* Calls in one FCALL rpcchat_batch, answered in this order. */
struct batch {
	struct rstore		*rs;
	struct rcall		**calls;
	int			 n;
	int			 confirming;	/* calls waiting for WAIT */
	long long		 deadline;
};

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
	int			 tidying;	/* an rpcchat_tidy is out */
	long long		 next_tidy;
	int			 asking_library; /* a FUNCTION LIST is out */
	long long		 last_error_log;

	/* The batch being gathered: its calls and their arguments. */
	struct rcall		**pending;
	int			 npending;
	int			 pending_cap;
	struct buf		 pending_body;
	struct buf		 cmd;
	int			 inflight;	/* batches sent, not answered */
	long long		 sent;		/* when the last batch went */

	struct buf		 answers;	/* a batch's, joined */
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

	if (rc->answered)
		return;
	if (now - rs->last_error_log >= ERROR_LOG_MS) {
		log_msg("store: %s: a call failed: %.200s",
		    redis_conn_name(rs->conn), why);
		rs->last_error_log = now;
	}
	call_answer(rc, (struct span){ "", 0 }, SPAN_LIT(STORE_UNAVAILABLE),
	    STORE_OUTAGE);
}

static struct rcall *
rcall_new(struct rstore *rs, int type, struct span user, store_done *done,
    void *arg, uint64_t tag)
{
	struct rcall *rc;

	rc = xcalloc(1, sizeof *rc);
	rc->rs = rs;
	rc->done = done;
	rc->arg = arg;
	rc->tag = tag;
	rc->type = type;
	rc->deadline = clock_ms() + STORE_CALL_TIMEOUT_MS;
	rc->len = user.len > USER_MAX ? USER_MAX : user.len;
	memcpy(rc->name, user.p, rc->len);
	TAILQ_INSERT_TAIL(&rs->calls, rc, entry);
	return rc;
}

static void
rcall_free(struct rcall *rc)
{
	buf_free(&rc->results);
	buf_free(&rc->err);
	free(rc);
}

static void
batch_free(struct batch *b)
{
	int i;

	for (i = 0; i < b->n; i++)
		rcall_free(b->calls[i]);
	free(b->calls);
	free(b);
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

/*
 * A batch's answers, one after the other, joined from the strings the
 * function answers (store_redis.h); -1 if it answers anything else.
 */
static int
join_answers(struct buf *out, const redisReply *r)
{
	size_t i;

	buf_clear(out);
	if (r->type != REDIS_REPLY_ARRAY)
		return -1;
	for (i = 0; i < r->elements; i++) {
		if (!is_string(r->element[i]))
			return -1;
		buf_append(out, r->element[i]->str, r->element[i]->len);
	}
	return 0;
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

/*
 * Takes a CheckMessages' string list from the front of in (store_redis.h):
 * each string a message, the whole within a frame with its empty error.
 */
static int
take_list(struct span *in, struct buf *out)
{
	struct span rest = *in, s;
	size_t start = out->len;
	uint16_t n, i;
	unsigned char head;

	if (get_u16(&rest, &n) == -1 || rest.len < 1)
		return -1;
	head = (unsigned char)rest.p[0];
	rest.p++;
	rest.len--;
	put_u16(out, n);
	for (i = 0; i < n; i++) {
		if (rest.len < head)
			return -1;
		rest.p += head;
		rest.len -= head;
		if (get_str(&rest, &s) == -1 || s.len > TEXT_MAX)
			return -1;
		put_str(out, s);
		if (out->len - start > FRAME_MAX - 2)
			return -1;
	}
	*in = rest;
	return 0;
}

/*
 * Takes a call's answer from the front of a batch's: its status, then
 * the call's results and error.
 */
static int
take_answer(struct rstore *rs, struct rcall *rc, struct span *in,
    int *status)
{
	struct span user = { rc->name, rc->len };

	if (in->len < 1)
		return -1;
	*status = (unsigned char)in->p[0];
	in->p++;
	in->len--;
	switch (*status) {
	case RSTORE_DONE:
	case RSTORE_TAKEN:
		if (rc->type == MSG_CHECK_MESSAGES)
			return take_list(in, &rs->results);
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

/* Whether the call changed the chat: then --store-sync waits for replicas. */
static int
changed(int type, int status)
{
	switch (status) {
	case RSTORE_DONE:
		return type != MSG_CHECK_MESSAGES;
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

/*
 * An error reply to a call: what it says about the connection.  Whether
 * the calls it answered count in the outage (else they are refused).
 */
static int
call_error(struct rstore *rs, const redisReply *r)
{
	struct redis_cmd c = { 0 };

	if (redis_error_is(r, RSTORE_ERR_NOCONFIG)) {
		redis_conn_drop(rs->conn, "the chat's configuration is "
		    "missing");
		return 1;
	}
	/* Every write refused, not just this one: an outage of its own. */
	if (redis_error_is(r, "NOREPLICAS") || redis_error_is(r, "MISCONF")) {
		redis_conn_refusing(rs->conn, r->str);
		return 1;
	}
	switch (redis_error_kind(r)) {
	case REDIS_NOT_MASTER:
		redis_conn_drop(rs->conn, r->str);
		return 1;
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
	return 0;
}

/* The batch's calls not answered yet fail. */
static void
batch_fail(struct batch *b, int outage, const char *why)
{
	int i;

	for (i = 0; i < b->n; i++)
		if (outage)
			answer_unavailable(b->calls[i]);
		else
			answer_refused(b->calls[i], why);
}

static void
on_batch_wait(void *priv, const redisReply *r)
{
	struct batch *b = priv;
	struct rstore *rs = b->rs;
	struct rcall *rc;
	int i, ok;

	ok = !rs->closing && r != NULL && redis_conn_confirmed(rs->conn, r);
	for (i = 0; i < b->n; i++) {
		rc = b->calls[i];
		if (!rc->confirming)
			continue;
		if (ok)
			call_answer(rc, buf_span(&rc->results),
			    buf_span(&rc->err), rc->flags);
		else
			answer_unavailable(rc);
	}
	batch_free(b);
}

/* Answers the call, or keeps its answer until WAIT confirms it. */
static void
answer_or_confirm(struct batch *b, struct rcall *rc, int status)
{
	struct rstore *rs = b->rs;
	int flags = status == RSTORE_REPLACED ? STORE_REPLACED : 0;

	if (rs->sync > 0 && changed(rc->type, status) && !rc->answered) {
		buf_append(&rc->results, rs->results.data, rs->results.len);
		buf_append(&rc->err, rs->err.data, rs->err.len);
		rc->flags = flags;
		rc->confirming = 1;
		b->confirming++;
		return;
	}
	call_answer(rc, buf_span(&rs->results), buf_span(&rs->err), flags);
}

static void
batch_answer(struct batch *b, const redisReply *r)
{
	struct rstore *rs = b->rs;
	struct span in;
	int i, status;

	if (rs->closing || r == NULL) {
		batch_fail(b, 1, NULL);
		batch_free(b);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		batch_fail(b, call_error(rs, r), r->str);
		batch_free(b);
		return;
	}
	if (join_answers(&rs->answers, r) == -1) {
		batch_fail(b, 0, "not what the function returns");
		batch_free(b);
		return;
	}
	redis_conn_wrote(rs->conn);
	in = (struct span){ rs->answers.data, rs->answers.len };
	for (i = 0; i < b->n; i++) {
		buf_clear(&rs->results);
		buf_clear(&rs->err);
		if (take_answer(rs, b->calls[i], &in, &status) == -1)
			break;
		answer_or_confirm(b, b->calls[i], status);
	}
	if (i < b->n || in.len > 0)
		batch_fail(b, 0, "not what the function returns");
	if (b->confirming > 0) {
		if (redis_conn_wait(rs->conn, b->deadline, on_batch_wait,
		    b) == 0)
			return;
		/* An FCALL answered that late: Redis is not keeping up. */
		redis_conn_drop(rs->conn, "no time left to confirm a change");
		batch_fail(b, 1, NULL);
	}
	batch_free(b);
}

/*
 * The answer to a batch's FCALL.  The next batch goes at the store's tick,
 * not from here: the answer comes in the middle of a round of the loop,
 * and the rest of the round still reads calls that can join it.  Sent
 * here, they would wait for the round trip of a batch of a few; at the
 * tick they share it.
 */
static void
on_batch(void *priv, const redisReply *r)
{
	struct batch *b = priv;

	b->rs->inflight--;
	batch_answer(b, r);
}

static void
on_list(void *priv, const redisReply *r)
{
	struct rcall *rc = priv;
	struct rstore *rs = rc->rs;

	buf_clear(&rs->results);
	if (rc->answered || rs->closing || r == NULL)
		answer_unavailable(rc);
	else if (r->type == REDIS_REPLY_ERROR) {
		if (call_error(rs, r))
			answer_unavailable(rc);
		else
			answer_refused(rc, r->str);
	} else if (r->type != REDIS_REPLY_ARRAY ||
	    put_reply_list(&rs->results, r, 0) == -1)
		answer_refused(rc, "not a list of names");
	else
		call_answer(rc, buf_span(&rs->results), SPAN_LIT(""), 0);
	rcall_free(rc);
}

/* -- calls ---------------------------------------------------------------- */

/* Appends a RESP header: its type, a number, CRLF. */
static void
put_resp_head(struct buf *b, char type, size_t n)
{
	char digits[24], *p = digits + sizeof digits;

	do
		*--p = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	buf_append(b, &type, 1);
	buf_append(b, p, (size_t)(digits + sizeof digits - p));
	buf_append(b, "\r\n", 2);
}

static void
put_bulk(struct buf *b, struct span s)
{
	put_resp_head(b, '$', s.len);
	buf_append(b, s.p, s.len);
	buf_append(b, "\r\n", 2);
}

/* Whether the batch being gathered waits: one is out, or went just now. */
static int
batch_holds(const struct rstore *rs, long long now)
{
	return rs->inflight >= BATCH_INFLIGHT || now < rs->sent + BATCH_GAP_MS;
}

/*
 * Sends the batch gathered so far, unless it holds and this is not
 * forced; the calls failed meanwhile (past their deadline) stay out.
 */
static void
batch_flush(struct rstore *rs, long long now, int force)
{
	static const char fcall[] = "$5\r\nFCALL\r\n$13\r\nrpcchat_batch\r\n"
	    "$1\r\n0\r\n";
	struct batch *b;
	struct rcall *rc;
	size_t nargs = 0;
	int i;

	if (rs->npending == 0 || rs->closing || (!force && batch_holds(rs, now)))
		return;
	b = xcalloc(1, sizeof *b);
	b->rs = rs;
	b->calls = xreallocarray(NULL, (size_t)rs->npending,
	    sizeof *b->calls);
	for (i = 0; i < rs->npending; i++) {
		rc = rs->pending[i];
		if (rc->answered)
			rcall_free(rc);
		else {
			b->calls[b->n++] = rc;
			nargs += 1 + (size_t)rc->nargs;
		}
	}
	rs->npending = 0;
	if (b->n == 0) {
		buf_clear(&rs->pending_body);
		batch_free(b);
		return;
	}
	b->deadline = b->calls[0]->deadline;
	buf_clear(&rs->cmd);
	put_resp_head(&rs->cmd, '*', 3 + nargs);
	buf_append(&rs->cmd, fcall, sizeof fcall - 1);
	for (i = 0; i < b->n; i++)
		buf_append(&rs->cmd, rs->pending_body.data +
		    b->calls[i]->body_off, b->calls[i]->body_len);
	buf_clear(&rs->pending_body);
	/* NUL-terminated for hiredis, and not counted. */
	buf_append(&rs->cmd, "", 1);
	if (redis_conn_send_formatted(rs->conn, rs->cmd.data, rs->cmd.len - 1,
	    1, b->deadline, on_batch, b) == -1) {
		batch_fail(b, 1, NULL);
		batch_free(b);
		return;
	}
	rs->inflight++;
	rs->sent = now;
}

/* Adds a call of type letter with its arguments to the batch. */
static void
batch_add(struct rstore *rs, int type, char letter, int nargs,
    const struct span *args, store_done *done, void *arg, uint64_t tag)
{
	struct rcall *rc;
	int i;

	if (rs->npending == rs->pending_cap) {
		rs->pending_cap = rs->pending_cap ? rs->pending_cap * 2 : 8;
		rs->pending = xreallocarray(rs->pending,
		    (size_t)rs->pending_cap, sizeof *rs->pending);
	}
	rc = rcall_new(rs, type, args[0], done, arg, tag);
	rs->pending[rs->npending++] = rc;
	rc->body_off = rs->pending_body.len;
	rc->nargs = nargs;
	put_bulk(&rs->pending_body, (struct span){ &letter, 1 });
	for (i = 0; i < nargs; i++)
		put_bulk(&rs->pending_body, args[i]);
	rc->body_len = rs->pending_body.len - rc->body_off;
	if (rs->npending >= BATCH_CALLS ||
	    rs->pending_body.len >= BATCH_BYTES)
		batch_flush(rs, clock_ms(), 1);
}

/* List reads the names itself: no function needed. */
static void
send_list(struct rstore *rs, store_done *done, void *arg, uint64_t tag)
{
	struct redis_cmd c = { 0 };
	struct rcall *rc;

	rc = rcall_new(rs, MSG_LIST, SPAN_LIT(""), done, arg, tag);
	redis_cmd_arg(&c, "ZRANGE");
	redis_cmd_arg(&c, RSTORE_KEY_USERS);
	redis_cmd_arg(&c, "0");
	redis_cmd_arg(&c, "-1");
	if (redis_conn_send(rs->conn, &c, 0, rc->deadline, on_list,
	    rc) == -1) {
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
		batch_add(rs, type, 'R', 1, a, done, arg, tag);
		break;
	case MSG_LIST:
		send_list(rs, done, arg, tag);
		break;
	case MSG_CHECK_MESSAGES:
		batch_add(rs, type, 'C', 1, a, done, arg, tag);
		break;
	case MSG_QUIT:
		batch_add(rs, type, 'Q', 1, a, done, arg, tag);
		break;
	case MSG_SAY:
		too_long = rules_message_too_long(a[0], RULES_SAY_INFIX, a[1]);
		buf_clear(&rs->text);
		if (!too_long)
			rules_say_text(a[0], a[1], &rs->text);
		v[0] = a[0];
		v[1] = buf_span(&rs->text);
		v[2] = too_long ? SPAN_LIT("1") : SPAN_LIT("0");
		batch_add(rs, type, 'S', 3, v, done, arg, tag);
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
		batch_add(rs, type, 'T', 5, v, done, arg, tag);
		break;
	default:
		buf_appendf(&rs->err, "internal error");
		answer_now(rs, done, arg, tag, 0);
		break;
	}
}

/* -- idle logouts and tidying --------------------------------------------- */

static void
on_tidy(void *priv, const redisReply *r)
{
	struct rstore *rs = priv;
	const redisReply *e;
	long long now = clock_ms(), wait = TIDY_EVERY_MS;
	size_t i;

	rs->tidying = 0;
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
	rs->next_tidy = now + wait;
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
	/* What the loop's round gathered goes out before anything waits. */
	batch_flush(rs, now, 0);
	if ((rc = TAILQ_FIRST(&rs->calls)) != NULL)
		next = redis_earliest(next, rc->deadline);
	/* Held for the gap only: for the answer, the loop wakes by itself. */
	if (rs->npending > 0 && rs->inflight < BATCH_INFLIGHT)
		next = redis_earliest(next, rs->sent + BATCH_GAP_MS);
	/* Not while short of replicas: users who cannot poll are not idle. */
	if (!redis_conn_ready(rs->conn, 1))
		return next;
	if (!rs->tidying && now >= rs->next_tidy) {
		redis_cmd_arg(&c, "FCALL");
		redis_cmd_arg(&c, "rpcchat_tidy");
		redis_cmd_arg(&c, "0");
		if (redis_conn_send(rs->conn, &c, 1, now + STORE_CALL_TIMEOUT_MS,
		    on_tidy, rs) == 0) {
			rs->tidying = 1;
			rs->next_tidy = now + TIDY_EVERY_MS;
		}
	}
	return rs->tidying ? next : redis_earliest(next, rs->next_tidy);
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
	int i;

	/* Every call still out is called back, and ignored. */
	rs->closing = 1;
	for (i = 0; i < rs->npending; i++) {
		answer_unavailable(rs->pending[i]);
		rcall_free(rs->pending[i]);
	}
	rs->npending = 0;
	free(rs->pending);
	redis_conn_free(rs->conn);
	buf_free(&rs->pending_body);
	buf_free(&rs->cmd);
	buf_free(&rs->results);
	buf_free(&rs->err);
	buf_free(&rs->text);
	buf_free(&rs->notice);
	buf_free(&rs->answers);
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
