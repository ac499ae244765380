/* store.c - picks the store a URL names (see store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "xmalloc.h"

struct store {
	const struct store_type	*type;
	void			*impl;
};

static struct store *
store_new(const struct store_type *type, void *impl)
{
	struct store *st;

	st = xmalloc(sizeof *st);
	st->type = type;
	st->impl = impl;
	return st;
}

struct store *
store_open(const struct store_params *p, char *err, size_t errlen)
{
	const struct store_type *type;
	void *impl;

	if (p->url == NULL || strcmp(p->url, "memory") == 0)
		type = &store_memory_type;
	else if (strncmp(p->url, "redis://", 8) == 0)
		type = &store_redis_type;
	else {
		snprintf(err, errlen, "--store: '%s' is not memory or "
		    "redis://HOST:PORT[/DB]", p->url);
		return NULL;
	}
	if ((impl = type->open(p, err, errlen)) == NULL)
		return NULL;
	return store_new(type, impl);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	st->type->close(st->impl);
	free(st);
}

void
store_call(struct store *st, int type, const struct span *args,
    int64_t now_ms, store_done *done, void *arg, uint64_t tag)
{
	st->type->call(st->impl, type, args, now_ms, done, arg, tag);
}

long long
store_tick(struct store *st, long long now_ms)
{
	return st->type->tick(st->impl, now_ms);
}

/* store_memory.c's, for a chat the caller owns. */
void	*store_memory_wrap_impl(struct chat *);

struct store *
store_memory_wrap(struct chat *chat)
{
	return store_new(&store_memory_type, store_memory_wrap_impl(chat));
}
