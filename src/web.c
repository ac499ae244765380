/*
 * web.c - the web front end as a whole (see web.h): its sessions, the
 * one lookup of the target's name that they share, and the loop of
 * client mode.  HTTP is web_http.c's, each tab's WebSocket web_page.c's,
 * each tab's chat web_session.c's.
 *
 * The sessions share one lookup of the target's name (target_ready), so
 * a thousand tabs cost one resolver thread, not a thousand.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <netdb.h>
#include <unistd.h>

#include "anet.h"
#include "clock.h"
#include "log.h"
#include "proto.h"
#include "rpc_call.h"
#include "signals.h"
#include "web_internal.h"
#include "xmalloc.h"

/* After a failed lookup of the target, the next one waits this long. */
#define LOOKUP_RETRY_MS		1000
/* Leaving: how long the sessions' Quits may take at most. */
#define STOP_MS			3000

/* -- the target's name, looked up once for every session ---------------- */

static void
kick_sessions(struct web *w)
{
	struct entry *e, *next;

	/* A kick may end a session: its entry goes, the next stays. */
	TAILQ_FOREACH_SAFE(e, &w->entries, link, next)
		web_session_kick(e->s);
}

static void
lookup_done(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct web *w = data;
	char err[ANET_ERR_LEN];
	struct addrinfo *res;

	(void)mask;
	ae_unwatch(loop, fd, 0);
	if (resolve_finish(w->lookup, &res, err) == -1) {
		snprintf(w->sh.target_err, sizeof w->sh.target_err, "%s", err);
		w->lookup_retry = clock_ms() + LOOKUP_RETRY_MS;
	} else
		rpc_peer_use(&w->sh.peer, res);
	w->lookup = NULL;
	kick_sessions(w);
}

static int
target_ready(struct web_shared *sh)
{
	struct web *w = sh->owner;
	const char *host = sh->srv.host != NULL ? sh->srv.host : "localhost";
	char err[ANET_ERR_LEN];
	struct addrinfo *res;

	if (sh->peer.naddrs > 0)
		return 1;
	if (w->lookup != NULL)
		return 0;
	if (resolve_numeric(host, sh->srv.port, &res) == 0) {
		rpc_peer_use(&sh->peer, res);
		return 1;
	}
	if (clock_ms() < w->lookup_retry)
		return -1;
	if ((w->lookup = resolve_start(host, sh->srv.port, err)) == NULL) {
		snprintf(sh->target_err, sizeof sh->target_err, "%s", err);
		w->lookup_retry = clock_ms() + LOOKUP_RETRY_MS;
		return -1;
	}
	if (ae_watch(w->loop, resolve_fd(w->lookup), AE_READABLE, lookup_done,
	    w) == -1) {
		resolve_abandon(w->lookup);
		w->lookup = NULL;
		snprintf(sh->target_err, sizeof sh->target_err,
		    "look up %s: %s", host, strerror(errno));
		w->lookup_retry = clock_ms() + LOOKUP_RETRY_MS;
		return -1;
	}
	return 0;
}


/* -- sessions ------------------------------------------------------------ */

static void
session_output(struct web_shared *sh, struct web_session *s)
{
	struct page *p = web_session_page(s);

	(void)sh;
	if (p != NULL)
		web_page_sync(p);
}

static void
session_ended(struct web_shared *sh, struct web_session *s)
{
	struct web *w = sh->owner;
	struct entry *e = web_session_owner(s);
	struct buf name = BUF_INIT;

	log_client("web: %s's session ended", log_quote(&name,
	    web_session_name(s), USER_MAX));
	buf_free(&name);
	if (e->page != NULL) {
		e->page->session = NULL;
		web_page_sync(e->page);
	}
	TAILQ_REMOVE(&w->entries, e, link);
	w->nsessions--;
	web_session_free(s);
	free(e);
}

/* -- the front end as a whole --------------------------------------------- */

int
web_fds(const struct web_opts *o)
{
	/* A page, its two calls, their dial attempts; and page loads. */
	return o->max_sessions * 4 + HTTP_EXTRA + 16;
}

struct web *
web_start(struct ae_loop *loop, const struct web_opts *o, char *err,
    size_t errlen)
{
	struct web *w = xcalloc(1, sizeof *w);

	w->opts = o;
	w->loop = loop;
	w->mhd_fd = -1;
	TAILQ_INIT(&w->waiting);
	TAILQ_INIT(&w->answered);
	TAILQ_INIT(&w->pages);
	TAILQ_INIT(&w->entries);
	w->sh.loop = loop;
	w->sh.timers = &w->timers;
	w->sh.srv.host = o->host;
	w->sh.srv.port = o->port;
	w->sh.srv.wire = o->wire;
	w->sh.srv.timeout_ms = RPC_DEFAULT_TIMEOUT_MS;
	w->sh.srv.peer = &w->sh.peer;
	w->sh.srv.strict = o->strict;
	w->sh.wire_known = o->wire_known;
	snprintf(w->sh.server, sizeof w->sh.server, "%s", o->target);
	w->sh.log_max = o->session_bytes;
	w->sh.grace_ms = WEB_GRACE_MS;
	w->sh.target_ready = target_ready;
	w->sh.output = session_output;
	w->sh.ended = session_ended;
	w->sh.owner = w;

	if (web_http_start(w, err, errlen) == -1) {
		web_free(w);
		return NULL;
	}
	return w;
}

