/* redis_link.c - one connection to one Redis, with deadlines (see redis_link.h). */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <hiredis/async.h>

#include "ae.h"
#include "anet.h"
#include "redis_ae.h"
#include "redis_link.h"
#include "resolve.h"
#include "xmalloc.h"

struct req {
	struct redis_link	*link;
	redis_link_fn		*fn;
	void			*priv;
	long long		 deadline;
	/* A copy, while the link has no hiredis context yet. */
	char			*cmd;
	size_t			 cmdlen;
	TAILQ_ENTRY(req)	 entry;
};
TAILQ_HEAD(req_list, req);

struct redis_link {
	struct ae_loop		*loop;
	struct redis_addr	 addr;
	int			 timeout_ms;
	long long		 connect_deadline;
	struct resolve		*lookup;	/* the host is being looked up */
	redisAsyncContext	*ac;
	int			 connected;
	char			 dead[256];	/* why; "" while it lives */
	/* Every command out, in the order its answer comes. */
	struct req_list		 reqs;
	redis_link_fn		*sub_fn;
	void			*sub_priv;
};

void
redis_cmd_argn(struct redis_cmd *c, const char *p, size_t n)
{
	if (c->argc == REDIS_CMD_ARGS)
		abort();	/* a caller's bug, not input */
	c->argv[c->argc] = p;
	c->lens[c->argc++] = n;
}

void
redis_cmd_arg(struct redis_cmd *c, const char *s)
{
	redis_cmd_argn(c, s, strlen(s));
}

static void
set_dead(struct redis_link *l, const char *why)
{
	if (l->dead[0] == '\0')
		snprintf(l->dead, sizeof l->dead, "%s", why[0] != '\0' ? why :
		    "connection closed");
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct req *q = priv;
	struct redis_link *l = q->link;

	TAILQ_REMOVE(&l->reqs, q, entry);
	if (reply == NULL)
		set_dead(l, ac->errstr);
	q->fn(q->priv, reply);
	free(q);
}

static void
on_sub(redisAsyncContext *ac, void *reply, void *priv)
{
	struct redis_link *l = priv;

	if (reply == NULL)
		set_dead(l, ac->errstr);
	if (l->sub_fn != NULL)
		l->sub_fn(l->sub_priv, reply);
	/* hiredis calls with NULL once, as the context goes. */
	if (reply == NULL)
		l->sub_fn = NULL;
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct redis_link *l = ac->data;

	if (status != REDIS_OK) {
		/* hiredis frees the context after this. */
		set_dead(l, ac->errstr);
		l->ac = NULL;
		return;
	}
	l->connected = 1;
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis_link *l = ac->data;

	(void)status;
	set_dead(l, ac->errstr);
	l->ac = NULL;
}

/* Hands the commands sent while the host was looked up to hiredis. */
static void
flush_queued(struct redis_link *l)
{
	struct req *q;

	TAILQ_FOREACH(q, &l->reqs, entry) {
		if (q->cmd == NULL)
			continue;
		if (redisAsyncFormattedCommand(l->ac, on_reply, q, q->cmd,
		    q->cmdlen) != REDIS_OK)
			set_dead(l, "cannot queue a command");
		free(q->cmd);
		q->cmd = NULL;
	}
}

static void
connect_to(struct redis_link *l, const char *numeric)
{
	redisAsyncContext *ac;

	if ((ac = redisAsyncConnect(numeric, l->addr.port)) == NULL) {
		set_dead(l, "out of memory");
		return;
	}
	if (ac->err) {
		set_dead(l, ac->errstr);
		redisAsyncFree(ac);
		return;
	}
	ac->data = l;
	l->ac = ac;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (redis_ae_attach(l->loop, ac) == -1) {
		set_dead(l, "cannot watch the connection");
		return;
	}
	flush_queued(l);
}

/* Connects to the first address found; the name is never looked up again. */
static void
connect_found(struct redis_link *l, struct addrinfo *res)
{
	char numeric[NI_MAXHOST];
	int rc;

	rc = getnameinfo(res->ai_addr, res->ai_addrlen, numeric,
	    sizeof numeric, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc != 0) {
		set_dead(l, gai_strerror(rc));
		return;
	}
	connect_to(l, numeric);
}

static void
lookup_done(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct redis_link *l = data;
	char err[ANET_ERR_LEN];
	struct addrinfo *res;

	(void)mask;
	ae_unwatch(loop, fd, 0);
	if (resolve_finish(l->lookup, &res, err) == -1) {
		l->lookup = NULL;
		set_dead(l, err);
		return;
	}
	l->lookup = NULL;
	connect_found(l, res);
}

