/*
 * call_ae.h - one call (rpc_call.h) driven by an ae loop instead of poll():
 * the descriptors the call asks for are watched on the loop, its deadline
 * is a timer, and done runs once the call is over.  So any number of
 * calls share one loop, none of them ever blocking it; the web front end's
 * sessions are made of these.
 */
#ifndef RPCCHAT_CALL_AE_H
#define RPCCHAT_CALL_AE_H

#include "ae.h"
#include "rpc_call.h"
#include "timers.h"

struct call_ae;
typedef void call_ae_done(struct call_ae *, void *arg);

struct call_ae {
	struct rpc_call		 call;		/* the outcome, once done */
	struct ae_loop		*loop;
	struct timers		*timers;
	struct timer		 timer;
	call_ae_done		*done;
	void			*arg;
	/* What is watched on the loop now, as rpc_call_pollfds gave it. */
	struct pollfd		 watched[RPC_CALL_FDS_MAX];
	size_t			 nwatched;
	enum rpc_call_state	 watched_state;
};

void	call_ae_init(struct call_ae *, struct ae_loop *, struct timers *,
	    call_ae_done *, void *arg);
/*
 * Starts the call (rpc_call_start).  done runs from the loop once it is
 * over, never from inside call_ae_start, so the caller's state is whole
 * when it does.
 */
void	call_ae_start(struct call_ae *, const struct rpc_target *,
	    const struct buf *req);
int	call_ae_busy(const struct call_ae *);
/* Stops a running call without running done. */
void	call_ae_cancel(struct call_ae *);
void	call_ae_free(struct call_ae *);

#endif
