/*
 * timers.h - deadlines for an ae loop (ae.h keeps to readiness): a binary
 * min-heap, so that a thousand sessions, each with a poll due every
 * second, cost O(log n) a deadline rather than a scan of them all.
 *
 * A timer is embedded in its owner and knows its place in the heap, so
 * moving or cancelling it needs no search.  Nothing is allocated but the
 * heap's array, which grows to the most timers ever pending at once.
 */
#ifndef RPCCHAT_TIMERS_H
#define RPCCHAT_TIMERS_H

#include <stddef.h>

struct timer;
typedef void timer_proc(struct timer *);

struct timer {
	long long	 at;		/* clock_ms() time */
	size_t		 slot;		/* in the heap, or TIMER_IDLE */
	timer_proc	*fire;
};

#define TIMER_IDLE	((size_t)-1)

struct timers {
	struct timer	**heap;
	size_t		  n;
	size_t		  cap;
};

void	timer_init(struct timer *, timer_proc *);
/* Sets (or moves) the timer to fire at `at`. */
void	timer_set(struct timers *, struct timer *, long long at);
void	timer_cancel(struct timers *, struct timer *);
int	timer_pending(const struct timer *);
/*
 * Fires every timer due at now (each is idle again before its proc runs,
 * which may set it anew).  Returns the next deadline, or -1 for none.
 */
long long timers_run(struct timers *, long long now);
void	timers_free(struct timers *);

#endif
