/*
 * test_frame.c - telling a client of the other wire generation from a
 * malformed request (PROTOCOL.md §6), for the server's log: only what is
 * exactly one whole request of the other wire, and not one of ours, counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "frame.h"

#define SPAN(lit)	((struct span){ (lit), sizeof(lit) - 1 })

static void
test_unframed_on_framed(void **state)
{
	/* Unframed Register, List, CheckMessages, Shutdown. */
	assert_true(frame_other_wire(WIRE_FRAMED,
	    SPAN("\x00\x00\x00\x05" "alice")));
	assert_true(frame_other_wire(WIRE_FRAMED, SPAN("\x00\x01")));
	assert_true(frame_other_wire(WIRE_FRAMED, SPAN("\x00\x02\x00\x03"
	    "bob")));
	assert_true(frame_other_wire(WIRE_FRAMED, SPAN("\x00\x06")));
	/* Ours, or not a request of either wire. */
	assert_false(frame_other_wire(WIRE_FRAMED, SPAN("\x00\x02\x00\x01")));
	assert_false(frame_other_wire(WIRE_FRAMED,
	    SPAN("\x00\x09\x00\x00\x00\x05" "alice")));
	assert_false(frame_other_wire(WIRE_FRAMED, SPAN("")));
	assert_false(frame_other_wire(WIRE_FRAMED, SPAN("\x00\x09")));
	assert_false(frame_other_wire(WIRE_FRAMED, SPAN("\x00\x00\x00\x05"
	    "alic")));
	assert_false(frame_other_wire(WIRE_FRAMED, SPAN("\x00\x01" "x")));
}

static void
test_framed_on_unframed(void **state)
{
	assert_true(frame_other_wire(WIRE_UNFRAMED,
	    SPAN("\x00\x09\x00\x00\x00\x05" "alice")));
	assert_true(frame_other_wire(WIRE_UNFRAMED, SPAN("\x00\x02\x00\x01")));
	/* Framed Register of a 2-byte name: unframed, a Shutdown. */
	assert_true(frame_other_wire(WIRE_UNFRAMED,
	    SPAN("\x00\x06\x00\x00\x00\x02" "ab")));
	assert_false(frame_other_wire(WIRE_UNFRAMED, SPAN("\x00\x01")));
	assert_false(frame_other_wire(WIRE_UNFRAMED,
	    SPAN("\x00\x00\x00\x05" "alice")));
	/* Both at once (an empty Say, framed, of two empty strings). */
	assert_false(frame_other_wire(WIRE_UNFRAMED,
	    SPAN("\x00\x04\x00\x00\x00\x00")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unframed_on_framed),
		cmocka_unit_test(test_framed_on_unframed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
