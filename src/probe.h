/*
 * probe.h - which generation of the protocol a server speaks (PROTOCOL.md §6),
 * asked with a List: the one call that changes nothing on a server of
 * either generation.  (A framed Register of a 2-byte name reads, on an
 * unframed server, as a Shutdown: never probe with Register.)
 *
 * The List is sent on one wire and followed by a write shutdown, so a
 * server of the other generation, still waiting for the rest of what it
 * takes for a longer request, sees the request end and answers or closes
 * at once.  Its users serve the duplicate-name check (PROTOCOL.md §5.4) too.
 */
#ifndef RPCCHAT_PROBE_H
#define RPCCHAT_PROBE_H

#include "buf.h"
#include "proto.h"
#include "rpc_client.h"
#include "span.h"

/*
 * Whether what a List sent on wire got back is a List response: rc and
 * err are the call's outcome (rpc_call.h), resp the response
 * message.  1: a List response whose error string is empty or missing,
 * its users in *users.  0: anything else, described for people in what
 * (no raw bytes: a hex dump).  Pure.
 */
int	probe_classify(enum wire, int rc, const struct rpc_error *err,
	    struct span resp, struct rpc_strlist *users, struct buf *what);

#endif
