/*
 * store_redis.c - the chat state in Redis (PROTOCOL.md §7), behind store.h.
 *
 * Every call is one FCALL of a function of store_redis.lua (embedded at
 * build time), which keeps PROTOCOL.md §3-§4 in one atomic step, so any number
 * of front ends serve one chat without racing.  The stateless rules are
 * applied here, before Redis is asked, through rules.h.
 *
 * Calls go out on one hiredis connection driven by our event loop
 * (redis_ae.c); hiredis writes what a loop turn queued in one go.  Each
 * call has a deadline: past it, or when the connection drops, the call is
 * answered "store unavailable" and never retried (it may have been
 * applied).  The connection is then dropped and made again with back-off;
 * each new connection loads the functions and checks the configuration
 * before any call is sent, so a Redis that came back empty serves again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "ae.h"
#include "anet.h"
#include "clock.h"
#include "codec.h"
#include "log.h"
#include "proto.h"
#include "redis_ae.h"
#include "rules.h"
#include "store.h"
#include "xmalloc.h"

/* store_redis.lua, embedded by the Makefile. */
extern const char	store_redis_lua[];
extern const size_t	store_redis_lua_len;

#define RETRY_FIRST_MS		50
#define RETRY_MAX_MS		2000
/* The longest a connection may take to become ready. */
#define CONNECT_TIMEOUT_MS	2000
/* Idle logouts are asked for at least this often. */
#define EXPIRE_EVERY_MS		1000
#define HOST_MAX		256

struct rcall {
	struct rstore		*rs;
	store_done		*done;
	void			*arg;
	uint64_t		 tag;
	int			 type;
	int			 answered;	/* deadline passed, or freed */
	long long		 deadline;
	TAILQ_ENTRY(rcall)	 entry;
};
TAILQ_HEAD(rcall_list, rcall);

enum rstate {
	RS_DOWN,		/* no connection; retry at retry_at */
	RS_CONNECTING,		/* connected or connecting, not checked yet */
	RS_READY
};

struct rstore {
	char			 host[HOST_MAX];
	int			 port;
	int			 db;
	struct chat_limits	 lim;
	struct ae_loop		*loop;
	void			(*expired)(void *, struct span);
	void			*arg;

	redisAsyncContext	*ac;
	enum rstate		 state;
	long long		 retry_at;
	long long		 retry_ms;
	long long		 connect_deadline;
	int			 down_logged;	/* the outage was logged */
	int			 drop;		/* tick drops the connection */
	char			 why[256];	/* cause of the outage */

	struct rcall_list	 calls;		/* sent, in reply order */
	int			 expiring;	/* an expire call is out */
	long long		 next_expire;
	long long		 last_error_log;

	struct buf		 results;	/* reused from call to call */
	struct buf		 err;
	struct buf		 text;
	struct buf		 notice;
};

/* "redis://HOST:PORT[/DB]"; HOST may be [IPv6]. */
static int
parse_url(struct rstore *rs, const char *url, char *err, size_t errlen)
{
	const char *p = url + sizeof "redis://" - 1, *hend, *colon;
	char *end;
	long v;
	size_t hlen;

	if (*p == '[') {
		if ((hend = strchr(p, ']')) == NULL || hend[1] != ':')
			goto bad;
		p++;
		colon = hend + 1;
	} else {
		if ((colon = strchr(p, ':')) == NULL)
			goto bad;
		hend = colon;
	}
	hlen = (size_t)(hend - p);
	if (hlen == 0 || hlen >= sizeof rs->host)
		goto bad;
	memcpy(rs->host, p, hlen);
	rs->host[hlen] = '\0';
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || errno != 0 || v < 1 || v > 65535)
		goto bad;
	rs->port = (int)v;
	rs->db = 0;
	if (*end == '/') {
		p = end + 1;
		v = strtol(p, &end, 10);
		if (end == p || errno != 0 || v < 0 || v > 65535)
			goto bad;
		rs->db = (int)v;
	}
	if (*end != '\0')
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "--store: '%s' is not redis://HOST:PORT[/DB]",
	    url);
	return -1;
}

