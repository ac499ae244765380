/*
 * rpc_server.h - the server stubs and the dispatcher (PROTOCOL.md §2.3, §3.3).
 *
 * A request message (type + arguments, frame already removed) goes in, a
 * response message (results + error string) comes out.  Every request
 * gets a response of its call's shape: a malformed one gets empty results
 * and an error saying what was wrong; a message shorter than a type, or of
 * an unknown type, gets just an error string.  Rejected requests are
 * logged with the peer's address.
 *
 * A well-formed call goes to the store (store.h), which may answer later:
 * rpc_dispatch then returns 0, and done(call) runs once the response is
 * complete.  The request's bytes may be reused once rpc_dispatch returns.
 */
#ifndef RPCCHAT_RPC_SERVER_H
#define RPCCHAT_RPC_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "proto.h"
#include "span.h"
#include "store.h"

struct dispatch {
	struct store	*store;
	int64_t		 now_ms;
	/* For the log, formatted only when a line is written; may be NULL. */
	const struct sockaddr_storage *peer;
	int		 shutdown_allowed;	/* --allow-shutdown said yes */
	int		 shutdown_requested;	/* out: a Shutdown succeeded */
	/* A later answer: called once the response is in resp. */
	void		(*done)(struct dispatch *);

	/* The dispatcher's own, from rpc_dispatch to the answer. */
	struct buf	*resp;
	char		 user[USER_MAX];	/* for the log of a login */
	size_t		 userlen;
	int		 type;
	int		 pending;	/* the store has not answered yet */
	int		 dispatching;	/* inside rpc_dispatch */
	uint64_t	 tag;		/* tells this call from a stale one */
};

/*
 * Appends the response message for req to resp.  Returns 1 when it is
 * complete, 0 when the store answers later through call->done.
 */
int	rpc_dispatch(struct dispatch *, struct span req, struct buf *resp);
/* The caller gives up on a pending call (its connection closed). */
void	rpc_abandon(struct dispatch *);

#endif
