/*
 * chat.h - the chat state: who is logged in and what each has not yet read
 * (PROTOCOL.md §3.1-3.3, §4).  Plain data and functions: no I/O, no clock, no
 * sockets.  The caller passes the time in and writes the bytes out.
 *
 * Every call takes the raw strings of a request and answers with the exact
 * texts of PROTOCOL.md §3.2-3.3: a non-empty error (appended to *err) means the
 * call failed and changed nothing.
 *
 * Broadcasts cost O(1) in the number of users: a Say stores its text once
 * in a shared log that every user reads from its own position; Tells and
 * other private notices go to a per-user queue; CheckMessages merges the
 * two in arrival order.  Log entries are freed once every user has read
 * or dropped them.
 *
 * The log and each private queue hold at most queue_limit messages, and
 * all stored state is charged against a byte budget by the fixed formula
 * of PROTOCOL.md §4.4 (chat_limits.h); when either would be exceeded, the
 * oldest messages of the sender with the most there are dropped first.
 * The exact policy, which a shared store must mirror, and the storage
 * that keeps the process's memory within 1.25 times the budget whatever
 * the calls are written at the top of chat.c.
 */
#ifndef RPCCHAT_CHAT_H
#define RPCCHAT_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "chat_limits.h"
#include "span.h"

struct chat;

struct chat	*chat_new(const struct chat_limits *);
void		 chat_free(struct chat *);

/*
 * Each call returns 0 on success and -1 with the error text appended to
 * *err on failure.  "now" is a monotonic time in milliseconds, used for
 * the idle timeout.
 */
int	chat_register(struct chat *, struct span user, int64_t now,
	    struct buf *err);
/* Appends the logged-in users, sorted by bytes, as a wire string list. */
void	chat_list(struct chat *, struct buf *out);
/*
 * Appends the user's pending messages as a wire string list: the longest
 * prefix of the queue (after a "*** N messages were dropped" line when
 * some were) whose response - this list plus an empty error string - fits
 * in one frame (PROTOCOL.md §4.2).  Delivered messages leave the queue.  For a
 * valid name not logged in it appends the one-element list "*** You are
 * not logged in, USER" and succeeds; for an invalid name it appends an
 * empty list and fails with "CheckMessages: invalid user name".
 */
int	chat_check_messages(struct chat *, struct span user, int64_t now,
	    struct buf *out, struct buf *err);
int	chat_tell(struct chat *, struct span user, struct span target,
	    struct span message, struct buf *err);
int	chat_say(struct chat *, struct span user, struct span message,
	    struct buf *err);
int	chat_quit(struct chat *, struct span user, struct buf *err);

/*
 * Logs out, as Quit would, every user idle for the idle timeout at "now",
 * calling expired(arg, name) for each before it is removed.  Returns how
 * many were logged out.
 */
size_t	chat_expire_idle(struct chat *, int64_t now,
	    void (*expired)(void *arg, struct span user), void *arg);
/* When the next user falls idle (ms, monotonic); INT64_MAX if never. */
int64_t	chat_next_expiry(const struct chat *);

size_t	chat_nusers(const struct chat *);
/* Whether the user is logged in. */
int	chat_logged_in(const struct chat *, struct span user);
/* Bytes charged against the budget now, and the budget. */
size_t	chat_charged(const struct chat *);
size_t	chat_budget(const struct chat *);
/* Messages evicted for the budget since the start (for tests and logs). */
uint64_t chat_evicted(const struct chat *);
/*
 * Bytes the chat's objects take in memory now, and in *mapped (unless
 * NULL) the bytes its pool holds: the most they ever took, in whole
 * pages.  For tests and benchmarks.
 */
size_t	chat_memory(const struct chat *, size_t *mapped);
/*
 * Messages the user would be given (dropped ones excluded): at most
 * twice the queue limit, its private queue and the log.  0 if absent.
 */
size_t	chat_pending(const struct chat *, struct span user);
/*
 * Checks the internal invariants (every queue within its limit, the user
 * list sorted and unique, the log's readers counted where they stand,
 * List within one frame, every chunk of memory paid for by the charges);
 * returns NULL or a description of the first one broken.  For tests and
 * fuzzing.
 */
const char *chat_check_invariants(const struct chat *);

#endif
