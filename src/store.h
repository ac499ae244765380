/*
 * store.h - where the chat state lives (PROTOCOL.md §7): in this process's
 * memory (store_memory.c, the default) or in Redis (store_redis.c),
 * chosen at start as Redis picks ae_epoll.c or ae_kqueue.c behind ae.h.
 *
 * A call is handed to the store with the request's arguments and
 * completes through a callback with the response's results (the wire
 * bytes before the error string) and the error text.  The memory store
 * calls back before store_call returns; the Redis store later, from the
 * event loop, so a connection waiting for its answer holds up no other.
 * A call that cannot reach the store, or passes its deadline, completes
 * with the error "store unavailable" and is never retried; the store
 * logs the outage, once, rather than the caller each call.
 *
 * Opening a store does no I/O: a Redis store connects from store_tick,
 * so the server listens first and a Redis that does not answer holds
 * nothing up.
 *
 * The caller has parsed the request (rpc_server.c); the stores apply the
 * stateless rules through rules.h and keep the rest of PROTOCOL.md §3-§4.
 */
#ifndef RPCCHAT_STORE_H
#define RPCCHAT_STORE_H

#include <stdint.h>

#include "chat_limits.h"
#include "span.h"

struct ae_loop;
struct chat;
struct store;

/* How long a call may wait for Redis before it fails. */
#define STORE_CALL_TIMEOUT_MS	2000

struct store_params {
	const char		*url;		/* "memory" or a Redis URL */
	struct chat_limits	 limits;
	int			 sync;		/* --store-sync: replicas */
	struct ae_loop		*loop;		/* for stores that do I/O */
	/* Called once per user the idle timeout logs out. */
	void			(*expired)(void *arg, struct span user);
	/*
	 * The store found it cannot serve this configuration (a Redis
	 * holding other limits): why, for the log; the server exits 1.
	 */
	void			(*fatal)(void *arg, const char *why);
	void			*arg;
};

/*
 * The completion of a call: results are the wire bytes before the error
 * string (a string list for List and CheckMessages, nothing otherwise).
 * tag is the caller's, passed back untouched; flags are STORE_* bits.
 */
typedef void store_done(void *arg, uint64_t tag, struct span results,
    struct span err, int flags);
/* flags: a Register of a name that was logged in already, for the log. */
#define STORE_REPLACED	1
/* "store unavailable" of an outage the store logs itself. */
#define STORE_OUTAGE	2

/* Whether url names a store, and which; -1 with what is wrong in err. */
int		 store_url_check(const char *url, char *err, size_t errlen);

/*
 * Opens the store the URL names.  NULL with the reason in err when the
 * URL is bad; a Redis that is unreachable is not a failure (calls fail
 * until it is back), and one that refuses this configuration calls
 * fatal later, from store_tick.
 */
struct store	*store_open(const struct store_params *, char *err,
		    size_t errlen);
/* What the store is, for the log: "memory", "redis at HOST:PORT", ... */
const char	*store_name(struct store *);
/* A memory store over a chat the caller keeps (tests, fuzzing). */
struct store	*store_memory_wrap(struct chat *);
void		 store_close(struct store *);

/* One call of type (MSG_REGISTER..MSG_QUIT) with its parsed arguments. */
void		 store_call(struct store *, int type, const struct span *args,
		    int64_t now_ms, store_done *, void *arg, uint64_t tag);
/*
 * Runs what is due at now_ms (idle logouts, call deadlines, reconnects);
 * returns when it wants to run next, or -1 for never.
 */
long long	 store_tick(struct store *, long long now_ms);

/* A backend: what store.c dispatches to. */
struct store_type {
	const char	*name;
	void		*(*open)(const struct store_params *, char *err,
			    size_t errlen);
	void		 (*close)(void *);
	void		 (*call)(void *, int type, const struct span *args,
			    int64_t now_ms, store_done *, void *arg,
			    uint64_t tag);
	long long	 (*tick)(void *, long long now_ms);
	const char	*(*describe)(void *);
};

extern const struct store_type store_memory_type;
extern const struct store_type store_redis_type;

#endif
