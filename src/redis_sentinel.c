/* redis_sentinel.c - the master as Sentinel sees it (see redis_sentinel.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_link.h"
#include "redis_sentinel.h"
#include "xmalloc.h"

/* A lost watch: asked again after this, doubling up to the maximum. */
#define REWATCH_FIRST_MS	500
#define REWATCH_MAX_MS		5000
#define SWITCH_CHANNEL		"+switch-master"

struct asker {
	struct redis_sentinel	*s;
	struct redis_link	*link;
	int			 waiting;	/* for its answer */
};

struct redis_sentinel {
	struct ae_loop		*loop;
	struct redis_url	 url;
	struct asker		 askers[REDIS_URL_HOSTS];
	int			 round;		/* askers are out */
	int			 asked;		/* by the caller: it hears */
	int			 found;		/* an answer is in master */
	int			 found_from;	/* its asker, or -1 */
	struct redis_addr	 master;
	char			 why[256];
	struct redis_link	*watch;
	long long		 rewatch_at;	/* 0: none due */
	long long		 rewatch_ms;
};

struct redis_sentinel *
redis_sentinel_new(struct ae_loop *loop, const struct redis_url *url)
{
	struct redis_sentinel *s;
	int i;

	s = xcalloc(1, sizeof *s);
	s->loop = loop;
	s->url = *url;
	s->rewatch_ms = REWATCH_FIRST_MS;
	for (i = 0; i < REDIS_URL_HOSTS; i++)
		s->askers[i].s = s;
	return s;
}

static void
end_round(struct redis_sentinel *s, int keep)
{
	int i;

	for (i = 0; i < s->url.nhosts; i++) {
		if (i == keep)
			continue;
		redis_link_close(s->askers[i].link);
		s->askers[i].link = NULL;
		s->askers[i].waiting = 0;
	}
	s->round = 0;
}

void
redis_sentinel_free(struct redis_sentinel *s)
{
	if (s == NULL)
		return;
	end_round(s, -1);
	redis_link_close(s->watch);
	free(s);
}

