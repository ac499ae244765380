/* probe.c - the wire generation of a server, found with a List (probe.h). */
#include <string.h>

#include "codec.h"
#include "probe.h"

/* Bytes of an unexpected answer shown to people. */
#define SHOW_BYTES	16

static void
hex_dump(struct buf *what, struct span s)
{
	size_t i;

	for (i = 0; i < s.len && i < SHOW_BYTES; i++)
		buf_appendf(what, " %02x", (unsigned char)s.p[i]);
	if (s.len > SHOW_BYTES)
		buf_appendf(what, " ...");
}

int
probe_classify(enum wire wire, int rc, const struct rpc_error *err,
    struct span resp, struct rpc_strlist *users, struct buf *what)
{
	struct rpc_error perr;
	struct buf shown = BUF_INIT;
	int ok;

	buf_clear(what);
	if (rc == -1) {
		buf_appendf(what, "%s", err->msg.data != NULL ?
		    err->msg.data : "failed");
		return 0;
	}
	rpc_error_init(&perr);
	ok = !(wire == WIRE_UNFRAMED && rpc_looks_framed(MSG_LIST, resp)) &&
	    rpc_parse_response(MSG_LIST, resp, 0, users, &perr) == 0 &&
	    perr.sloppy != RPC_EXTRA_BYTES;
	rpc_error_free(&perr);
	if (ok)
		return 1;
	rpc_strlist_free(users);
	/* What came on the wire, the frame's length included. */
	if (wire == WIRE_FRAMED)
		put_u16(&shown, resp.len > U16_MAX ? U16_MAX : resp.len);
	buf_append(&shown, resp.p, resp.len);
	buf_appendf(what, "%zu byte%s:", shown.len, shown.len == 1 ? "" : "s");
	hex_dump(what, (struct span){ shown.data, shown.len });
	buf_free(&shown);
	return 0;
}
