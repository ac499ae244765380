/* test_text.c - escaping of bytes from the network, and trimming. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "text.h"

static void
assert_escaped(const char *in, size_t inlen, const char *want)
{
	struct buf b = BUF_INIT;

	text_escape(&b, (struct span){ in, inlen });
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

static void
test_plain_text_unchanged(void **state)
{
	(void)state;
	assert_escaped("hello, world", 12, "hello, world");
	assert_escaped("", 0, "");
	/* UTF-8 letters pass through: é, 日本. */
	assert_escaped("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", 12,
	    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac");
	/* U+00A0 starts with 0xc2 too but is no control. */
	assert_escaped("a\xc2\xa0z", 4, "a\xc2\xa0z");
}

static void
test_c0_controls_and_del(void **state)
{
	(void)state;
	assert_escaped("a\nb", 3, "a^Jb");
	assert_escaped("\x1b[2J", 4, "^[[2J");
	assert_escaped("nul\0here", 8, "nul^@here");
	assert_escaped("\r\t\x7f", 3, "^M^I^?");
}

static void
test_c1_controls(void **state)
{
	(void)state;
	/* U+009B, CSI, as UTF-8. */
	assert_escaped("x\xc2\x9b" "2J", 5, "xM-^[2J");
	assert_escaped("\xc2\x80\xc2\x9f", 4, "M-^@M-^_");
	/* A lone 0xc2 at the end, or invalid UTF-8, passes unchanged. */
	assert_escaped("end\xc2", 4, "end\xc2");
	assert_escaped("\xff\xfe", 2, "\xff\xfe");
}

static void
test_trim(void **state)
{
	struct span s;

	(void)state;
	s = text_trim(span_cstr(" \t say  hi \r\n"));
	assert_int_equal(s.len, 7);
	assert_memory_equal(s.p, "say  hi", 7);
	s = text_trim(span_cstr(" \t\v\f "));
	assert_int_equal(s.len, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_unchanged),
		cmocka_unit_test(test_c0_controls_and_del),
		cmocka_unit_test(test_c1_controls),
		cmocka_unit_test(test_trim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