/* The configuration every front end must share, as FCALL arguments. */
struct cfg_args {
	char		 v[4][24];
	const char	*argv[8];
	size_t		 lens[8];
};

static void
config_argv(const struct rstore *rs, struct cfg_args *a)
{
	int i;

	snprintf(a->v[0], sizeof a->v[0], "%zu", rs->lim.queue_limit);
	snprintf(a->v[1], sizeof a->v[1], "%lld",
	    (long long)rs->lim.idle_timeout_ms);
	snprintf(a->v[2], sizeof a->v[2], "%zu", rs->lim.max_users);
	snprintf(a->v[3], sizeof a->v[3], "%zu", rs->lim.max_memory);
	a->argv[0] = "FCALL";
	a->argv[1] = "rpcchat_config";
	a->argv[2] = "0";
	for (i = 0; i < 4; i++)
		a->argv[3 + i] = a->v[i];
	for (i = 0; i < 7; i++)
		a->lens[i] = strlen(a->argv[i]);
}

static const char *load_argv[] = { "FUNCTION", "LOAD", "REPLACE", NULL };

static void
load_args(size_t *lens)
{
	lens[0] = 8;
	lens[1] = 4;
	lens[2] = 7;
	lens[3] = store_redis_lua_len;
}

/* What a config reply says: NULL when the front end may serve. */
static const char *
config_refusal(const redisReply *r)
{
	if (r == NULL)
		return "no reply";
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
		if (strcmp(r->str, "OK") == 0)
			return NULL;
		return r->str;
	}
	if (r->type == REDIS_REPLY_ERROR)
		return r->str;
	return "unexpected reply";
}

static void
call_answer(struct rcall *rc, struct span results, struct span err,
    int flags)
{
	if (rc->answered)
		return;
	rc->answered = 1;
	rc->done(rc->arg, rc->tag, results, err, flags);
}

static void
answer_unavailable(struct rcall *rc)
{
	call_answer(rc, (struct span){ "", 0 }, SPAN_LIT(STORE_UNAVAILABLE),
	    0);
}

/* Logs the outage once, and schedules the next attempt. */
static void
went_down(struct rstore *rs, const char *why)
{
	long long now = clock_ms();

	if (rs->state == RS_DOWN)
		return;
	if (why != rs->why)
		snprintf(rs->why, sizeof rs->why, "%s", why);
	rs->state = RS_DOWN;
	rs->expiring = 0;
	rs->retry_at = now + rs->retry_ms;
	rs->retry_ms = rs->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS :
	    rs->retry_ms * 2;
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rstore *rs = ac->data;

	(void)status;
	if (rs->ac == ac)
		rs->ac = NULL;
	went_down(rs, ac->errstr[0] != '\0' ? ac->errstr :
	    "connection closed");
}

static void
on_config(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rstore *rs = priv;
	const char *refusal;

	if (rs->ac != ac || rs->state != RS_CONNECTING)
		return;
	if ((refusal = config_refusal(reply)) != NULL) {
		snprintf(rs->why, sizeof rs->why, "%s", refusal);
		rs->drop = 1;
		return;
	}
	if (rs->down_logged)
		log_msg("store: redis at %s:%d is back", rs->host, rs->port);
	rs->down_logged = 0;
	rs->state = RS_READY;
	rs->retry_ms = RETRY_FIRST_MS;
	rs->next_expire = 0;
}

static void
on_ignored(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rstore *rs = priv;
	const redisReply *r = reply;

	if (rs->ac != ac || r == NULL || r->type != REDIS_REPLY_ERROR)
		return;
	/* The config check that follows fails with it. */
	snprintf(rs->why, sizeof rs->why, "%s", r->str);
}

