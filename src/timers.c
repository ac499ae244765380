/* timers.c - a min-heap of deadlines (see timers.h). */
#include <stdlib.h>

#include "timers.h"
#include "xmalloc.h"

void
timer_init(struct timer *t, timer_proc *fire)
{
	t->at = 0;
	t->slot = TIMER_IDLE;
	t->fire = fire;
}

int
timer_pending(const struct timer *t)
{
	return t->slot != TIMER_IDLE;
}

static void
place(struct timers *h, size_t i, struct timer *t)
{
	h->heap[i] = t;
	t->slot = i;
}

static void
sift_up(struct timers *h, size_t i)
{
	struct timer *t = h->heap[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (h->heap[parent]->at <= t->at)
			break;
		place(h, i, h->heap[parent]);
		i = parent;
	}
	place(h, i, t);
}

static void
sift_down(struct timers *h, size_t i)
{
	struct timer *t = h->heap[i];
	size_t child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= h->n)
			break;
		if (child + 1 < h->n && h->heap[child + 1]->at <
		    h->heap[child]->at)
			child++;
		if (t->at <= h->heap[child]->at)
			break;
		place(h, i, h->heap[child]);
		i = child;
	}
	place(h, i, t);
}

void
timer_set(struct timers *h, struct timer *t, long long at)
{
	long long was = t->at;

	t->at = at;
	if (t->slot == TIMER_IDLE) {
		if (h->n == h->cap) {
			h->cap = h->cap == 0 ? 64 : h->cap * 2;
			h->heap = xreallocarray(h->heap, h->cap,
			    sizeof *h->heap);
		}
		place(h, h->n++, t);
		sift_up(h, t->slot);
	} else if (at < was)
		sift_up(h, t->slot);
	else
		sift_down(h, t->slot);
}

void
timer_cancel(struct timers *h, struct timer *t)
{
	size_t i = t->slot;
	struct timer *last;

	if (i == TIMER_IDLE)
		return;
	t->slot = TIMER_IDLE;
	last = h->heap[--h->n];
	if (i == h->n)
		return;
	place(h, i, last);
	/* The one moved in may belong above or below. */
	sift_up(h, i);
	sift_down(h, last->slot);
}

long long
timers_run(struct timers *h, long long now)
{
	struct timer *t;

	while (h->n > 0 && h->heap[0]->at <= now) {
		t = h->heap[0];
		timer_cancel(h, t);
		t->fire(t);
	}
	return h->n > 0 ? h->heap[0]->at : -1;
}

void
timers_free(struct timers *h)
{
	free(h->heap);
	h->heap = NULL;
	h->n = h->cap = 0;
}
