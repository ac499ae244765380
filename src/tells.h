/*
 * tells.h - our Tells whose answer may still come as a message
 * (PROTOCOL.md §3.2, §5.4).  A Tell to a user who does not exist succeeds,
 * and the server queues "*** No such user: NAME" for the sender: that
 * message, matched to our Tells in the order they were sent, is the Tell
 * failing.
 *
 * Each Tell that succeeded waits here until a message answers it, or
 * until a CheckMessages begun after the Tell's response came back whole
 * without one: the server queues the notice before it answers the Tell,
 * so that CheckMessages would have carried it, and the Tell reached a
 * user.  CheckMessages are numbered as they begin, from 1.
 *
 * At most TELLS_MAX wait (the oldest is then taken as answered well).
 * Plain data: no I/O.
 */
#ifndef RPCCHAT_TELLS_H
#define RPCCHAT_TELLS_H

#include <stddef.h>

#include "span.h"

#define TELLS_MAX	1024

struct tell {
	char			*notice;	/* what would answer it */
	size_t			 len;
	unsigned long long	 polls;		/* CheckMessages begun before
						   its response */
};

struct tells {
	struct tell	*v;		/* in the order sent */
	size_t		 n, cap;
};

void	tells_init(struct tells *);
void	tells_free(struct tells *);
/* A Tell to target succeeded when polls CheckMessages had begun. */
void	tells_sent(struct tells *, struct span target,
	    unsigned long long polls);
/*
 * Whether message answers a waiting Tell (the oldest it can answer,
 * which stops waiting).
 */
int	tells_answered(struct tells *, struct span message);
/*
 * CheckMessages number poll came back whole: the Tells sent before it
 * began are answered well.
 */
void	tells_settle(struct tells *, unsigned long long poll);

#endif