static void
on_connect(const redisAsyncContext *cac, int status)
{
	struct rstore *rs = cac->data;
	redisAsyncContext *ac = rs->ac;
	struct cfg_args cfg;
	size_t lens[4];
	char db[16];
	const char *sel[2] = { "SELECT", db };
	size_t sellens[2];

	if (ac != cac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this. */
		rs->ac = NULL;
		went_down(rs, cac->errstr);
		return;
	}
	/* The functions and the configuration, before any call. */
	snprintf(db, sizeof db, "%d", rs->db);
	sellens[0] = 6;
	sellens[1] = strlen(db);
	load_argv[3] = store_redis_lua;
	load_args(lens);
	config_argv(rs, &cfg);
	if ((rs->db != 0 && redisAsyncCommandArgv(ac, on_ignored, rs, 2, sel,
	    sellens) != REDIS_OK) ||
	    redisAsyncCommandArgv(ac, on_ignored, rs, 4, load_argv,
	    lens) != REDIS_OK ||
	    redisAsyncCommandArgv(ac, on_config, rs, 7, cfg.argv,
	    cfg.lens) != REDIS_OK)
		rs->drop = 1;
}

static void
start_connect(struct rstore *rs, long long now)
{
	redisAsyncContext *ac;

	rs->state = RS_CONNECTING;
	rs->connect_deadline = now + CONNECT_TIMEOUT_MS;
	rs->why[0] = '\0';
	if ((ac = redisAsyncConnect(rs->host, rs->port)) == NULL) {
		went_down(rs, "out of memory");
		return;
	}
	if (ac->err) {
		snprintf(rs->why, sizeof rs->why, "%s", ac->errstr);
		redisAsyncFree(ac);
		went_down(rs, rs->why);
		return;
	}
	ac->data = rs;
	rs->ac = ac;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (redis_ae_attach(rs->loop, ac) == -1) {
		rs->ac = NULL;
		redisAsyncFree(ac);
		went_down(rs, "cannot watch the connection");
	}
}

/* Drops the connection; every call still out fails. */
static void
drop_connection(struct rstore *rs, const char *why)
{
	redisAsyncContext *ac = rs->ac;

	rs->drop = 0;
	rs->ac = NULL;
	went_down(rs, why);
	if (ac != NULL)
		redisAsyncFree(ac);
}

/*
 * At start: a Redis that answers must agree with our configuration, or
 * we refuse to start; one that does not answer is retried from the loop.
 */
static int
check_at_start(struct rstore *rs, char *err, size_t errlen)
{
	struct timeval tv = { CONNECT_TIMEOUT_MS / 1000, 0 };
	struct cfg_args cfg;
	redisContext *c;
	redisReply *r;
	const char *refusal;
	size_t lens[4];
	char db[16];
	const char *sel[2] = { "SELECT", db };
	size_t sellens[2];
	int status = 0;

	if ((c = redisConnectWithTimeout(rs->host, rs->port, tv)) == NULL)
		return 0;
	if (c->err) {
		snprintf(rs->why, sizeof rs->why, "%s", c->errstr);
		redisFree(c);
		return 0;
	}
	snprintf(db, sizeof db, "%d", rs->db);
	sellens[0] = 6;
	sellens[1] = strlen(db);
	if (rs->db != 0) {
		r = redisCommandArgv(c, 2, sel, sellens);
		if (r != NULL && r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "--store: SELECT %d: %s", rs->db,
			    r->str);
			status = -1;
		}
		freeReplyObject(r);
		if (status == -1)
			goto out;
	}
	load_argv[3] = store_redis_lua;
	load_args(lens);
	r = redisCommandArgv(c, 4, load_argv, lens);
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "--store: loading the functions into "
		    "redis at %s:%d: %s", rs->host, rs->port, r->str);
		status = -1;
	}
	freeReplyObject(r);
	if (status == -1)
		goto out;
	config_argv(rs, &cfg);
	r = redisCommandArgv(c, 7, cfg.argv, cfg.lens);
	if (r != NULL && (refusal = config_refusal(r)) != NULL) {
		snprintf(err, errlen, "--store: redis at %s:%d serves a chat "
		    "with other limits: %s", rs->host, rs->port, refusal);
		status = -1;
	}
	freeReplyObject(r);
out:
	redisFree(c);
	return status;
}

