/* redis_ae.c - hiredis on our event loop (see redis_ae.h). */
#include <stdlib.h>

#include "ae.h"
#include "redis_ae.h"
#include "xmalloc.h"

struct redis_ae {
	struct ae_loop		*loop;
	redisAsyncContext	*ac;
	int			 fd;
	int			 mask;
};

static void
ready(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct redis_ae *e = data;

	(void)loop;
	(void)fd;
	/* A read can free the context (a disconnect): one handler a turn. */
	if (mask & AE_READABLE)
		redisAsyncHandleRead(e->ac);
	else if (mask & AE_WRITABLE)
		redisAsyncHandleWrite(e->ac);
}

/* ae_watch replaces the mask: keep the union here. */
static void
rewatch(struct redis_ae *e, int mask)
{
	if (mask == e->mask)
		return;
	e->mask = mask;
	if (mask == 0)
		ae_unwatch(e->loop, e->fd, 0);
	else if (ae_watch(e->loop, e->fd, mask, ready, e) == -1)
		/* Nothing will wake us for it: the call deadlines will. */
		e->mask = 0;
}

static void
add_read(void *p)
{
	struct redis_ae *e = p;

	rewatch(e, e->mask | AE_READABLE);
}

static void
del_read(void *p)
{
	struct redis_ae *e = p;

	rewatch(e, e->mask & ~AE_READABLE);
}

static void
add_write(void *p)
{
	struct redis_ae *e = p;

	rewatch(e, e->mask | AE_WRITABLE);
}

static void
del_write(void *p)
{
	struct redis_ae *e = p;

	rewatch(e, e->mask & ~AE_WRITABLE);
}

static void
cleanup(void *p)
{
	struct redis_ae *e = p;

	rewatch(e, 0);
	free(e);
}

int
redis_ae_attach(struct ae_loop *loop, redisAsyncContext *ac)
{
	struct redis_ae *e;

	if (ac->ev.data != NULL)
		return -1;
	e = xcalloc(1, sizeof *e);
	e->loop = loop;
	e->ac = ac;
	e->fd = ac->c.fd;
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	ac->ev.data = e;
	/* The connect completes when the socket turns writable. */
	add_write(e);
	return 0;
}
