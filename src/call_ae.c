/*
 * call_ae.c - a non-blocking call on an ae loop (see call_ae.h).
 *
 * After every step the descriptors the call wants are compared with those
 * watched.  A descriptor the call closed may come back under the same
 * number within one step (a failed connect attempt replaced by the next),
 * and epoll forgets a closed descriptor by itself: so whenever the state
 * changes, or while connecting, the old ones are unwatched and the new
 * ones watched afresh rather than trusted by number.
 */
#include <string.h>

#include "call_ae.h"
#include "clock.h"

static void	ready(struct ae_loop *, int, void *, int);
static void	sync(struct call_ae *);

static void
fired(struct timer *t)
{
	struct call_ae *c = (struct call_ae *)(void *)((char *)t -
	    offsetof(struct call_ae, timer));
	struct pollfd pfd[RPC_CALL_FDS_MAX];
	size_t n;

	/* A call that failed as it started (call_ae_start) is done now. */
	if (c->call.state != CALL_DONE) {
		n = rpc_call_pollfds(&c->call, pfd, RPC_CALL_FDS_MAX);
		rpc_call_step(&c->call, pfd, n);
	}
	sync(c);
	if (c->call.state == CALL_DONE)
		c->done(c, c->arg);
}

static void
unwatch_all(struct call_ae *c, int closed)
{
	size_t i;

	for (i = 0; i < c->nwatched; i++)
		ae_unwatch(c->loop, c->watched[i].fd, closed);
	c->nwatched = 0;
}

static int
mask_of(short events)
{
	return (events & POLLIN ? AE_READABLE : 0) |
	    (events & POLLOUT ? AE_WRITABLE : 0);
}

/* Whether fd, events is among the n of set. */
static const struct pollfd *
find(const struct pollfd *set, size_t n, int fd)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (set[i].fd == fd)
			return &set[i];
	return NULL;
}

/*
 * Brings the loop's watches and the timer in line with the call, with as
 * few epoll_ctl calls as are safe: a descriptor the call dropped was
 * closed by it, and epoll forgot it already; one kept under a new mask is
 * modified, and added afresh if epoll no longer knows the number (closed
 * and reopened within the step); one kept under the same mask while the
 * state stayed the same, and not connecting, is left alone.  Otherwise it
 * is watched afresh.
 */
static void
sync(struct call_ae *c)
{
	struct pollfd want[RPC_CALL_FDS_MAX], old[RPC_CALL_FDS_MAX];
	const struct pollfd *was;
	size_t n, nold, i;
	int wait, mask, steady, closed;

	memcpy(old, c->watched, sizeof old);
	nold = c->nwatched;
	/* Only a lookup's descriptor outlives its part in a call. */
	closed = c->watched_state != CALL_RESOLVING;
	n = rpc_call_busy(&c->call) ? rpc_call_pollfds(&c->call, want,
	    RPC_CALL_FDS_MAX) : 0;
	steady = c->call.state == c->watched_state &&
	    c->call.state != CALL_CONNECTING;
	for (i = 0; i < nold; i++)
		if (find(want, n, old[i].fd) == NULL)
			ae_unwatch(c->loop, old[i].fd, closed);
	c->nwatched = 0;
	for (i = 0; i < n; i++) {
		mask = mask_of(want[i].events);
		was = find(old, nold, want[i].fd);
		if (was != NULL && was->events == want[i].events && !steady) {
			/* Same number, same mask: epoll may not know it. */
			ae_unwatch(c->loop, want[i].fd, 0);
		}
		if ((was == NULL || was->events != want[i].events ||
		    !steady) && ae_watch(c->loop, want[i].fd, mask, ready,
		    c) == -1) {
			/* Closed and reopened under the same number. */
			ae_unwatch(c->loop, want[i].fd, 1);
			if (ae_watch(c->loop, want[i].fd, mask, ready,
			    c) == -1)
				continue;	/* its deadline ends the call */
		}
		c->watched[c->nwatched++] = want[i];
	}
	c->watched_state = c->call.state;
	if (!rpc_call_busy(&c->call)) {
		timer_cancel(c->timers, &c->timer);
		return;
	}
	wait = rpc_call_wait_ms(&c->call);
	timer_set(c->timers, &c->timer, clock_ms() + (wait < 0 ? 0 : wait));
}

static void
ready(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct call_ae *c = data;
	struct pollfd pfd[RPC_CALL_FDS_MAX];
	size_t n, i;

	(void)loop;
	n = rpc_call_pollfds(&c->call, pfd, RPC_CALL_FDS_MAX);
	for (i = 0; i < n; i++)
		if (pfd[i].fd == fd)
			pfd[i].revents = (short)(((mask & AE_READABLE) ?
			    POLLIN : 0) | ((mask & AE_WRITABLE) ? POLLOUT : 0));
	if (rpc_call_step(&c->call, pfd, n)) {
		sync(c);
		c->done(c, c->arg);
		return;
	}
	sync(c);
}

void
call_ae_init(struct call_ae *c, struct ae_loop *loop, struct timers *timers,
    call_ae_done *done, void *arg)
{
	memset(c, 0, sizeof *c);
	rpc_call_init(&c->call);
	c->loop = loop;
	c->timers = timers;
	c->done = done;
	c->arg = arg;
	c->watched_state = CALL_IDLE;
	timer_init(&c->timer, fired);
}

void
call_ae_start(struct call_ae *c, const struct rpc_target *srv,
    const struct buf *req)
{
	call_ae_cancel(c);
	rpc_call_start(&c->call, srv, req);
	if (c->call.state == CALL_DONE) {
		/* Failed at once: done runs from the loop all the same. */
		timer_set(c->timers, &c->timer, clock_ms());
		return;
	}
	sync(c);
}

int
call_ae_busy(const struct call_ae *c)
{
	return rpc_call_busy(&c->call) || timer_pending(&c->timer);
}

void
call_ae_cancel(struct call_ae *c)
{
	/* Unwatched first: the descriptors are still open. */
	unwatch_all(c, 0);
	rpc_call_cancel(&c->call);
	timer_cancel(c->timers, &c->timer);
	c->watched_state = CALL_IDLE;
}

void
call_ae_free(struct call_ae *c)
{
	call_ae_cancel(c);
	rpc_call_free(&c->call);
}