static void *
rstore_open(const struct store_params *p, char *err, size_t errlen)
{
	struct rstore *rs;

	rs = xcalloc(1, sizeof *rs);
	TAILQ_INIT(&rs->calls);
	rs->lim = p->limits;
	/* As the memory store settles them, so both keep the same chat. */
	chat_limits_settle(&rs->lim);
	rs->loop = p->loop;
	rs->expired = p->expired;
	rs->arg = p->arg;
	rs->retry_ms = RETRY_FIRST_MS;
	rs->state = RS_DOWN;
	if (parse_url(rs, p->url, err, errlen) == -1 ||
	    check_at_start(rs, err, errlen) == -1) {
		free(rs);
		return NULL;
	}
	rs->retry_at = 0;
	if (rs->why[0] == '\0') {
		/*
		 * It answered: be ready before the first call.  The loop
		 * watches nothing else yet.  A failure here is logged by the
		 * first tick, after "Listening on".
		 */
		start_connect(rs, clock_ms());
		while (rs->state == RS_CONNECTING && !rs->drop &&
		    clock_ms() < rs->connect_deadline)
			if (ae_poll(rs->loop, 100) == -1 && errno != EINTR)
				break;
	}
	return rs;
}

static void
rstore_close(void *impl)
{
	struct rstore *rs = impl;
	redisAsyncContext *ac = rs->ac;

	rs->ac = NULL;
	rs->state = RS_DOWN;
	rs->down_logged = 1;	/* nothing more to say */
	if (ac != NULL)
		redisAsyncFree(ac);
	buf_free(&rs->results);
	buf_free(&rs->err);
	buf_free(&rs->text);
	buf_free(&rs->notice);
	free(rs);
}

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
    struct span user)
{
	long long status;

	if (rc->type == MSG_LIST) {
		if (r->type != REDIS_REPLY_ARRAY)
			return -1;
		return put_reply_list(&rs->results, r, 0);
	}
	if (status_of(r, &status) == -1)
		return -1;
	switch (status) {
	case 4:		/* Register of a name logged in already */
	case 0:
		if (rc->type == MSG_CHECK_MESSAGES)
			return r->type == REDIS_REPLY_ARRAY ?
			    put_reply_list(&rs->results, r, 1) : -1;
		return 0;
	case 1:
		if (rc->type == MSG_CHECK_MESSAGES)
			rules_not_logged_in_list(user, &rs->results);
		else
			rules_not_logged_in(msg_type_name(
			    (unsigned)rc->type), user, &rs->err);
		return 0;
	case 2:
		rules_too_long(&rs->err);
		return 0;
	case 3:
		buf_appendf(&rs->err, "Register: too many users");
		return 0;
	}
	return -1;
}

/* The user the call was made for, kept for the texts of the answer. */
struct rcall_user {
	struct rcall	 rc;
	size_t		 len;
	char		 name[USER_MAX];
};

static void
on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rcall_user *ru = priv;
	struct rcall *rc = &ru->rc;
	struct rstore *rs = rc->rs;
	const redisReply *r = reply;
	long long now, status;

	(void)ac;
	TAILQ_REMOVE(&rs->calls, rc, entry);
	if (r == NULL || rc->answered) {
		answer_unavailable(rc);
		free(ru);
		return;
	}
	buf_clear(&rs->results);
	buf_clear(&rs->err);
	if (r->type == REDIS_REPLY_ERROR ||
	    decode(rs, rc, r, (struct span){ ru->name, ru->len }) == -1) {
		now = clock_ms();
		if (now - rs->last_error_log >= 1000) {
			log_msg("store: unexpected answer from redis: %.200s",
			    r->type == REDIS_REPLY_ERROR ? r->str :
			    "not what the function returns");
			rs->last_error_log = now;
		}
		/* A Redis emptied under us: load and check again. */
		if (r->type == REDIS_REPLY_ERROR && (strncmp(r->str,
		    "NOCONFIG", 8) == 0 || strstr(r->str, "not found")))
			rs->drop = 1;
		answer_unavailable(rc);
		free(ru);
		return;
	}
	call_answer(rc, (struct span){ rs->results.data, rs->results.len },
	    (struct span){ rs->err.data, rs->err.len },
	    rc->type == MSG_REGISTER && status_of(r, &status) == 0 &&
	    status == 4 ? STORE_REPLACED : 0);
	free(ru);
}

