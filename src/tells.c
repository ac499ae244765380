/* tells.c - our Tells whose answer may still come (see tells.h). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "rules.h"
#include "tells.h"
#include "xmalloc.h"

void
tells_init(struct tells *t)
{
	memset(t, 0, sizeof *t);
}

/* n from the i-th stop waiting. */
static void
forget(struct tells *t, size_t i, size_t n)
{
	size_t k;

	if (n == 0)
		return;
	for (k = i; k < i + n; k++)
		free(t->v[k].notice);
	memmove(t->v + i, t->v + i + n, (t->n - i - n) * sizeof *t->v);
	t->n -= n;
}

void
tells_free(struct tells *t)
{
	forget(t, 0, t->n);
	free(t->v);
	tells_init(t);
}

void
tells_sent(struct tells *t, struct span target, unsigned long long polls)
{
	struct buf notice = BUF_INIT;

	if (t->n == TELLS_MAX)
		forget(t, 0, 1);
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 8 : t->cap * 2;
		t->v = xreallocarray(t->v, t->cap, sizeof *t->v);
	}
	/* The server's own text, a long name cut as it cuts it. */
	rules_no_such_user(target, &notice);
	t->v[t->n].notice = xmemdup(notice.data, notice.len);
	t->v[t->n].len = notice.len;
	t->v[t->n].polls = polls;
	t->n++;
	buf_free(&notice);
}

int
tells_answered(struct tells *t, struct span message)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (t->v[i].len == message.len &&
		    memcmp(t->v[i].notice, message.p, message.len) == 0) {
			forget(t, i, 1);
			return 1;
		}
	}
	return 0;
}

void
tells_settle(struct tells *t, unsigned long long poll)
{
	size_t n = 0;

	/* In the order sent, so in the order of polls. */
	while (n < t->n && t->v[n].polls < poll)
		n++;
	forget(t, 0, n);
}
