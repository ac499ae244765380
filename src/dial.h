/*
 * dial.h - connecting to one of a host's addresses as RFC 8305 (Happy
 * Eyeballs) says, without blocking (PROTOCOL.md §5.3).
 *
 * The addresses are tried in an order that alternates the families,
 * starting with the family of the first; an attempt starts DIAL_DELAY_MS
 * after the previous one, or at once when the previous one failed, while
 * the earlier ones keep running; the first to connect wins and the others
 * are closed.  So a family whose packets vanish costs a quarter second,
 * not the call's deadline.  The caller polls dial_pollfds, calls
 * dial_step, and owns the deadline.
 */
#ifndef RPCCHAT_DIAL_H
#define RPCCHAT_DIAL_H

#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <netdb.h>

/* "Connection Attempt Delay", RFC 8305 §5. */
#define DIAL_DELAY_MS	250
/* Attempts in flight at once, and addresses kept from a lookup. */
#define DIAL_MAX	8
#define DIAL_ADDRS_MAX	16

struct dial_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

struct dial {
	const struct dial_addr	*addrs;		/* the caller's, in order */
	size_t			 naddrs;
	size_t			 next;		/* the next one to try */
	struct {
		int	 fd;
		size_t	 addr;
	}			 tries[DIAL_MAX];
	size_t			 ntries;
	long long		 next_at;	/* when to start another */
	int			 last_errno;	/* of the last failure */
	int			 fd;		/* the winner, once connected */
	size_t			 won;		/* its index in addrs */
};

/*
 * Copies up to DIAL_ADDRS_MAX addresses of res into out in the order of
 * RFC 8305 §4: families alternating, starting with the first one's.
 * Returns how many.
 */
size_t	dial_order(const struct addrinfo *res, struct dial_addr *out);

void	dial_start(struct dial *, const struct dial_addr *, size_t n);
/* The sockets to poll (POLLOUT); at most DIAL_MAX. */
size_t	dial_pollfds(const struct dial *, struct pollfd *, size_t max);
/* When dial_step must run again even if nothing is ready, or -1. */
long long dial_next_at(const struct dial *);
/*
 * Goes on from what poll said (pfd as filled by dial_pollfds, n of them;
 * NULL/0 when only time passed).  1: connected, the socket is d->fd (non-
 * blocking, now the caller's) and d->won its address; 0: not yet; -1:
 * every address failed, errno-style cause in d->last_errno.
 */
int	dial_step(struct dial *, const struct pollfd *pfd, size_t n);
/* Closes the attempts still running. */
void	dial_cancel(struct dial *);

#endif