/* Sends FCALL fn 0 args...; the answer comes to on_reply. */
static void
send_call(struct rstore *rs, int type, const char *fn, int nargs,
    const char *const *argv, const size_t *lens, struct span user,
    store_done *done, void *arg, uint64_t tag)
{
	const char *v[8] = { "FCALL", fn, "0" };
	size_t l[8] = { 5, strlen(fn), 1 };
	struct rcall_user *ru;
	int i;

	ru = xcalloc(1, sizeof *ru);
	ru->rc.rs = rs;
	ru->rc.done = done;
	ru->rc.arg = arg;
	ru->rc.tag = tag;
	ru->rc.type = type;
	ru->rc.deadline = clock_ms() + STORE_CALL_TIMEOUT_MS;
	ru->len = user.len > USER_MAX ? USER_MAX : user.len;
	memcpy(ru->name, user.p, ru->len);
	for (i = 0; i < nargs; i++) {
		v[3 + i] = argv[i];
		l[3 + i] = lens[i];
	}
	if (redisAsyncCommandArgv(rs->ac, on_reply, ru, 3 + nargs, v,
	    l) != REDIS_OK) {
		answer_unavailable(&ru->rc);
		free(ru);
		rs->drop = 1;
		return;
	}
	TAILQ_INSERT_TAIL(&rs->calls, &ru->rc, entry);
}

static struct span
buf_span(const struct buf *b)
{
	return b->len > 0 ? (struct span){ b->data, b->len } : SPAN_LIT("");
}

static void
set_arg(const char **argv, size_t *lens, int i, struct span s)
{
	argv[i] = s.p;
	lens[i] = s.len;
}

static void
answer_now(struct rstore *rs, store_done *done, void *arg, uint64_t tag)
{
	done(arg, tag, buf_span(&rs->results), buf_span(&rs->err), 0);
}

static void
rstore_call(void *impl, int type, const struct span *a, int64_t now,
    store_done *done, void *arg, uint64_t tag)
{
	struct rstore *rs = impl;
	const char *argv[5];
	size_t lens[5];
	int too_long;

	(void)now;
	buf_clear(&rs->results);
	buf_clear(&rs->err);
	/* What needs no state is answered here, Redis or not. */
	switch (type) {
	case MSG_REGISTER:
		if (rules_register_name(a[0], &rs->err) == -1) {
			answer_now(rs, done, arg, tag);
			return;
		}
		break;
	case MSG_CHECK_MESSAGES:
		if (!rules_valid_name(a[0])) {
			put_u16(&rs->results, 0);
			rules_invalid_check(&rs->err);
			answer_now(rs, done, arg, tag);
			return;
		}
		break;
	case MSG_TELL:
	case MSG_SAY:
	case MSG_QUIT:
		if (!rules_valid_name(a[0])) {
			rules_not_logged_in(msg_type_name((unsigned)type),
			    a[0], &rs->err);
			answer_now(rs, done, arg, tag);
			return;
		}
		break;
	}
	if (rs->state != RS_READY || rs->ac == NULL) {
		buf_appendf(&rs->err, STORE_UNAVAILABLE);
		answer_now(rs, done, arg, tag);
		return;
	}

	switch (type) {
	case MSG_REGISTER:
		send_call(rs, type, "rpcchat_register", 1, &a[0].p, &a[0].len,
		    a[0], done, arg, tag);
		break;
	case MSG_LIST:
		send_call(rs, type, "rpcchat_list", 0, NULL, NULL, a[0], done,
		    arg, tag);
		break;
	case MSG_CHECK_MESSAGES:
		send_call(rs, type, "rpcchat_check", 1, &a[0].p, &a[0].len,
		    a[0], done, arg, tag);
		break;
	case MSG_QUIT:
		send_call(rs, type, "rpcchat_quit", 1, &a[0].p, &a[0].len,
		    a[0], done, arg, tag);
		break;
	case MSG_SAY:
		too_long = rules_message_too_long(a[0], RULES_SAY_INFIX, a[1]);
		buf_clear(&rs->text);
		if (!too_long)
			rules_say_text(a[0], a[1], &rs->text);
		set_arg(argv, lens, 0, a[0]);
		set_arg(argv, lens, 1, buf_span(&rs->text));
		set_arg(argv, lens, 2, too_long ? SPAN_LIT("1") : SPAN_LIT("0"));
		send_call(rs, type, "rpcchat_say", 3, argv, lens, a[0], done,
		    arg, tag);
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
		set_arg(argv, lens, 0, a[0]);
		set_arg(argv, lens, 1, rs->text.len ? a[1] : SPAN_LIT(""));
		set_arg(argv, lens, 2, buf_span(&rs->text));
		set_arg(argv, lens, 3, buf_span(&rs->notice));
		set_arg(argv, lens, 4, too_long ? SPAN_LIT("1") : SPAN_LIT("0"));
		send_call(rs, type, "rpcchat_tell", 5, argv, lens, a[0], done,
		    arg, tag);
		break;
	default:
		buf_appendf(&rs->err, "internal error");
		answer_now(rs, done, arg, tag);
		break;
	}
}

