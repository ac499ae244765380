/* chat_limits.c - the limits as every store keeps them (see chat_limits.h). */
#include "chat_limits.h"

void
chat_limits_settle(struct chat_limits *lim)
{
	/* A limit of 0 would keep nothing; treat it as unset. */
	if (lim->queue_limit == 0)
		lim->queue_limit = CHAT_DEFAULT_QUEUE_LIMIT;
	if (lim->idle_timeout_ms < 0)
		lim->idle_timeout_ms = 0;
	if (lim->max_memory == 0)
		lim->max_memory = CHAT_DEFAULT_MAX_MEMORY;
	if (lim->max_memory < CHAT_MIN_MAX_MEMORY)
		lim->max_memory = CHAT_MIN_MAX_MEMORY;
}
