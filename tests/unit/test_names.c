/*
 * test_names.c - the users a client knows for completion: a List, then
 * the login and logout notices (PROTOCOL.md §3.2 texts, §5.4).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "names.h"
#include "unit.h"

static void
notice(struct names *ns, const char *m)
{
	names_notice(ns, span_cstr(m));
}

static void
test_list_then_notices(void **state)
{
	struct span list[] = { SPAN_LIT("carol"), SPAN_LIT("alice"),
	    SPAN_LIT("bad name"), SPAN_LIT("") };
	struct names ns;

	names_init(&ns);
	names_set(&ns, list, 4);
	/* Sorted; names that could never log in are left out. */
	assert_int_equal(ns.n, 2);
	assert_span(ns.v[0], "alice");
	assert_span(ns.v[1], "carol");
	notice(&ns, "*** bob has logged in");
	assert_int_equal(ns.n, 3);
	assert_span(ns.v[1], "bob");
	notice(&ns, "*** bob has logged in");
	assert_int_equal(ns.n, 3);
	notice(&ns, "*** alice has logged out");
	assert_int_equal(ns.n, 2);
	assert_span(ns.v[0], "bob");
	assert_false(names_has(&ns, SPAN_LIT("alice")));
	/* A List replaces everything. */
	names_set(&ns, list, 1);
	assert_int_equal(ns.n, 1);
	assert_span(ns.v[0], "carol");
	names_free(&ns);
	assert_int_equal(ns.n, 0);
}

static void
test_not_notices(void **state)
{
	struct names ns;

	names_init(&ns);
	notice(&ns, "bob says *** eve has logged in");
	notice(&ns, "*** has logged in");
	notice(&ns, "***  has logged in");
	notice(&ns, "*** eve has logged in!");
	notice(&ns, "*** two words has logged in");
	notice(&ns, "*** No such user: eve");
	notice(&ns, "");
	assert_int_equal(ns.n, 0);
	/* Unicode names are names. */
	notice(&ns, "*** Jos\xc3\xa9 has logged in");
	assert_true(names_has(&ns, SPAN_LIT("Jos\xc3\xa9")));
	/* Dropping a name that is not there changes nothing. */
	notice(&ns, "*** zed has logged out");
	assert_int_equal(ns.n, 1);
	names_free(&ns);
}

static void
test_bounded(void **state)
{
	struct names ns;
	char m[64];
	size_t i;

	names_init(&ns);
	for (i = 0; i < NAMES_MAX + 10; i++) {
		snprintf(m, sizeof m, "*** u%zu has logged in", i);
		notice(&ns, m);
	}
	assert_int_equal(ns.n, NAMES_MAX);
	for (i = 1; i < ns.n; i++)
		assert_true(memcmp(ns.v[i - 1].p, ns.v[i].p,
		    ns.v[i - 1].len < ns.v[i].len ? ns.v[i - 1].len :
		    ns.v[i].len) <= 0);
	names_free(&ns);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_then_notices),
		cmocka_unit_test(test_not_notices),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
