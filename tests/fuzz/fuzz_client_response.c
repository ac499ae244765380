/*
 * fuzz_client_response.c - the client's response parsing (rpc_parse_response)
 * on arbitrary bytes, for every call type, strict and tolerant, and the
 * wire probe's classification of a List answer (probe_classify).
 *
 * Strictly, a response parses only when it is the call's shape with
 * nothing left over.  Tolerantly (PROTOCOL.md §5.3), results that parse are
 * used when the error string is missing (not for an empty response) or is
 * followed by extra bytes, and the sloppiness is reported exactly.  When it
 * parses, the list re-encodes to the bytes it came from and the strings live in
 * the list's own storage.  A failure is a protocol error (bad shape) or a
 * server error (a non-empty error string), and its message is one printable
 * line, whatever bytes the server sent.  A type no call has is refused whatever
 * the bytes.  The probe takes a List exactly when the tolerant parse succeeds
 * without extra bytes (and, unframed, the answer is not a framed one), and
 * describes anything else in printable text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "codec.h"
#include "probe.h"
#include "proto.h"
#include "rpc_client.h"

static void
fail(unsigned type, const char *what)
{
	fprintf(stderr, "fuzz_client_response: type %u: %s\n", type, what);
	abort();
}

/* What the response holds, read with the codec alone. */
struct shape {
	int		 ok;		/* usable: strict or tolerated shape */
	struct span	*v;
	size_t		 n;
	struct span	 err;
	enum rpc_sloppy	 sloppy;
	size_t		 extra;
};

static void
expected_shape(unsigned type, struct span in, int strict, struct shape *sh)
{
	memset(sh, 0, sizeof *sh);
	if (in.len == 0)
		return;
	if (msg_type_has_list(type) && get_strlist(&in, &sh->v, &sh->n) == -1)
		return;
	if (in.len == 0) {
		sh->ok = !strict;
		sh->sloppy = RPC_NO_ERROR_STRING;
		return;
	}
	if (get_str(&in, &sh->err) == -1)
		return;
	if (in.len != 0) {
		if (strict)
			return;
		sh->sloppy = RPC_EXTRA_BYTES;
		sh->extra = in.len;
	}
	sh->ok = 1;
}

static void
check_message(unsigned type, const struct rpc_error *err)
{
	size_t i;

	if (err->msg.len == 0 || err->msg.data == NULL)
		fail(type, "a failure without a message");
	if (memchr(err->msg.data, '\0', err->msg.len) != NULL ||
	    err->msg.data[err->msg.len] != '\0')
		fail(type, "message not NUL-terminated text");
	for (i = 0; i < err->msg.len; i++) {
		unsigned char c = (unsigned char)err->msg.data[i];

		if (c < 0x20 || c == 0x7f)
			fail(type, "a control character in the message");
	}
}

static void
check_type(unsigned type, struct span in, int with_list, int strict)
{
	struct rpc_strlist list;
	struct rpc_error err;
	struct shape sh;
	struct buf enc = BUF_INIT;
	const char *lo, *hi;
	size_t i;
	int r;

	rpc_strlist_init(&list);
	rpc_error_init(&err);
	expected_shape(type, in, strict, &sh);
	r = rpc_parse_response(type, in, strict, with_list ? &list : NULL,
	    &err);
	if (type < MSG_NTYPES && sh.ok && (err.sloppy != sh.sloppy ||
	    err.extra != sh.extra))
		fail(type, "sloppiness not reported as it is");

	if (type >= MSG_NTYPES) {
		/* No call has this type: nothing can be its response. */
		if (r != -1 || err.status != RPC_ERR_PROTO)
			fail(type, "parsed a response of an unknown call");
		check_message(type, &err);
	} else if (r == 0) {
		if (!sh.ok || sh.err.len != 0)
			fail(type, "accepted a response that is not a success");
		if (err.status != RPC_OK)
			fail(type, "success with a status");
	} else if (r == -1) {
		if (sh.ok && sh.err.len == 0)
			fail(type, "refused a well-formed success");
		if (err.status != (sh.ok ? RPC_ERR_SERVER : RPC_ERR_PROTO))
			fail(type, "wrong status for the failure");
		check_message(type, &err);
	} else
		fail(type, "returned neither 0 nor -1");

	if (r == 0 && type < MSG_NTYPES && with_list &&
	    msg_type_has_list(type)) {
		if (list.n != sh.n)
			fail(type, "list count differs from the wire");
		lo = list.storage.data;
		hi = lo + list.storage.len;
		for (i = 0; i < list.n; i++) {
			if (!span_eq(list.v[i], sh.v[i]))
				fail(type, "list element differs from the wire");
			if (list.v[i].len > 0 && (list.v[i].p < lo ||
			    list.v[i].p > hi ||
			    (size_t)(hi - list.v[i].p) < list.v[i].len))
				fail(type, "list element outside its storage");
		}
		if (put_strlist(&enc, list.v, list.n) == -1 ||
		    enc.len > in.len || memcmp(enc.data, in.p, enc.len))
			fail(type, "list does not re-encode to its bytes");
	}
	buf_free(&enc);
	free(sh.v);
	rpc_strlist_free(&list);
	rpc_error_free(&err);
}

static void
check_probe(enum wire wire, struct span in)
{
	struct rpc_strlist users, want;
	struct rpc_error err;
	struct buf what = BUF_INIT;
	size_t i;
	int r, list;

	rpc_strlist_init(&users);
	rpc_strlist_init(&want);
	rpc_error_init(&err);
	list = rpc_parse_response(MSG_LIST, in, 0, &want, &err) == 0 &&
	    err.sloppy != RPC_EXTRA_BYTES &&
	    !(wire == WIRE_UNFRAMED && rpc_looks_framed(MSG_LIST, in));
	r = probe_classify(wire, 0, &err, in, &users, &what);
	if (r != list)
		fail(MSG_LIST, "probe disagrees with the tolerant parse");
	if (r == 1 && users.n != want.n)
		fail(MSG_LIST, "probe lost users");
	if (r == 0) {
		if (users.n != 0 || what.len == 0)
			fail(MSG_LIST, "probe failure without a description");
		for (i = 0; i < what.len; i++)
			if ((unsigned char)what.data[i] < 0x20 ||
			    (unsigned char)what.data[i] >= 0x7f)
				fail(MSG_LIST, "probe shows raw bytes");
	}
	buf_free(&what);
	rpc_strlist_free(&users);
	rpc_strlist_free(&want);
	rpc_error_free(&err);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span in = { (const char *)data, size };
	unsigned type;

	for (type = 0; type <= MSG_NTYPES; type++) {
		check_type(type, in, 1, 0);
		check_type(type, in, 0, 0);
		check_type(type, in, 1, 1);
		check_type(type, in, 0, 1);
	}
	check_probe(WIRE_FRAMED, in);
	check_probe(WIRE_UNFRAMED, in);
	return 0;
}
