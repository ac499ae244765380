/*
 * redis_conn.h - the Redis store's connection to the master (PROTOCOL.md
 * §7): finding it, making it ready, keeping it, and telling outages.
 *
 * The master is the URL's server, or the one Sentinel names
 * (redis_sentinel.h).  Each new connection asks ROLE first: only a
 * master is used, so a replica, or an old master restarted, sends the
 * front end back to Sentinel.  Then the owner's handshake goes out
 * (SELECT, the functions, the configuration), and once every step has
 * answered the connection is ready; calls made meanwhile wait for it,
 * within their deadline.  A connection that fails, is refused, or leaves
 * a command unanswered for timeout_ms is dropped and made again with
 * back-off; calls made while it is down fail at once.  A step refused
 * before the first ready connection is fatal: the front end exits, as at
 * a start with a bad option.
 *
 * With sync N (--store-sync), redis_conn_wait sends WAIT N after a call
 * that changed the chat.  While fewer than N replicas confirm, the
 * connection is short: changes fail at once, unsent, and a WAIT every
 * SYNC_PROBE_MS finds when enough replicas are back.
 *
 * An outage (no ready connection, short of replicas, or a Redis that
 * refuses writes) is logged when it starts and when it ends, with the
 * number of calls that failed meanwhile.
 *
 * Nothing here blocks or drives the loop: redis_conn_new only sets up,
 * and redis_conn_tick, called from the loop, does the rest.
 */
#ifndef RPCCHAT_REDIS_CONN_H
#define RPCCHAT_REDIS_CONN_H

#include <hiredis/hiredis.h>

#include "redis_link.h"
#include "redis_url.h"

struct ae_loop;
struct redis_conn;

#define REDIS_HANDSHAKE_MAX	4

/* What a new connection sends before any call, and what each step is. */
struct redis_handshake {
	struct redis_cmd	 cmd[REDIS_HANDSHAKE_MAX];
	const char		*what[REDIS_HANDSHAKE_MAX];
	int			 n;
};

struct redis_conn_params {
	const struct redis_url		*url;
	struct ae_loop			*loop;
	int				 sync;	/* replicas to WAIT for */
	/* How long Redis has to accept a connection, or answer a command. */
	int				 timeout_ms;
	const struct redis_handshake	*handshake;
	/* A refusal that waiting will not cure, before the first ready. */
	void				(*fatal)(void *arg, const char *why);
	void				*arg;
};

struct redis_conn *redis_conn_new(const struct redis_conn_params *);
void		 redis_conn_free(struct redis_conn *);
/* Ready, and for a call that may change the chat, not short. */
int		 redis_conn_ready(const struct redis_conn *, int changes);
/*
 * Sends cmd, a call to be answered by deadline: fn gets the reply, or
 * NULL.  While a connection is being made, the call waits for it, until
 * its deadline.  -1 (no call of fn) when it cannot go: no connection is
 * on its way, or the call may change the chat and the connection is
 * short of replicas.
 */
int		 redis_conn_send(struct redis_conn *, const struct redis_cmd *,
		    int changes, long long deadline, redis_link_fn *,
		    void *priv);
/*
 * The same, for a command in the protocol's bytes, NUL-terminated (hiredis
 * scans it for the command's name); it is copied.
 */
int		 redis_conn_send_formatted(struct redis_conn *, const char *cmd,
		    size_t len, int changes, long long deadline,
		    redis_link_fn *, void *priv);
/*
 * WAIT for the replicas, answered before deadline.  -1 (no call of fn)
 * when not ready or too late.  fn's reply goes to redis_conn_confirmed.
 */
int		 redis_conn_wait(struct redis_conn *, long long deadline,
		    redis_link_fn *, void *priv);
/*
 * Whether a WAIT's reply confirms the replicas; if not, or for NULL (no
 * reply in time), the connection is short from now on.
 */
int		 redis_conn_confirmed(struct redis_conn *, const redisReply *);
/*
 * Redis refuses every write for now (NOREPLICAS, MISCONF): an outage,
 * until redis_conn_wrote says a write went through.
 */
void		 redis_conn_refusing(struct redis_conn *, const char *why);
void		 redis_conn_wrote(struct redis_conn *);
/* A call failed for want of Redis: counted in the outage's line. */
void		 redis_conn_failed(struct redis_conn *);
/* The connection is the wrong one (READONLY, ...): made again. */
void		 redis_conn_drop(struct redis_conn *, const char *why);
/* Runs what is due at now; returns when it wants to run next, or -1. */
long long	 redis_conn_tick(struct redis_conn *, long long now);
/* "redis at HOST:PORT" or "redis master NAME", for the log. */
const char	*redis_conn_name(const struct redis_conn *);

/* What an error reply calls for. */
enum redis_error {
	REDIS_REFUSED,		/* the command is wrong: waiting will not help */
	REDIS_TRANSIENT,	/* loading, busy, out of memory: try again */
	REDIS_NOT_MASTER	/* READONLY and the like: find the master */
};
enum redis_error redis_error_kind(const redisReply *);
/* Whether an error reply carries this code ("READONLY ..."). */
int		 redis_error_is(const redisReply *, const char *code);

#endif
