/*
 * rpc_server.h - the server stubs and the dispatcher (SPEC §2.3, §3.3).
 *
 * A request message (type + arguments, frame already removed) goes in, a
 * response message (results + error string) comes out.  Every request
 * gets a response of its call's shape: a malformed one gets empty results
 * and an error saying what was wrong; a message shorter than a type, or of
 * an unknown type, gets just an error string.  Rejected requests are
 * logged with the peer's address.
 */
#ifndef RPCCHAT_RPC_SERVER_H
#define RPCCHAT_RPC_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "chat.h"
#include "codec.h"

struct rpc_call {
	struct chat	*chat;
	int64_t		 now_ms;
	/* For the log, formatted only when a line is written; may be NULL. */
	const struct sockaddr_storage *peer;
	int		 shutdown_allowed;	/* --allow-shutdown said yes */
	int		 shutdown_requested;	/* out: a Shutdown succeeded */
};

/* Appends the response message for req to resp. */
void	rpc_dispatch(struct rpc_call *, struct span req, struct buf *resp);

#endif
