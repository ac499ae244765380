/*
 * store_memory.c - the chat state in this process (chat.c) behind the
 * store interface.  Every call completes before store_call returns.
 */
#include <stdlib.h>

#include "buf.h"
#include "chat.h"
#include "proto.h"
#include "store.h"
#include "xmalloc.h"

struct mstore {
	struct chat	*chat;
	int		 owned;
	struct buf	 results;	/* reused from call to call */
	struct buf	 err;
	void		(*expired)(void *, struct span);
	void		*arg;
};

/* store.c calls this for store_memory_wrap. */
void	*store_memory_wrap_impl(struct chat *);

void *
store_memory_wrap_impl(struct chat *chat)
{
	struct mstore *m;

	m = xcalloc(1, sizeof *m);
	m->chat = chat;
	return m;
}

static void *
mstore_open(const struct store_params *p, char *err, size_t errlen)
{
	struct mstore *m;

	(void)err;
	(void)errlen;
	m = store_memory_wrap_impl(chat_new(&p->limits));
	m->owned = 1;
	m->expired = p->expired;
	m->arg = p->arg;
	return m;
}

static void
mstore_close(void *impl)
{
	struct mstore *m = impl;

	if (m->owned)
		chat_free(m->chat);
	buf_free(&m->results);
	buf_free(&m->err);
	free(m);
}

static void
mstore_call(void *impl, int type, const struct span *a, int64_t now,
    store_done *done, void *arg, uint64_t tag)
{
	struct mstore *m = impl;
	struct chat *c = m->chat;
	int flags = 0;

	buf_clear(&m->results);
	buf_clear(&m->err);
	switch (type) {
	case MSG_REGISTER:
		if (chat_logged_in(c, a[0]))
			flags = STORE_REPLACED;
		chat_register(c, a[0], now, &m->err);
		break;
	case MSG_LIST:
		chat_list(c, &m->results);
		break;
	case MSG_CHECK_MESSAGES:
		chat_check_messages(c, a[0], now, &m->results, &m->err);
		break;
	case MSG_TELL:
		chat_tell(c, a[0], a[1], a[2], &m->err);
		break;
	case MSG_SAY:
		chat_say(c, a[0], a[1], &m->err);
		break;
	case MSG_QUIT:
		chat_quit(c, a[0], &m->err);
		break;
	default:
		buf_appendf(&m->err, "internal error");
		break;
	}
	done(arg, tag, (struct span){ m->results.data, m->results.len },
	    (struct span){ m->err.data, m->err.len }, flags);
}

static long long
mstore_tick(void *impl, long long now)
{
	struct mstore *m = impl;
	int64_t next;

	chat_expire_idle(m->chat, now, m->expired, m->arg);
	next = chat_next_expiry(m->chat);
	return next == INT64_MAX ? -1 : (long long)next;
}

static const char *
mstore_name(void *impl)
{
	(void)impl;
	return "memory";
}

const struct store_type store_memory_type = {
	.name = "memory",
	.open = mstore_open,
	.close = mstore_close,
	.call = mstore_call,
	.tick = mstore_tick,
	.describe = mstore_name,
};
