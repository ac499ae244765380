/* redis_conn.c - the connection to the master, and its outages (see redis_conn.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "clock.h"
#include "log.h"
#include "redis_conn.h"
#include "redis_sentinel.h"
#include "xmalloc.h"

#define RETRY_FIRST_MS		50
/* Low enough that a front end is back soon after Sentinel names a master. */
#define RETRY_MAX_MS		1000
/* While short of replicas, how often to ask again, and for how long. */
#define SYNC_PROBE_MS		500
#define SYNC_PROBE_WAIT_MS	50
/*
 * WAIT answers this much before the call's deadline, to be heard in time:
 * Redis times blocked commands out on its cron (every 100 ms at hz 10).
 */
#define WAIT_MARGIN_MS		300

/* A call made while the connection is being made. */
struct waiting {
	char			*cmd;		/* the protocol's bytes */
	size_t			 len;
	redis_link_fn		*fn;
	void			*priv;
	long long		 deadline;
	TAILQ_ENTRY(waiting)	 entry;
};
TAILQ_HEAD(waiting_list, waiting);

enum state {
	C_DOWN,			/* nothing out; try again at retry_at */
	C_FINDING,		/* asking Sentinel where the master is */
	C_CONNECTING,		/* connected or connecting, ROLE and steps out */
	C_READY,
	C_FATAL			/* refused for good: the front end exits */
};

struct redis_conn {
	struct redis_conn_params params;
	struct redis_url	 url;
	struct redis_sentinel	*sentinel;	/* NULL without one */
	char			 name[REDIS_MASTER_MAX + REDIS_ADDR_STR + 32];

	enum state		 state;
	struct redis_link	*link;
	struct redis_addr	 master;	/* where link goes */
	long long		 retry_at;
	long long		 retry_ms;
	int			 steps;		/* handshake answers to come */
	struct waiting_list	 waiting;	/* in deadline order */
	int			 role_ok;
	int			 ever_ready;
	char			 drop[256];	/* why tick drops the link */
	int			 drop_refused;	/* a step was refused */

	int			 short_of_replicas;
	int			 refusing;	/* Redis refuses writes */
	int			 probing;
	long long		 probe_at;

	int			 outage;
	unsigned long long	 failed;	/* calls, this outage */
	char			 why[256];	/* of the last failure */
};

enum redis_error
redis_error_kind(const redisReply *r)
{
	static const char *const not_master[] = { "READONLY", "MASTERDOWN",
	    NULL };
	static const char *const transient[] = { "LOADING", "BUSY", "OOM",
	    "TRYAGAIN", "NOREPLICAS", "CLUSTERDOWN", "MISCONF", NULL };
	int i;

	for (i = 0; not_master[i] != NULL; i++)
		if (redis_error_is(r, not_master[i]))
			return REDIS_NOT_MASTER;
	for (i = 0; transient[i] != NULL; i++)
		if (redis_error_is(r, transient[i]))
			return REDIS_TRANSIENT;
	return REDIS_REFUSED;
}

int
redis_error_is(const redisReply *r, const char *code)
{
	size_t n = strlen(code);

	return r != NULL && r->type == REDIS_REPLY_ERROR && r->len >= n &&
	    memcmp(r->str, code, n) == 0 && (r->len == n || r->str[n] == ' ');
}

/* Keeps what fits: the reasons are for the log, not for parsing. */
static void
copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memmove(dst, src, n);
	dst[n] = '\0';
}

/* An error's text after its code, for a person to read. */
static const char *
error_text(const redisReply *r)
{
	const char *sp = strchr(r->str, ' ');

	return sp != NULL && sp[1] != '\0' ? sp + 1 : r->str;
}

const char *
redis_conn_name(const struct redis_conn *c)
{
	return c->name;
}

static const char *
master_str(const struct redis_conn *c, char *out, size_t len)
{
	return redis_addr_str(&c->master, out, len);
}

struct redis_conn *
redis_conn_new(const struct redis_conn_params *p)
{
	struct redis_conn *c;
	char at[REDIS_ADDR_STR];

	c = xcalloc(1, sizeof *c);
	c->params = *p;
	c->url = *p->url;
	c->params.url = &c->url;
	c->retry_ms = RETRY_FIRST_MS;
	c->state = C_DOWN;
	TAILQ_INIT(&c->waiting);
	if (c->url.master[0] != '\0') {
		c->sentinel = redis_sentinel_new(p->loop, &c->url);
		snprintf(c->name, sizeof c->name, "redis master %s",
		    c->url.master);
	} else {
		c->master = c->url.hosts[0];
		snprintf(c->name, sizeof c->name, "redis at %s",
		    master_str(c, at, sizeof at));
	}
	return c;
}