long long
web_tick(struct web *w, long long now)
{
	long long next, at;

	next = timers_run(&w->timers, now);
	at = web_http_run(w, now);
	if (at >= 0 && (next < 0 || at < next))
		next = at;
	return next;
}

int
web_connections(const struct web *w)
{
	return w != NULL ? w->nhttp : 0;
}

void
web_stop(struct web *w)
{
	struct entry *e, *next;
	struct page *p, *pnext;

	w->stopping = 1;
	TAILQ_FOREACH_SAFE(p, &w->pages, link, pnext)
		web_page_close(p);
	TAILQ_FOREACH_SAFE(e, &w->entries, link, next)
		web_session_quit(e->s);
}

int
web_idle(const struct web *w)
{
	return TAILQ_EMPTY(&w->entries);
}

void
web_free(struct web *w)
{
	struct entry *e;
	struct page *p;

	if (w == NULL)
		return;
	while ((p = TAILQ_FIRST(&w->pages)) != NULL)
		web_page_close(p);
	while ((e = TAILQ_FIRST(&w->entries)) != NULL) {
		TAILQ_REMOVE(&w->entries, e, link);
		web_session_free(e->s);
		free(e);
	}
	web_http_free(w);
	if (w->lookup != NULL) {
		ae_unwatch(w->loop, resolve_fd(w->lookup), 0);
		resolve_abandon(w->lookup);
	}
	rpc_peer_free(&w->sh.peer);
	timers_free(&w->timers);
	free(w);
}

/* -- client mode --------------------------------------------------------- */

struct runner {
	struct web	*web;
	long long	 stop_at;	/* 0: serving */
};

static void
on_signal(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct runner *r = data;
	struct signalfd_siginfo si;
	const char *name;

	(void)loop;
	(void)mask;
	if (read(fd, &si, sizeof si) != sizeof si || r->stop_at != 0)
		return;
	name = sigabbrev_np((int)si.ssi_signo);
	log_msg("shutting down (SIG%s): logging out every session",
	    name != NULL ? name : "?");
	r->stop_at = clock_ms() + STOP_MS;
	web_stop(r->web);
}

/* Room for every descriptor the front end may hold, if the system lets. */
static int
descriptors(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max > (rlim_t)want ? (rlim_t)want : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	return want;
}

int
web_run(const struct web_opts *o)
{
	struct runner r = { NULL, 0 };
	struct ae_loop *loop = NULL;
	char err[256] = "";
	long long now, next;
	int sfd = -1, status = 1, timeout;

	if ((sfd = signals_open()) == -1) {
		fprintf(stderr, "rpcchat: signals: %s\n", strerror(errno));
		return 1;
	}
	if ((loop = ae_create(descriptors(web_fds(o) + 64))) == NULL) {
		fprintf(stderr, "rpcchat: epoll: %s\n", strerror(errno));
		goto out;
	}
	log_attach(loop);
	if ((r.web = web_start(loop, o, err, sizeof err)) == NULL) {
		fprintf(stderr, "rpcchat: %s\n", err);
		goto out;
	}
	if (ae_watch(loop, sfd, AE_READABLE, on_signal, &r) == -1) {
		fprintf(stderr, "rpcchat: epoll: %s\n", strerror(errno));
		goto out;
	}
	for (;;) {
		now = clock_ms();
		next = web_tick(r.web, now);
		if (r.stop_at != 0 && (web_idle(r.web) || now >= r.stop_at))
			break;
		if (r.stop_at != 0 && (next < 0 || r.stop_at < next))
			next = r.stop_at;
		timeout = next < 0 ? -1 : next <= now ? 0 :
		    next - now > 60000 ? 60000 : (int)(next - now);
		next = log_tick();
		if (next >= 0 && (timeout < 0 || next - now < timeout))
			timeout = next <= now ? 0 : (int)(next - now);
		if (ae_poll(loop, timeout) == -1 && errno != EINTR) {
			log_msg("epoll_wait: %s", strerror(errno));
			goto out;
		}
	}
	status = 0;
out:
	web_free(r.web);
	log_detach();
	ae_destroy(loop);
	close(sfd);
	return status;
}
