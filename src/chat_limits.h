/*
 * chat_limits.h - the limits every store keeps (PROTOCOL.md §3.5, §4.4): what
 * the server's options set, and the fixed charges of the byte budget.  Its own
 * header so that the server, the stores and the command line share them without
 * depending on the in-memory chat.
 */
#ifndef RPCCHAT_CHAT_LIMITS_H
#define RPCCHAT_CHAT_LIMITS_H

#include <stddef.h>
#include <stdint.h>

struct chat_limits {
	size_t		max_users;	/* Register refused beyond; 0 = only §4.3 */
	size_t		queue_limit;	/* per private queue and log (>= 1) */
	int64_t		idle_timeout_ms; /* log out users who stop polling; 0 = never */
	size_t		max_memory;	/* byte budget (§4.4); 0 = the default */
};

#define CHAT_DEFAULT_QUEUE_LIMIT	10000
#define CHAT_DEFAULT_IDLE_TIMEOUT_MS	(300 * 1000)
#define CHAT_DEFAULT_MAX_MEMORY		((size_t)256 << 20)
#define CHAT_MIN_MAX_MEMORY		((size_t)4 << 20)
/*
 * The charges of PROTOCOL.md §4.4, the same in every store: a stored message
 * costs its text plus CHAT_MSG_CHARGE, an account (a user logged in, or a
 * sender whose messages are still stored) its name plus CHAT_USER_CHARGE.
 */
#define CHAT_MSG_CHARGE			192
#define CHAT_USER_CHARGE		128

/*
 * The limits as every store keeps them: a queue limit or byte budget of 0
 * is the default, a budget below CHAT_MIN_MAX_MEMORY that minimum, a
 * negative idle timeout 0.
 */
void		 chat_limits_settle(struct chat_limits *);
#endif