struct redis_link *
redis_link_open(struct ae_loop *loop, const struct redis_addr *addr,
    int timeout_ms, long long now)
{
	struct redis_link *l;
	char port[8], err[ANET_ERR_LEN];
	struct addrinfo *res;

	l = xcalloc(1, sizeof *l);
	l->loop = loop;
	l->addr = *addr;
	l->timeout_ms = timeout_ms;
	l->connect_deadline = now + timeout_ms;
	TAILQ_INIT(&l->reqs);
	snprintf(port, sizeof port, "%d", addr->port);
	if (resolve_numeric(addr->host, port, &res) == 0)
		connect_found(l, res);
	else if ((l->lookup = resolve_start(addr->host, port, err)) == NULL)
		set_dead(l, err);
	else if (ae_watch(loop, resolve_fd(l->lookup), AE_READABLE,
	    lookup_done, l) == -1) {
		resolve_abandon(l->lookup);
		l->lookup = NULL;
		set_dead(l, "cannot watch the lookup");
	}
	return l;
}

void
redis_link_close(struct redis_link *l)
{
	struct req *q;

	if (l == NULL)
		return;
	set_dead(l, "closed");
	if (l->lookup != NULL) {
		ae_unwatch(l->loop, resolve_fd(l->lookup), 0);
		resolve_abandon(l->lookup);
	}
	/* Calls back every command handed to hiredis, with NULL. */
	if (l->ac != NULL)
		redisAsyncFree(l->ac);
	while ((q = TAILQ_FIRST(&l->reqs)) != NULL) {
		TAILQ_REMOVE(&l->reqs, q, entry);
		q->fn(q->priv, NULL);
		free(q->cmd);
		free(q);
	}
	free(l);
}

int
redis_link_send(struct redis_link *l, const struct redis_cmd *c,
    redis_link_fn *fn, void *priv, long long now)
{
	char *cmd;
	int len, rc;

	/* hiredis only reads argv, though its prototype does not say so. */
	if ((len = redisFormatCommandArgv(&cmd, c->argc,
	    (const char **)c->argv, c->lens)) < 0) {
		set_dead(l, "out of memory");
		return -1;
	}
	rc = redis_link_send_formatted(l, cmd, (size_t)len, fn, priv, now);
	redisFreeCommand(cmd);
	return rc;
}

int
redis_link_send_formatted(struct redis_link *l, const char *cmd, size_t len,
    redis_link_fn *fn, void *priv, long long now)
{
	struct req *q;

	if (l->dead[0] != '\0')
		return -1;
	q = xcalloc(1, sizeof *q);
	q->link = l;
	q->fn = fn;
	q->priv = priv;
	q->deadline = now + l->timeout_ms;
	if (l->ac == NULL) {
		/* NUL-terminated, as hiredis scans it for the command's name. */
		q->cmd = xmalloc(len + 1);
		memcpy(q->cmd, cmd, len);
		q->cmd[len] = '\0';
		q->cmdlen = len;
	} else if (redisAsyncFormattedCommand(l->ac, on_reply, q, cmd,
	    len) != REDIS_OK) {
		set_dead(l, "cannot queue a command");
		free(q);
		return -1;
	}
	TAILQ_INSERT_TAIL(&l->reqs, q, entry);
	return 0;
}

int
redis_link_subscribe(struct redis_link *l, const char *channel,
    redis_link_fn *fn, void *priv)
{
	const char *argv[2] = { "SUBSCRIBE", channel };
	size_t lens[2] = { 9, strlen(channel) };

	if (l->dead[0] != '\0' || l->ac == NULL || l->sub_fn != NULL)
		return -1;
	l->sub_fn = fn;
	l->sub_priv = priv;
	if (redisAsyncCommandArgv(l->ac, on_sub, l, 2, argv, lens) !=
	    REDIS_OK) {
		l->sub_fn = NULL;
		set_dead(l, "cannot subscribe");
		return -1;
	}
	return 0;
}

const char *
redis_link_check(struct redis_link *l, long long now, long long *next)
{
	struct req *q = TAILQ_FIRST(&l->reqs);

	*next = -1;
	if (l->dead[0] != '\0')
		return l->dead;
	if (!l->connected) {
		if (now >= l->connect_deadline)
			snprintf(l->dead, sizeof l->dead, "not connected "
			    "within %d ms", l->timeout_ms);
		else
			*next = l->connect_deadline;
	}
	if (q != NULL && l->dead[0] == '\0') {
		if (now >= q->deadline)
			snprintf(l->dead, sizeof l->dead, "no answer within "
			    "%d ms", l->timeout_ms);
		else if (*next == -1 || q->deadline < *next)
			*next = q->deadline;
	}
	return l->dead[0] != '\0' ? l->dead : NULL;
}

long long
redis_backoff(long long ms, long long max)
{
	return ms > max / 2 ? max : ms * 2;
}

long long
redis_earliest(long long a, long long b)
{
	if (a < 0)
		return b;
	return b < 0 || a < b ? a : b;
}

const char *
redis_link_error(const struct redis_link *l)
{
	return l->dead[0] != '\0' ? l->dead : NULL;
}

int
redis_link_up(const struct redis_link *l)
{
	return l->connected && l->dead[0] == '\0';
}

const struct redis_addr *
redis_link_addr(const struct redis_link *l)
{
	return &l->addr;
}
