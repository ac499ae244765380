/*
 * redis_link.h - one connection to one Redis server (or Sentinel) on the
 * event loop, where nothing waits without a deadline.
 *
 * Opening a link looks its host up off the loop (resolve.h), then
 * connects with hiredis's non-blocking API (redis_ae.h).  Commands may be
 * sent at once: they wait in the link until it is connected.  The link
 * must be connected within its timeout, and each command answered
 * within the timeout from when it was sent; past either, or when the
 * server closes the connection, the link is dead for good and
 * redis_link_check says why.  Every command gets exactly one call of its
 * function: with the reply, or with NULL once the link died or closed.
 *
 * A link is only ever closed from outside hiredis's callbacks (the
 * owner's tick); a callback that wants it gone tells its owner to drop it.
 */
#ifndef RPCCHAT_REDIS_LINK_H
#define RPCCHAT_REDIS_LINK_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "redis_url.h"

struct ae_loop;
struct redis_link;

#define REDIS_CMD_ARGS	8

/* A command: its arguments and their lengths, binary safe. */
struct redis_cmd {
	int		 argc;
	const char	*argv[REDIS_CMD_ARGS];
	size_t		 lens[REDIS_CMD_ARGS];
};

/* Appends an argument: a C string, or n bytes (the caller keeps them). */
void	redis_cmd_arg(struct redis_cmd *, const char *);
void	redis_cmd_argn(struct redis_cmd *, const char *, size_t n);

/* A command's answer: r is NULL when the link died or closed first. */
typedef void redis_link_fn(void *priv, const redisReply *r);

struct redis_link *redis_link_open(struct ae_loop *, const struct redis_addr *,
		    int timeout_ms, long long now);
/* Closes it: commands still out get NULL.  Never from a callback. */
void		 redis_link_close(struct redis_link *);
/* Sends cmd; fn gets the answer.  -1 (and no call of fn) when dead. */
int		 redis_link_send(struct redis_link *, const struct redis_cmd *,
		    redis_link_fn *, void *priv, long long now);
/* The same, for a command in the protocol's bytes, NUL-terminated. */
int		 redis_link_send_formatted(struct redis_link *, const char *cmd,
		    size_t len, redis_link_fn *, void *priv, long long now);
/*
 * Subscribes to a channel of a connected link: fn gets the subscription's
 * replies and each message, and NULL when the link closes.  No other
 * command may follow on the link.
 */
int		 redis_link_subscribe(struct redis_link *, const char *channel,
		    redis_link_fn *, void *priv);
/*
 * Runs the deadlines at now.  NULL while the link lives, else why it is
 * dead.  *next gets when a deadline falls next (-1: none).
 */
const char	*redis_link_check(struct redis_link *, long long now,
		    long long *next);
/* Why it is dead, or NULL (deadlines as of the last check). */
const char	*redis_link_error(const struct redis_link *);
/* The next wait of a back-off: twice this one, up to max. */
long long	 redis_backoff(long long ms, long long max);
/* The earlier of two deadlines, -1 standing for none. */
long long	 redis_earliest(long long a, long long b);
/* Connected, and nothing has killed it yet. */
int		 redis_link_up(const struct redis_link *);
const struct redis_addr *redis_link_addr(const struct redis_link *);

#endif