static void
on_expire(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rstore *rs = priv;
	const redisReply *r = reply, *e;
	long long now = clock_ms(), wait = EXPIRE_EVERY_MS;
	size_t i;

	if (rs->ac != ac)
		return;
	rs->expiring = 0;
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
earliest(long long a, long long b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static long long
rstore_tick(void *impl, long long now)
{
	struct rstore *rs = impl;
	const char *argv[3] = { "FCALL", "rpcchat_expire", "0" };
	size_t lens[3] = { 5, 14, 1 };
	struct rcall *rc;
	int late = 0;

	/* Calls past their deadline fail now; their replies are ignored. */
	TAILQ_FOREACH(rc, &rs->calls, entry) {
		if (rc->deadline > now)
			break;
		if (!rc->answered) {
			answer_unavailable(rc);
			late = 1;
		}
	}
	if (late && rs->ac != NULL)
		drop_connection(rs, "a call passed its deadline");
	if (rs->state == RS_CONNECTING && now >= rs->connect_deadline) {
		snprintf(rs->why, sizeof rs->why, "not ready within %d ms",
		    CONNECT_TIMEOUT_MS);
		rs->drop = 1;
	}
	if (rs->drop)
		drop_connection(rs, rs->why[0] != '\0' ? rs->why :
		    "connection failed");
	if (rs->state == RS_DOWN && now >= rs->retry_at)
		start_connect(rs, now);
	/* Once per outage, however many attempts it takes. */
	if (rs->state == RS_DOWN && !rs->down_logged) {
		log_msg("store: redis at %s:%d unavailable (%s); calls fail "
		    "until it is back", rs->host, rs->port, rs->why);
		rs->down_logged = 1;
	}
	if (rs->state == RS_READY && !rs->expiring &&
	    now >= rs->next_expire && rs->lim.idle_timeout_ms != 0) {
		if (redisAsyncCommandArgv(rs->ac, on_expire, rs, 3, argv,
		    lens) == REDIS_OK) {
			rs->expiring = 1;
			rs->next_expire = now + EXPIRE_EVERY_MS;
		}
	}

	switch (rs->state) {
	case RS_DOWN:
		return rs->retry_at;
	case RS_CONNECTING:
		return earliest(rs->connect_deadline,
		    TAILQ_EMPTY(&rs->calls) ? -1 :
		    TAILQ_FIRST(&rs->calls)->deadline);
	case RS_READY:
		break;
	}
	return earliest(rs->lim.idle_timeout_ms != 0 && !rs->expiring ?
	    rs->next_expire : -1, TAILQ_EMPTY(&rs->calls) ? -1 :
	    TAILQ_FIRST(&rs->calls)->deadline);
}

const struct store_type store_redis_type = {
	.name = "redis",
	.open = rstore_open,
	.close = rstore_close,
	.call = rstore_call,
	.tick = rstore_tick,
};