/* -- outages -------------------------------------------------------------- */

static void
outage_begin(struct redis_conn *c, const char *why)
{
	if (why != c->why)
		copy_str(c->why, sizeof c->why, why);
	if (c->outage)
		return;
	c->outage = 1;
	log_msg("store: %s unavailable (%s); calls fail until it is back",
	    c->name, c->why);
}

static void
outage_end(struct redis_conn *c)
{
	char at[REDIS_ADDR_STR];

	if (!c->outage)
		return;
	c->outage = 0;
	log_msg("store: %s is back%s%s; %llu call%s failed meanwhile",
	    c->name, c->sentinel != NULL ? " at " : "",
	    c->sentinel != NULL ? master_str(c, at, sizeof at) : "",
	    c->failed, c->failed == 1 ? "" : "s");
	c->failed = 0;
}

void
redis_conn_failed(struct redis_conn *c)
{
	const char *dead = c->link != NULL ? redis_link_error(c->link) : NULL;

	if (c->state == C_FATAL)
		return;
	c->failed++;
	if (c->outage)
		return;
	if (dead != NULL)
		outage_begin(c, dead);
	else if (c->drop[0] != '\0')
		outage_begin(c, c->drop);
	else if (c->state == C_READY && (c->short_of_replicas ||
	    c->refusing))
		outage_begin(c, c->why);	/* as they set it */
	else
		outage_begin(c, c->state == C_READY ? "a call failed" :
		    "not connected yet");
}

/* -- the connection ------------------------------------------------------- */

/* What becomes of the calls that wait for a connection. */
enum release {
	FAIL_ALL,		/* the connection failed */
	FAIL_LATE,		/* those past their deadline */
	SEND_ALL		/* it is ready: send them, but the late */
};

static void
release_waiting(struct redis_conn *c, enum release what, long long now)
{
	struct waiting *w;

	while ((w = TAILQ_FIRST(&c->waiting)) != NULL) {
		if (what == FAIL_LATE && w->deadline > now)
			break;
		TAILQ_REMOVE(&c->waiting, w, entry);
		if (what != SEND_ALL || w->deadline <= now ||
		    redis_link_send_formatted(c->link, w->cmd, w->len, w->fn,
		    w->priv, now) == -1)
			w->fn(w->priv, NULL);
		free(w->cmd);
		free(w);
	}
}

void
redis_conn_free(struct redis_conn *c)
{
	if (c == NULL)
		return;
	c->state = C_FATAL;
	c->outage = 1;		/* nothing more to say */
	redis_link_close(c->link);
	release_waiting(c, FAIL_ALL, 0);
	redis_sentinel_free(c->sentinel);
	free(c);
}

/* Drops the connection; every command still out fails. */
static void
went_down(struct redis_conn *c, const char *why, long long now, int at_once)
{
	struct redis_link *l = c->link;

	outage_begin(c, why);
	c->state = C_DOWN;
	c->link = NULL;
	c->drop[0] = '\0';
	c->probing = 0;
	redis_link_close(l);
	release_waiting(c, FAIL_ALL, 0);
	c->retry_at = at_once ? now : now + c->retry_ms;
	c->retry_ms = redis_backoff(c->retry_ms, RETRY_MAX_MS);
}

void
redis_conn_drop(struct redis_conn *c, const char *why)
{
	if ((c->state == C_CONNECTING || c->state == C_READY) &&
	    c->drop[0] == '\0')
		copy_str(c->drop, sizeof c->drop, why);
}

static void
on_role(void *priv, const redisReply *r)
{
	struct redis_conn *c = priv;
	char at[REDIS_ADDR_STR], why[128];

	if (r == NULL)
		return;		/* the link's death says why */
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "master") == 0) {
		c->role_ok = 1;
		return;
	}
	snprintf(why, sizeof why, "%s is not the master (ROLE: %.20s)",
	    master_str(c, at, sizeof at),
	    r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
	    r->element[0]->type == REDIS_REPLY_STRING ?
	    r->element[0]->str : r->type == REDIS_REPLY_ERROR ? r->str :
	    "no answer of its shape");
	redis_conn_drop(c, why);
}

