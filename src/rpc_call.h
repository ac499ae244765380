/*
 * rpc_call.h - one call (PROTOCOL.md §2.2) as a state machine that never
 * blocks: resolve -> connect -> write -> read, each step taken when poll() says
 * its descriptor is ready, all of it within one deadline.  The client's loop
 * polls a call's descriptors together with the terminal and the signals, so its
 * user is served between any two steps (PROTOCOL.md §5.3); the blocking stubs
 * of rpc_client.h run the same machine in a poll loop of their own.
 */
#ifndef RPCCHAT_RPC_CALL_H
#define RPCCHAT_RPC_CALL_H

#include <poll.h>

#include "anet.h"
#include "dial.h"
#include "rpc.h"

/*
 * What a session knows of its server between calls: the addresses of the
 * last lookup, the one that connected last put first.  Forgotten when a
 * connect fails, so the next call looks the name up again.  A lookup a
 * call gave up on is kept for the next call to wait on, rather than a
 * new one started: a resolver that never answers costs one thread, not
 * one per call.
 */
struct rpc_peer {
	struct dial_addr	 addrs[DIAL_ADDRS_MAX];
	size_t			 naddrs;	/* 0: look the name up */
	struct resolve		*lookup;	/* still running, or NULL */
};

/* Zeroed is initialised; free abandons a lookup still running. */
void	rpc_peer_free(struct rpc_peer *);
/* The addresses of a lookup, in the order they are raced; frees res. */
void	rpc_peer_use(struct rpc_peer *, struct addrinfo *res);

enum rpc_call_state {
	CALL_IDLE,
	CALL_RESOLVING,
	CALL_CONNECTING,
	CALL_WRITING,
	CALL_READING,
	CALL_DONE
};

/* Descriptors a call may ask to poll at once. */
#define RPC_CALL_FDS_MAX	DIAL_MAX

struct rpc_call {
	enum rpc_call_state	 state;
	struct rpc_target	 srv;		/* a copy; host/port borrowed */
	struct rpc_peer		*peer;		/* srv.peer, or own */
	/*
	 * Made at the first call without srv.peer: a thousand web sessions
	 * share their target's, and 2 KiB each of addresses would go unused.
	 */
	struct rpc_peer		*own;
	char			 server[ANET_ADDR_LEN + 16];	/* for people */
	int			 timeout_ms;
	long long		 deadline;

	struct resolve		*lookup;
	struct dial		 dial;
	int			 fd;
	struct buf		 out;		/* the request, framed */
	size_t			 sent;
	int			 in_header;	/* reading the frame length */
	size_t			 want;		/* bytes of resp wanted; 0: EOF */

	/* The outcome, once CALL_DONE. */
	int			 rc;		/* 0, or -1 with err */
	struct buf		 resp;		/* the response message */
	struct rpc_error	 err;
};

void	rpc_call_init(struct rpc_call *);
/*
 * Starts sending the request message req (type + arguments, unframed) to
 * srv with srv->timeout_ms for all of it.  Any call already running is
 * cancelled first.  The call may be CALL_DONE at once (a request too
 * large to send).
 */
void	rpc_call_start(struct rpc_call *, const struct rpc_target *,
	    const struct buf *req);
/* Whether a call is running (started and not yet done). */
int	rpc_call_busy(const struct rpc_call *);
/* The descriptors to poll; at most max (RPC_CALL_FDS_MAX is enough). */
size_t	rpc_call_pollfds(const struct rpc_call *, struct pollfd *, size_t max);
/* Milliseconds until rpc_call_step must run even if nothing is ready. */
int	rpc_call_wait_ms(const struct rpc_call *);
/*
 * Goes on from what poll() said about the descriptors rpc_call_pollfds
 * gave (n of them, in that order).  Returns 1 when the call has just
 * become CALL_DONE.
 */
int	rpc_call_step(struct rpc_call *, const struct pollfd *, size_t n);
/* Brings the deadline forward to at most ms from now. */
void	rpc_call_cut_deadline(struct rpc_call *, int ms);
/* Stops a running call (closing what it holds); back to CALL_IDLE. */
void	rpc_call_cancel(struct rpc_call *);
void	rpc_call_free(struct rpc_call *);

#endif
