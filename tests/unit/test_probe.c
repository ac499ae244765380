/*
 * test_probe.c - what a List probe got back, classified without sockets
 * (PROTOCOL.md §6): a List response whose error string is empty or missing is
 * one; anything else is described in hex, never shown raw.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "probe.h"
#include "rpc_client.h"
#include "unit.h"

#define SPAN(lit)	((struct span){ (lit), sizeof(lit) - 1 })

/* PROTOCOL.md §2.4: List with alice and bob, frame removed. */
#define ALICE_BOB	"\x00\x02\x00\x05" "alice" "\x00\x03" "bob"

static int
classify(enum wire wire, struct span resp, struct rpc_strlist *users,
    struct buf *what)
{
	struct rpc_error none;
	int rc;

	rpc_error_init(&none);
	rc = probe_classify(wire, 0, &none, resp, users, what);
	rpc_error_free(&none);
	return rc;
}

static void
assert_what(struct buf *what, const char *want)
{
	assert_int_equal(what->len, strlen(want));
	assert_memory_equal(what->data, want, what->len);
}

static void
test_list_answers(void **state)
{
	static const enum wire wires[] = { WIRE_FRAMED, WIRE_UNFRAMED };
	struct rpc_strlist users;
	struct buf what = BUF_INIT;
	size_t i;

	rpc_strlist_init(&users);
	for (i = 0; i < 2; i++) {
		assert_int_equal(classify(wires[i], SPAN(ALICE_BOB "\x00\x00"),
		    &users, &what), 1);
		assert_int_equal(users.n, 2);
		assert_span(users.v[0], "alice");
		/* A sloppy server that forgets the error string. */
		assert_int_equal(classify(wires[i], SPAN(ALICE_BOB), &users,
		    &what), 1);
		assert_int_equal(users.n, 2);
		assert_int_equal(classify(wires[i], SPAN("\x00\x00\x00\x00"),
		    &users, &what), 1);
		assert_int_equal(users.n, 0);
	}
	rpc_strlist_free(&users);
	buf_free(&what);
}

static void
test_other_answers(void **state)
{
	struct rpc_strlist users;
	struct rpc_error err;
	struct buf what = BUF_INIT;

	rpc_strlist_init(&users);
	/* The 2023 server's 00 00 to the framed probe: an empty frame. */
	assert_int_equal(classify(WIRE_FRAMED, SPAN(""), &users, &what), 0);
	assert_what(&what, "2 bytes: 00 00");
	/* An error string is not a List, nor are extra bytes. */
	assert_int_equal(classify(WIRE_FRAMED, SPAN("\x00\x00\x00\x02no"),
	    &users, &what), 0);
	assert_int_equal(users.n, 0);
	assert_int_equal(classify(WIRE_FRAMED, SPAN(ALICE_BOB "\x00\x00"
	    "\x00\x00"), &users, &what), 0);
	assert_int_equal(users.n, 0);
	/* A framed List read unframed: the framed generation. */
	assert_int_equal(classify(WIRE_UNFRAMED, SPAN("\x00\x04\x00\x00\x00"
	    "\x00"), &users, &what), 0);
	assert_what(&what, "6 bytes: 00 04 00 00 00 00");
	/* Long answers are cut, control bytes never shown raw. */
	assert_int_equal(classify(WIRE_UNFRAMED, SPAN("\x1b[2J\x1b[2J\x1b[2J"
	    "\x1b[2J\x1b[2J"), &users, &what), 0);
	assert_what(&what, "20 bytes: 1b 5b 32 4a 1b 5b 32 4a 1b 5b 32 4a "
	    "1b 5b 32 4a ...");

	/* A call that failed is described by its error. */
	rpc_error_init(&err);
	buf_append(&err.msg, "closed without a response", 26);
	assert_int_equal(probe_classify(WIRE_FRAMED, -1, &err, SPAN(""),
	    &users, &what), 0);
	assert_what(&what, "closed without a response");
	rpc_error_free(&err);
	rpc_strlist_free(&users);
	buf_free(&what);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_answers),
		cmocka_unit_test(test_other_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
