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

/* Bytes 0x80-0x9F that are not part of valid UTF-8: 8-bit C1 controls. */
static void
test_raw_c1_bytes(void **state)
{
	(void)state;
	/* 0x9b alone is CSI on an 8-bit terminal. */
	assert_escaped("a\x9b" "31mb", 6, "a\\x9B31mb");
	assert_escaped("\x80\x9f", 2, "\\x80\\x9F");
	/* A continuation byte after a cut sequence is still shown. */
	assert_escaped("\xe4\xb8" "x\x85", 4, "\xe4\xb8" "x\\x85");
	/* Inside valid UTF-8 the same bytes are left alone: 一 = E4 B8 80. */
	assert_escaped("\xe4\xb8\x80", 3, "\xe4\xb8\x80");
	assert_escaped("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");
	/* Other invalid bytes are no control: unchanged. */
	assert_escaped("\xa0\xff", 2, "\xa0\xff");
}

/* Bidi embeddings, overrides and isolates would reorder the line. */
static void
test_bidi_controls(void **state)
{
	(void)state;
	assert_escaped("a\xe2\x80\xae" "b", 5, "a<U+202E>b");
	assert_escaped("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", 12,
	    "<U+202A><U+202B><U+202C><U+202D>");
	assert_escaped("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", 12,
	    "<U+2066><U+2067><U+2068><U+2069>");
	/* Their neighbours are ordinary: U+2029, U+202F, U+2065, U+206A. */
	assert_escaped("\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa", 12,
	    "\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa");
}

/* NUL never cuts the text; an empty span gives a usable C string. */
static void
test_nul_and_empty(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_escaped("ev\0il\x1b[31m", 10, "ev^@il^[[31m");
	assert_escaped("\0\0", 2, "^@^@");
	text_escape(&b, (struct span){ NULL, 0 });
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.data[0], '\0');
	text_escape(&b, (struct span){ "a\nb", 3 });
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "a^Jb");
	buf_free(&b);
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
		cmocka_unit_test(test_raw_c1_bytes),
		cmocka_unit_test(test_bidi_controls),
		cmocka_unit_test(test_nul_and_empty),
		cmocka_unit_test(test_trim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