static void
on_step(void *priv, const redisReply *r)
{
	struct redis_conn *c = priv;
	const char *what = c->params.handshake->what[
	    c->params.handshake->n - c->steps];
	char why[512];

	if (r == NULL)
		return;
	c->steps--;
	if (r->type != REDIS_REPLY_ERROR) {
		if (c->steps == 0 && c->role_ok && c->drop[0] == '\0') {
			c->state = C_READY;
			c->ever_ready = 1;
			c->retry_ms = RETRY_FIRST_MS;
			release_waiting(c, SEND_ALL, clock_ms());
		}
		return;
	}
	snprintf(why, sizeof why, "%s: %.300s", what, error_text(r));
	if (c->drop[0] == '\0' && redis_error_kind(r) == REDIS_REFUSED)
		c->drop_refused = 1;
	redis_conn_drop(c, why);
}

static void
connect_to(struct redis_conn *c, const struct redis_addr *a, long long now)
{
	const struct redis_handshake *h = c->params.handshake;
	struct redis_cmd role = { 0 };
	int i, rc;

	redis_cmd_arg(&role, "ROLE");
	c->master = *a;
	c->state = C_CONNECTING;
	c->role_ok = 0;
	c->steps = h->n;
	c->drop[0] = '\0';
	c->drop_refused = 0;
	c->link = redis_link_open(c->params.loop, a, c->params.timeout_ms,
	    now);
	rc = redis_link_send(c->link, &role, on_role, c, now);
	for (i = 0; rc == 0 && i < h->n; i++)
		rc = redis_link_send(c->link, &h->cmd[i], on_step, c, now);
	/* If not, the link is dead and the next check says why. */
}

static void
try_again(struct redis_conn *c, long long now)
{
	if (c->sentinel == NULL) {
		connect_to(c, &c->url.hosts[0], now);
		return;
	}
	c->state = C_FINDING;
	redis_sentinel_ask(c->sentinel, now);
}

/* What Sentinel says, and what to do about it. */
static long long
follow_sentinel(struct redis_conn *c, long long now)
{
	struct redis_addr a;
	char why[256], at[REDIS_ADDR_STR];
	long long next;

	switch (redis_sentinel_tick(c->sentinel, now, &a, why, sizeof why,
	    &next)) {
	case SENTINEL_NONE:
		break;
	case SENTINEL_FAILED:
		if (c->state == C_FINDING)
			went_down(c, why, now, 0);
		break;
	case SENTINEL_FOUND:
		if (c->state == C_DOWN || c->state == C_FINDING)
			connect_to(c, &a, now);
		else if (!redis_addr_eq(&a, &c->master)) {
			snprintf(why, sizeof why, "Sentinel moved the master "
			    "to %s", redis_addr_str(&a, at, sizeof at));
			went_down(c, why, now, 1);
			connect_to(c, &a, now);
		}
		next = now;
		break;
	}
	return next;
}

static void
on_probe(void *priv, const redisReply *r)
{
	struct redis_conn *c = priv;

	c->probing = 0;
	if (r != NULL && redis_conn_confirmed(c, r))
		c->short_of_replicas = 0;
}

long long
redis_conn_tick(struct redis_conn *c, long long now)
{
	char msg[1024], at[REDIS_ADDR_STR];
	const char *dead;
	long long next = -1, t;

	if (c->state == C_FATAL)
		return -1;
	if (c->sentinel != NULL)
		next = follow_sentinel(c, now);
	if (c->link != NULL && (dead = redis_link_check(c->link, now, &t))) {
		/* Through Sentinel, the name alone does not say where. */
		snprintf(msg, sizeof msg, "%s%s%.900s", c->sentinel != NULL ?
		    master_str(c, at, sizeof at) : "", c->sentinel != NULL ?
		    ": " : "", dead);
		went_down(c, msg, now, 0);
	} else if (c->link != NULL)
		next = redis_earliest(next, t);
	if (c->drop[0] != '\0') {
		if (c->drop_refused && !c->ever_ready) {
			snprintf(msg, sizeof msg, "%s%s%s: %s", c->name,
			    c->sentinel != NULL ? " at " : "",
			    c->sentinel != NULL ? master_str(c, at, sizeof at) :
			    "", c->drop);
			c->state = C_FATAL;
			redis_link_close(c->link);
			c->link = NULL;
			release_waiting(c, FAIL_ALL, 0);
			c->params.fatal(c->params.arg, msg);
			return -1;
		}
		copy_str(msg, sizeof msg, c->drop);
		went_down(c, msg, now, 0);
	}
	if (c->state == C_DOWN) {
		if (now >= c->retry_at) {
			try_again(c, now);
			next = now;
		} else
			next = redis_earliest(next, c->retry_at);
	}
	if (c->state == C_READY && c->short_of_replicas && !c->probing) {
		if (now >= c->probe_at) {
			struct redis_cmd w = { 0 };
			char n[16], ms[16];

			snprintf(n, sizeof n, "%d", c->params.sync);
			snprintf(ms, sizeof ms, "%d", SYNC_PROBE_WAIT_MS);
			redis_cmd_arg(&w, "WAIT");
			redis_cmd_arg(&w, n);
			redis_cmd_arg(&w, ms);
			c->probing = redis_link_send(c->link, &w, on_probe, c,
			    now) == 0;
			c->probe_at = now + SYNC_PROBE_MS;
		}
		next = redis_earliest(next, c->probe_at);
	}
	if (c->state == C_READY && !c->short_of_replicas && !c->refusing)
		outage_end(c);
	release_waiting(c, FAIL_LATE, now);
	if (!TAILQ_EMPTY(&c->waiting))
		next = redis_earliest(next, TAILQ_FIRST(&c->waiting)->deadline);
	return next;
}

