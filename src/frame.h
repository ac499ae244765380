/*
 * frame.h - where a request ends, on either wire.
 *
 * Framed (PROTOCOL.md §2.2): a u16 length, then that many bytes of message.
 * Unframed (PROTOCOL.md §6): no length; the request ends when the type and all
 * of its string arguments have arrived, so it is parsed field by field as the
 * bytes come in.  Both give the dispatcher the same request message, so one set
 * of server stubs serves both generations.
 */
#ifndef RPCCHAT_FRAME_H
#define RPCCHAT_FRAME_H

#include <stddef.h>

#include "buf.h"
#include "proto.h"
#include "span.h"

enum frame_status {
	FRAME_INCOMPLETE,	/* read at least *need bytes in all, then ask again */
	FRAME_COMPLETE,		/* *msg is the request message */
	FRAME_BAD		/* drop the connection; why says it */
};

#define FRAME_WHY_LEN	80

enum frame_status	frame_request(enum wire, struct span in,
			    struct span *msg, size_t *need, char *why);

/*
 * Whether in, what a connection has sent, is exactly one whole request of
 * the other wire and not one of this wire: a client of the other
 * generation (PROTOCOL.md §6).  For the log only: the response does not change.
 */
int	frame_other_wire(enum wire, struct span in);

/*
 * Whether input may follow the request msg found in in: bytes past it, or
 * a last read that filled all it asked for.  Then the response must end
 * in a lingering close (anet.h), not in a close() that sends a reset.
 */
int	frame_input_follows(struct span in, struct span msg, int read_filled);

/*
 * Response framing: frame_begin reserves the prefix before the stubs
 * append the message, frame_end fills it in.  frame_end returns -1 if the
 * message does not fit a frame (the stubs guarantee it does).
 */
void	frame_begin(enum wire, struct buf *out);
int	frame_end(enum wire, struct buf *out);

#endif
