/* frame.c - request boundaries and response prefixes (see frame.h). */
#include <stdio.h>

#include "codec.h"
#include "frame.h"

static enum frame_status
framed_request(struct span in, struct span *msg, size_t *need)
{
	struct span rest = in;
	uint16_t len;

	if (get_u16(&rest, &len) == -1) {
		*need = 2;
		return FRAME_INCOMPLETE;
	}
	if (rest.len < len) {
		*need = 2 + (size_t)len;
		return FRAME_INCOMPLETE;
	}
	msg->p = rest.p;
	msg->len = len;
	return FRAME_COMPLETE;
}

static enum frame_status
unframed_request(struct span in, struct span *msg, size_t *need, char *why)
{
	struct span rest = in;
	uint16_t type, len;
	int i, nargs;

	if (get_u16(&rest, &type) == -1) {
		*need = 2;
		return FRAME_INCOMPLETE;
	}
	if ((nargs = msg_type_nargs(type)) == -1) {
		/* What the reference server of that generation logs. */
		snprintf(why, FRAME_WHY_LEN,
		    "dispatch: message type out of range: %u", type);
		return FRAME_BAD;
	}
	for (i = 0; i < nargs; i++) {
		if (get_u16(&rest, &len) == -1) {
			*need = in.len - rest.len + 2;
			break;
		}
		if (rest.len < len) {
			*need = in.len - rest.len + len;
			break;
		}
		rest.p += len;
		rest.len -= len;
	}
	if (i < nargs) {
		if (*need > UNFRAMED_REQUEST_MAX) {
			snprintf(why, FRAME_WHY_LEN,
			    "request longer than %u bytes", UNFRAMED_REQUEST_MAX);
			return FRAME_BAD;
		}
		return FRAME_INCOMPLETE;
	}
	msg->p = in.p;
	msg->len = in.len - rest.len;
	return FRAME_COMPLETE;
}

enum frame_status
frame_request(enum wire wire, struct span in, struct span *msg, size_t *need,
    char *why)
{
	if (wire == WIRE_UNFRAMED)
		return unframed_request(in, msg, need, why);
	return framed_request(in, msg, need);
}

/* A known type followed by exactly its arguments. */
static int
whole_message(struct span m)
{
	struct span arg;
	uint16_t type;
	int i, nargs;

	if (get_u16(&m, &type) == -1 || (nargs = msg_type_nargs(type)) == -1)
		return 0;
	for (i = 0; i < nargs; i++)
		if (get_str(&m, &arg) == -1)
			return 0;
	return m.len == 0;
}

static int
whole_request(enum wire wire, struct span in)
{
	uint16_t len;

	if (wire == WIRE_UNFRAMED)
		return whole_message(in);
	return get_u16(&in, &len) == 0 && len == in.len && whole_message(in);
}

int
frame_other_wire(enum wire wire, struct span in)
{
	enum wire other = wire == WIRE_FRAMED ? WIRE_UNFRAMED : WIRE_FRAMED;

	return whole_request(other, in) && !whole_request(wire, in);
}

int
frame_input_follows(struct span in, struct span msg, int read_filled)
{
	return read_filled || msg.p + msg.len < in.p + in.len;
}

void
frame_begin(enum wire wire, struct buf *out)
{
	if (wire == WIRE_FRAMED)
		put_u16(out, 0);
}

int
frame_end(enum wire wire, struct buf *out)
{
	size_t len;

	if (wire == WIRE_UNFRAMED)
		return 0;
	len = out->len - 2;
	if (len > FRAME_MAX)
		return -1;
	out->data[0] = (char)(len >> 8);
	out->data[1] = (char)len;
	return 0;
}