/* -- calls ---------------------------------------------------------------- */

int
redis_conn_ready(const struct redis_conn *c, int changes)
{
	return c->state == C_READY && c->drop[0] == '\0' &&
	    redis_link_up(c->link) &&
	    !(changes && c->params.sync > 0 && c->short_of_replicas);
}

int
redis_conn_send(struct redis_conn *c, const struct redis_cmd *cmd,
    int changes, long long deadline, redis_link_fn *fn, void *priv)
{
	char *f;
	int len, rc;

	/* hiredis only reads argv, though its prototype does not say so. */
	if ((len = redisFormatCommandArgv(&f, cmd->argc,
	    (const char **)cmd->argv, cmd->lens)) < 0)
		return -1;
	rc = redis_conn_send_formatted(c, f, (size_t)len, changes, deadline,
	    fn, priv);
	redisFreeCommand(f);
	return rc;
}

int
redis_conn_send_formatted(struct redis_conn *c, const char *cmd, size_t len,
    int changes, long long deadline, redis_link_fn *fn, void *priv)
{
	struct waiting *w;

	if (changes && c->params.sync > 0 && c->short_of_replicas)
		return -1;
	switch (c->state) {
	case C_READY:
		return redis_link_send_formatted(c->link, cmd, len, fn, priv,
		    clock_ms());
	case C_FINDING:
	case C_CONNECTING:
		break;
	case C_DOWN:
	case C_FATAL:
		return -1;
	}
	w = xcalloc(1, sizeof *w);
	/* NUL-terminated, as hiredis scans it for the command's name. */
	w->cmd = xmalloc(len + 1);
	memcpy(w->cmd, cmd, len);
	w->cmd[len] = '\0';
	w->len = len;
	w->fn = fn;
	w->priv = priv;
	w->deadline = deadline;
	TAILQ_INSERT_TAIL(&c->waiting, w, entry);
	return 0;
}

int
redis_conn_wait(struct redis_conn *c, long long deadline, redis_link_fn *fn,
    void *priv)
{
	struct redis_cmd w = { 0 };
	long long now = clock_ms(), ms = deadline - now - WAIT_MARGIN_MS;
	char n[16], t[24];

	if (c->state != C_READY || ms < 1)
		return -1;
	snprintf(n, sizeof n, "%d", c->params.sync);
	snprintf(t, sizeof t, "%lld", ms);
	redis_cmd_arg(&w, "WAIT");
	redis_cmd_arg(&w, n);
	redis_cmd_arg(&w, t);
	return redis_link_send(c->link, &w, fn, priv, now);
}

int
redis_conn_confirmed(struct redis_conn *c, const redisReply *r)
{
	if (r != NULL && r->type == REDIS_REPLY_INTEGER &&
	    r->integer >= c->params.sync)
		return 1;
	if (!c->short_of_replicas) {
		c->short_of_replicas = 1;
		c->probe_at = clock_ms() + SYNC_PROBE_MS;
		if (r == NULL)
			snprintf(c->why, sizeof c->why, "no replica confirmed "
			    "a change in time");
		else if (r->type == REDIS_REPLY_INTEGER)
			snprintf(c->why, sizeof c->why, "%lld of %d replicas "
			    "confirmed a change in time", r->integer,
			    c->params.sync);
		else
			snprintf(c->why, sizeof c->why, "WAIT: %.200s",
			    r->type == REDIS_REPLY_ERROR ? r->str :
			    "an answer of the wrong shape");
	}
	return 0;
}

void
redis_conn_refusing(struct redis_conn *c, const char *why)
{
	if (c->refusing)
		return;
	c->refusing = 1;
	copy_str(c->why, sizeof c->why, why);
}

void
redis_conn_wrote(struct redis_conn *c)
{
	c->refusing = 0;
}
