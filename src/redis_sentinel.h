/*
 * redis_sentinel.h - where the master is, as Redis Sentinel says
 * (PROTOCOL.md §7, --store redis-sentinel://).
 *
 * Asking sends SENTINEL GET-MASTER-ADDR-BY-NAME to every Sentinel of the
 * URL at once; the first address that comes back is the answer, so one
 * Sentinel that is down or frozen costs nothing.  The Sentinel that gave
 * it is then watched: its +switch-master message for our master (a
 * failover done) is an answer too.  When that watch is lost, the
 * Sentinels are asked again by themselves, a little later, so that a
 * failover is still heard of while the master's connection stays up.
 *
 * An answer is only what a Sentinel believes: the caller asks the
 * address itself (ROLE) before sending it anything that writes.
 */
#ifndef RPCCHAT_REDIS_SENTINEL_H
#define RPCCHAT_REDIS_SENTINEL_H

#include <stddef.h>

#include "redis_url.h"

struct ae_loop;
struct redis_sentinel;

/* How long a Sentinel has to connect and answer. */
#define SENTINEL_TIMEOUT_MS	1000

enum sentinel_news {
	SENTINEL_NONE,		/* nothing new */
	SENTINEL_FOUND,		/* the master is at *master */
	SENTINEL_FAILED		/* no Sentinel said, *why says why */
};

struct redis_sentinel *redis_sentinel_new(struct ae_loop *,
		    const struct redis_url *);
void		 redis_sentinel_free(struct redis_sentinel *);
/* Asks every Sentinel (unless a round is under way already). */
void		 redis_sentinel_ask(struct redis_sentinel *, long long now);
/*
 * Runs the Sentinels' deadlines and says what is new.  FAILED only ever
 * answers redis_sentinel_ask; the rounds it starts by itself fail
 * silently and are tried again.  *next gets when to call again (-1: on
 * the next event).
 */
enum sentinel_news redis_sentinel_tick(struct redis_sentinel *, long long now,
		    struct redis_addr *master, char *why, size_t whylen,
		    long long *next);

#endif
