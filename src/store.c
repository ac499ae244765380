/* store.c - picks the store a URL names (see store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"
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

static const struct store_type *
store_type_of(const char *url, char *err, size_t errlen)
{
	if (url == NULL || strcmp(url, "memory") == 0)
		return &store_memory_type;
	if (redis_url_is(url))
		return &store_redis_type;
	snprintf(err, errlen, "--store: '%s' is not memory, "
	    "redis://HOST[:PORT][/DB] or "
	    "redis-sentinel://HOST[:PORT][,HOST[:PORT]...][/DB]#MASTER", url);
	return NULL;
}

int
store_url_check(const char *url, char *err, size_t errlen)
{
	const struct store_type *type;
	struct redis_url u;

	if ((type = store_type_of(url, err, errlen)) == NULL)
		return -1;
	if (type == &store_redis_type)
		return redis_url_parse(url, &u, err, errlen);
	return 0;
}

struct store *
store_open(const struct store_params *p, char *err, size_t errlen)
{
	const struct store_type *type;
	void *impl;

	if ((type = store_type_of(p->url, err, errlen)) == NULL ||
	    (impl = type->open(p, err, errlen)) == NULL)
		return NULL;
	return store_new(type, impl);
}

const char *
store_name(struct store *st)
{
	return st->type->describe(st->impl);
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