/* A port as Sentinel writes it, in a reply or a message. */
static int
port_of(const char *p, size_t len, int *port)
{
	char buf[8], *end;
	long v;

	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (*end != '\0' || errno != 0 || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

static int
set_master(struct redis_sentinel *s, const char *host, size_t hlen,
    const char *port, size_t plen)
{
	struct redis_addr a;

	if (hlen == 0 || hlen >= sizeof a.host || memchr(host, '\0', hlen) ||
	    port_of(port, plen, &a.port) == -1)
		return -1;
	memcpy(a.host, host, hlen);
	a.host[hlen] = '\0';
	s->master = a;
	s->found = 1;
	return 0;
}

static void
on_answer(void *priv, const redisReply *r)
{
	struct asker *k = priv;
	struct redis_sentinel *s = k->s;
	char at[REDIS_ADDR_STR];
	const char *who;

	k->waiting = 0;
	if (r == NULL)
		return;		/* the link's death says why */
	who = redis_addr_str(redis_link_addr(k->link), at, sizeof at);
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING) {
		if (s->found)
			return;		/* another Sentinel was first */
		if (set_master(s, r->element[0]->str, r->element[0]->len,
		    r->element[1]->str, r->element[1]->len) == 0) {
			s->found_from = (int)(k - s->askers);
			return;
		}
		snprintf(s->why, sizeof s->why, "Sentinel %s gave an address "
		    "that is not one", who);
	} else if (r->type == REDIS_REPLY_NIL)
		snprintf(s->why, sizeof s->why, "Sentinel %s knows no master "
		    "named %s", who, s->url.master);
	else if (r->type == REDIS_REPLY_ERROR)
		snprintf(s->why, sizeof s->why, "Sentinel %s: %.200s", who,
		    r->str);
	else
		snprintf(s->why, sizeof s->why, "Sentinel %s gave an answer "
		    "of the wrong shape", who);
}

/* "+switch-master" says "NAME OLDHOST OLDPORT NEWHOST NEWPORT". */
static void
on_switch(void *priv, const redisReply *r)
{
	struct redis_sentinel *s = priv;
	const char *w[5], *p, *end;
	size_t wl[5], n = 0;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	p = r->element[2]->str;
	end = p + r->element[2]->len;
	while (p < end && n < 5) {
		w[n] = p;
		while (p < end && *p != ' ')
			p++;
		wl[n] = (size_t)(p - w[n]);
		n++;
		if (p < end)
			p++;
	}
	if (n != 5 || p != end || wl[0] != strlen(s->url.master) ||
	    memcmp(w[0], s->url.master, wl[0]) != 0)
		return;
	(void)set_master(s, w[3], wl[3], w[4], wl[4]);
	s->found_from = -1;
}

static void
start_round(struct redis_sentinel *s, long long now)
{
	struct redis_cmd c = { 0 };
	char at[REDIS_ADDR_STR];
	struct asker *k;
	long long t;
	int i;

	redis_cmd_arg(&c, "SENTINEL");
	redis_cmd_arg(&c, "GET-MASTER-ADDR-BY-NAME");
	redis_cmd_arg(&c, s->url.master);
	s->round = 1;
	s->why[0] = '\0';
	for (i = 0; i < s->url.nhosts; i++) {
		k = &s->askers[i];
		k->link = redis_link_open(s->loop, &s->url.hosts[i],
		    SENTINEL_TIMEOUT_MS, now);
		k->waiting = redis_link_send(k->link, &c, on_answer, k,
		    now) == 0;
		if (!k->waiting)
			snprintf(s->why, sizeof s->why, "Sentinel %s: %s",
			    redis_addr_str(&s->url.hosts[i], at, sizeof at),
			    redis_link_check(k->link, now, &t));
	}
}

void
redis_sentinel_ask(struct redis_sentinel *s, long long now)
{
	s->asked = 1;
	if (!s->round)
		start_round(s, now);
}

/* The Sentinel that answered is watched from now on, on the same link. */
static void
watch_from(struct redis_sentinel *s, int i)
{
	struct asker *k = &s->askers[i];

	redis_link_close(s->watch);
	s->watch = k->link;
	k->link = NULL;
	if (redis_link_subscribe(s->watch, SWITCH_CHANNEL, on_switch, s) == 0)
		s->rewatch_ms = REWATCH_FIRST_MS;
}

enum sentinel_news
redis_sentinel_tick(struct redis_sentinel *s, long long now,
    struct redis_addr *master, char *why, size_t whylen, long long *next)
{
	char at[REDIS_ADDR_STR];
	struct asker *k;
	const char *dead;
	long long t;
	int i, waiting = 0;

	*next = -1;
	for (i = 0; s->round && i < s->url.nhosts; i++) {
		k = &s->askers[i];
		if (k->link == NULL)
			continue;
		dead = redis_link_check(k->link, now, &t);
		if (dead != NULL && k->waiting) {
			k->waiting = 0;
			snprintf(s->why, sizeof s->why, "Sentinel %s: %s",
			    redis_addr_str(redis_link_addr(k->link), at,
			    sizeof at), dead);
		}
		waiting |= k->waiting;
		*next = redis_earliest(*next, t);
	}
	if (s->watch != NULL && redis_link_check(s->watch, now, &t) != NULL) {
		redis_link_close(s->watch);
		s->watch = NULL;
		s->rewatch_at = now + s->rewatch_ms;
		s->rewatch_ms = redis_backoff(s->rewatch_ms, REWATCH_MAX_MS);
	} else if (s->watch != NULL)
		*next = redis_earliest(*next, t);

	if (s->found) {
		s->found = 0;
		if (s->round) {
			end_round(s, s->found_from);
			if (s->found_from >= 0)
				watch_from(s, s->found_from);
		}
		s->asked = 0;
		s->rewatch_at = 0;
		*master = s->master;
		return SENTINEL_FOUND;
	}
	if (s->round && !waiting) {
		end_round(s, -1);
		if (s->asked) {
			s->asked = 0;
			snprintf(why, whylen, "%s", s->why[0] != '\0' ?
			    s->why : "no Sentinel answered");
			return SENTINEL_FAILED;
		}
		/* A round of our own: try again later. */
		s->rewatch_at = now + s->rewatch_ms;
		s->rewatch_ms = redis_backoff(s->rewatch_ms, REWATCH_MAX_MS);
	}
	if (!s->round && s->rewatch_at != 0) {
		if (now >= s->rewatch_at) {
			s->rewatch_at = 0;
			start_round(s, now);
			*next = now;
		} else
			*next = redis_earliest(*next, s->rewatch_at);
	}
	return SENTINEL_NONE;
}
