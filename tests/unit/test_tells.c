/*
 * test_tells.c - a Tell to nobody fails by a notice, matched to our Tells
 * in order (PROTOCOL.md §3.2, §5.4).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto.h"
#include "tells.h"
#include "unit.h"

static int
answered(struct tells *t, const char *m)
{
	return tells_answered(t, span_cstr(m));
}

static void
test_matched_in_order(void **state)
{
	struct tells t;

	tells_init(&t);
	tells_sent(&t, SPAN_LIT("nobody"), 0);
	tells_sent(&t, SPAN_LIT("bob"), 0);
	tells_sent(&t, SPAN_LIT("nobody"), 1);
	assert_int_equal(t.n, 3);
	/* Not an answer: the text must be the server's, whole. */
	assert_false(answered(&t, "*** No such user: nobod"));
	assert_false(answered(&t, "bob says *** No such user: nobody"));
	assert_true(answered(&t, "*** No such user: nobody"));
	/* The oldest one went; bob's and the second nobody's wait. */
	assert_int_equal(t.n, 2);
	assert_int_equal(t.v[1].polls, 1);
	assert_true(answered(&t, "*** No such user: nobody"));
	assert_false(answered(&t, "*** No such user: nobody"));
	assert_int_equal(t.n, 1);
	tells_free(&t);
}

static void
test_settled_by_a_later_poll(void **state)
{
	struct tells t;

	tells_init(&t);
	tells_sent(&t, SPAN_LIT("a"), 3);
	tells_sent(&t, SPAN_LIT("b"), 4);
	/* Poll 4 began before b's response: it may not have its notice. */
	tells_settle(&t, 4);
	assert_int_equal(t.n, 1);
	assert_false(answered(&t, "*** No such user: a"));
	tells_settle(&t, 5);
	assert_int_equal(t.n, 0);
	tells_settle(&t, 6);
	tells_free(&t);
}

static void
test_long_name_cut_as_the_server_cuts_it(void **state)
{
	struct tells t;
	char *name = malloc(TEXT_MAX);
	struct span s = { name, TEXT_MAX };

	assert_non_null(name);
	memset(name, 'x', TEXT_MAX);
	tells_init(&t);
	tells_sent(&t, s, 0);
	assert_int_equal(t.v[0].len, TEXT_MAX);
	assert_memory_equal(t.v[0].notice + TEXT_MAX - 3, "...", 3);
	assert_true(tells_answered(&t, (struct span){ t.v[0].notice,
	    t.v[0].len }));
	tells_free(&t);
	free(name);
}

static void
test_bounded(void **state)
{
	struct tells t;
	size_t i;

	tells_init(&t);
	for (i = 0; i < TELLS_MAX + 5; i++)
		tells_sent(&t, i == 0 ? SPAN_LIT("first") : SPAN_LIT("x"), i);
	assert_int_equal(t.n, TELLS_MAX);
	assert_false(answered(&t, "*** No such user: first"));
	tells_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matched_in_order),
		cmocka_unit_test(test_settled_by_a_later_poll),
		cmocka_unit_test(test_long_name_cut_as_the_server_cuts_it),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
