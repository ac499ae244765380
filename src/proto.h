/*
 * proto.h - the numbers of the rpcchat protocol (PROTOCOL.md §2, §4, §6).
 */
#ifndef RPCCHAT_PROTO_H
#define RPCCHAT_PROTO_H

#include <stddef.h>

enum msg_type {
	MSG_REGISTER = 0,
	MSG_LIST,
	MSG_CHECK_MESSAGES,
	MSG_TELL,
	MSG_SAY,
	MSG_QUIT,
	MSG_SHUTDOWN,
	MSG_NTYPES
};

/* How requests and responses are delimited on a connection. */
enum wire {
	WIRE_FRAMED,		/* u16 length prefixes, PROTOCOL.md §2.2 */
	WIRE_UNFRAMED		/* no prefix, EOF ends, PROTOCOL.md §6 */
};

#define U16_MAX			65535u
/* Largest frame body, request or response. */
#define FRAME_MAX		U16_MAX
/*
 * Longest delivered message: it must fit alone in a CheckMessages
 * response, count (2) + its length (2) + empty error (2) around it.
 */
#define TEXT_MAX		(FRAME_MAX - 6)
/* Longest user name, in bytes. */
#define USER_MAX		20
/* Unframed request: type + payload bounded like a frame body (PROTOCOL.md §6).
 */
#define UNFRAMED_REQUEST_MAX	(FRAME_MAX + 2)
/* Largest unframed response a client accepts (PROTOCOL.md §6). */
#define UNFRAMED_RESPONSE_MAX	(16u << 20)

/* "Register", "List", ...; NULL for an unknown type. */
const char	*msg_type_name(unsigned type);
/* Number of string arguments a request of this type carries. */
int		 msg_type_nargs(unsigned type);
/* Whether the response carries a string list before the error. */
int		 msg_type_has_list(unsigned type);
const char	*wire_name(enum wire);

#endif
