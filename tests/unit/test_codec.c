/*
 * test_codec.c - the wire primitives of PROTOCOL.md §2.1 and the byte examples
 * of PROTOCOL.md §2.4, built with the writers and compared byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "codec.h"
#include "proto.h"

/* Compare a buffer with an expected byte string of known length. */
static void
assert_bytes(const struct buf *b, const char *want, size_t len)
{
	assert_int_equal(b->len, len);
	if (len > 0)
		assert_memory_equal(b->data, want, len);
}

#define ASSERT_BYTES(b, lit)	assert_bytes((b), (lit), sizeof(lit) - 1)

static void
test_u16_round_trip(void **state)
{
	static const size_t values[] = { 0, 1, 255, 256, 0x1234, 65534, 65535 };
	struct buf b = BUF_INIT;
	struct span in;
	uint16_t v;
	size_t i;

	for (i = 0; i < sizeof values / sizeof values[0]; i++) {
		buf_clear(&b);
		assert_int_equal(put_u16(&b, values[i]), 0);
		assert_int_equal(b.len, 2);
		in = (struct span){ b.data, b.len };
		assert_int_equal(get_u16(&in, &v), 0);
		assert_int_equal(v, values[i]);
		assert_int_equal(in.len, 0);
		assert_ptr_equal(in.p, b.data + 2);
	}
	buf_free(&b);
}

static void
test_u16_big_endian(void **state)
{
	struct buf b = BUF_INIT;

	assert_int_equal(put_u16(&b, 0x0102), 0);
	ASSERT_BYTES(&b, "\x01\x02");
	buf_clear(&b);
	assert_int_equal(put_u16(&b, 0xff00), 0);
	ASSERT_BYTES(&b, "\xff\x00");
	buf_free(&b);
}

static void
test_put_u16_too_large(void **state)
{
	struct buf b = BUF_INIT;

	assert_int_equal(put_u16(&b, 7), 0);
	assert_int_equal(put_u16(&b, 65536), -1);
	assert_int_equal(put_u16(&b, (size_t)-1), -1);
	assert_int_equal(put_u16(&b, 0x10001), -1);
	ASSERT_BYTES(&b, "\x00\x07");
	buf_free(&b);
}

static void
test_get_u16_short(void **state)
{
	static const char one[] = "\x12";
	struct span in;
	uint16_t v = 4242;

	in = (struct span){ one, 0 };
	assert_int_equal(get_u16(&in, &v), -1);
	assert_ptr_equal(in.p, one);
	assert_int_equal(in.len, 0);
	in = (struct span){ one, 1 };
	assert_int_equal(get_u16(&in, &v), -1);
	assert_ptr_equal(in.p, one);
	assert_int_equal(in.len, 1);
	assert_int_equal(v, 4242);
}

static void
test_str_round_trip(void **state)
{
	static const char nul[] = "a\0b\0";
	struct buf b = BUF_INIT;
	struct span in, s;
	char *big;
	size_t i;

	/* Empty, plain, with NUL bytes inside and at the end. */
	assert_int_equal(put_str(&b, SPAN_LIT("")), 0);
	assert_int_equal(put_str(&b, SPAN_LIT("alice")), 0);
	assert_int_equal(put_str(&b, (struct span){ nul, 4 }), 0);
	ASSERT_BYTES(&b, "\x00\x00" "\x00\x05" "alice" "\x00\x04" "a\0b\0");
	in = (struct span){ b.data, b.len };
	assert_int_equal(get_str(&in, &s), 0);
	assert_int_equal(s.len, 0);
	assert_int_equal(get_str(&in, &s), 0);
	assert_true(span_eq(s, SPAN_LIT("alice")));
	assert_int_equal(get_str(&in, &s), 0);
	assert_int_equal(s.len, 4);
	assert_memory_equal(s.p, nul, 4);
	/* A view into the input, not a copy. */
	assert_ptr_equal(s.p, b.data + b.len - 4);
	assert_int_equal(in.len, 0);

	/* The largest string there is. */
	big = malloc(65535);
	assert_non_null(big);
	for (i = 0; i < 65535; i++)
		big[i] = (char)(i * 7);
	buf_clear(&b);
	assert_int_equal(put_str(&b, (struct span){ big, 65535 }), 0);
	assert_int_equal(b.len, 65537);
	assert_memory_equal(b.data, "\xff\xff", 2);
	in = (struct span){ b.data, b.len };
	assert_int_equal(get_str(&in, &s), 0);
	assert_int_equal(s.len, 65535);
	assert_memory_equal(s.p, big, 65535);
	assert_int_equal(in.len, 0);
	free(big);
	buf_free(&b);
}

static void
test_put_str_too_long(void **state)
{
	struct buf b = BUF_INIT;
	char *big;

	big = calloc(1, 65536);
	assert_non_null(big);
	assert_int_equal(put_str(&b, SPAN_LIT("x")), 0);
	assert_int_equal(put_str(&b, (struct span){ big, 65536 }), -1);
	ASSERT_BYTES(&b, "\x00\x01x");
	free(big);
	buf_free(&b);
}

static void
test_get_str_short(void **state)
{
	/* Each input is too short somewhere: no length, half a length, bytes.
	 */
	static const struct {
		const char	*p;
		size_t		 len;
	} cases[] = {
		{ "", 0 },
		{ "\x00", 1 },
		{ "\x00\x01", 2 },
		{ "\x00\x05" "abcd", 6 },
		{ "\xff\xff" "abc", 5 },
	};
	struct span in, s = { "untouched", 9 };
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		in = (struct span){ cases[i].p, cases[i].len };
		assert_int_equal(get_str(&in, &s), -1);
		assert_ptr_equal(in.p, cases[i].p);
		assert_int_equal(in.len, cases[i].len);
		assert_true(span_eq(s, SPAN_LIT("untouched")));
	}
}

static void
test_strlist_round_trip(void **state)
{
	struct span v[] = { SPAN_LIT("alice"), SPAN_LIT(""),
	    { "n\0l", 3 }, SPAN_LIT("bob") };
	struct buf b = BUF_INIT;
	struct span in, *got = NULL;
	size_t n = 99, i;

	assert_int_equal(put_strlist(&b, v, 4), 0);
	ASSERT_BYTES(&b, "\x00\x04" "\x00\x05" "alice" "\x00\x00"
	    "\x00\x03" "n\0l" "\x00\x03" "bob");
	in = (struct span){ b.data, b.len };
	assert_int_equal(get_strlist(&in, &got, &n), 0);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++)
		assert_true(span_eq(got[i], v[i]));
	assert_int_equal(in.len, 0);
	free(got);

	/* The empty list: NULL, 0. */
	buf_clear(&b);
	assert_int_equal(put_strlist(&b, NULL, 0), 0);
	ASSERT_BYTES(&b, "\x00\x00");
	in = (struct span){ b.data, b.len };
	got = (struct span *)&in;
	assert_int_equal(get_strlist(&in, &got, &n), 0);
	assert_int_equal(n, 0);
	assert_null(got);
	assert_int_equal(in.len, 0);
	buf_free(&b);
}

static void
test_put_strlist_refuses(void **state)
{
	struct buf b = BUF_INIT;
	struct span *v;
	char *big;
	size_t i;

	assert_int_equal(put_u16(&b, 1), 0);

	/* An element too long: nothing written, not even the count. */
	big = calloc(1, 65536);
	assert_non_null(big);
	v = calloc(2, sizeof *v);
	assert_non_null(v);
	v[0] = SPAN_LIT("ok");
	v[1] = (struct span){ big, 65536 };
	assert_int_equal(put_strlist(&b, v, 2), -1);
	ASSERT_BYTES(&b, "\x00\x01");
	free(v);

	/* Too many elements. */
	v = calloc(65536, sizeof *v);
	assert_non_null(v);
	for (i = 0; i < 65536; i++)
		v[i] = SPAN_LIT("");
	assert_int_equal(put_strlist(&b, v, 65536), -1);
	ASSERT_BYTES(&b, "\x00\x01");
	/* But 65535 empty elements fit. */
	assert_int_equal(put_strlist(&b, v, 65535), 0);
	assert_int_equal(b.len, 2 + 2 + 65535 * 2);
	free(v);
	free(big);
	buf_free(&b);
}

static void
test_get_strlist_short(void **state)
{
	static const struct {
		const char	*p;
		size_t		 len;
	} cases[] = {
		{ "", 0 },
		{ "\x00", 1 },
		{ "\x00\x01", 2 },			/* one element, none there */
		{ "\x00\x01\x00", 3 },			/* half a length */
		{ "\x00\x01\x00\x02" "a", 5 },		/* element cut short */
		{ "\x00\x02\x00\x01" "a", 5 },		/* second element missing */
		{ "\x00\x02\x00\x01" "a\x00", 6 },	/* half its length */
		{ "\xff\xff\x00\x00\x00\x00", 6 },	/* a count the input cannot hold */
	};
	struct span in, *got = (struct span *)&in, *sentinel;
	size_t n = 4242, i;

	sentinel = got;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		in = (struct span){ cases[i].p, cases[i].len };
		assert_int_equal(get_strlist(&in, &got, &n), -1);
		assert_ptr_equal(in.p, cases[i].p);
		assert_int_equal(in.len, cases[i].len);
		assert_ptr_equal(got, sentinel);
		assert_int_equal(n, 4242);
	}
}

static void
test_get_strlist_huge_count(void **state)
{
	/*
	 * 65535 elements claimed, 100 bytes present: refused up front (the
	 * count cannot fit), and fine when exactly enough empty strings are.
	 */
	char *p;
	struct span in, *got = NULL;
	size_t n = 0, len = 2 + 65535 * 2;

	p = calloc(1, len);
	assert_non_null(p);
	p[0] = (char)0xff;
	p[1] = (char)0xff;
	in = (struct span){ p, 100 };
	assert_int_equal(get_strlist(&in, &got, &n), -1);
	assert_int_equal(in.len, 100);
	in = (struct span){ p, len - 1 };
	assert_int_equal(get_strlist(&in, &got, &n), -1);
	assert_int_equal(in.len, len - 1);
	in = (struct span){ p, len };
	assert_int_equal(get_strlist(&in, &got, &n), 0);
	assert_int_equal(n, 65535);
	assert_int_equal(in.len, 0);
	free(got);
	free(p);
}

static void
test_reads_leave_the_rest(void **state)
{
	static const char in_bytes[] = "\x00\x03" "bob" "\xca\xfe";
	struct span in = { in_bytes, 7 }, s;
	uint16_t v;

	assert_int_equal(get_str(&in, &s), 0);
	assert_true(span_eq(s, SPAN_LIT("bob")));
	assert_int_equal(in.len, 2);
	assert_int_equal(get_u16(&in, &v), 0);
	assert_int_equal(v, 0xcafe);
	assert_int_equal(in.len, 0);
}

/*
 * PROTOCOL.md §2.4: frame = u16 length + message.  Frames are built here the
 * way a client or server would, with the writers, then compared with
 * PROTOCOL.md.
 */
static void
frame(struct buf *out, const struct buf *msg)
{
	assert_int_equal(put_u16(out, msg->len), 0);
	buf_append(out, msg->data, msg->len);
}

static void
test_spec_examples(void **state)
{
	struct buf m = BUF_INIT, f = BUF_INIT;
	struct span users[] = { SPAN_LIT("alice"), SPAN_LIT("bob") };

	/* Register "alice". */
	assert_int_equal(put_u16(&m, MSG_REGISTER), 0);
	assert_int_equal(put_str(&m, SPAN_LIT("alice")), 0);
	frame(&f, &m);
	ASSERT_BYTES(&f, "\x00\x09" "\x00\x00" "\x00\x05" "alice");
	/* The unframed generation (PROTOCOL.md §6): the message alone. */
	ASSERT_BYTES(&m, "\x00\x00\x00\x05\x61\x6c\x69\x63\x65");
	buf_clear(&m);
	buf_clear(&f);
	assert_int_equal(put_str(&m, SPAN_LIT("")), 0);
	frame(&f, &m);
	ASSERT_BYTES(&f, "\x00\x02" "\x00\x00");
	ASSERT_BYTES(&m, "\x00\x00");

	/* List with alice and bob. */
	buf_clear(&m);
	buf_clear(&f);
	assert_int_equal(put_u16(&m, MSG_LIST), 0);
	frame(&f, &m);
	ASSERT_BYTES(&f, "\x00\x02" "\x00\x01");
	buf_clear(&m);
	buf_clear(&f);
	assert_int_equal(put_strlist(&m, users, 2), 0);
	assert_int_equal(put_str(&m, SPAN_LIT("")), 0);
	frame(&f, &m);
	ASSERT_BYTES(&f, "\x00\x10" "\x00\x02\x00\x05\x61\x6c\x69\x63\x65"
	    "\x00\x03\x62\x6f\x62" "\x00\x00");
	ASSERT_BYTES(&m, "\x00\x02\x00\x05\x61\x6c\x69\x63\x65\x00\x03\x62"
	    "\x6f\x62\x00\x00");

	/* CheckMessages "bob", nothing queued. */
	buf_clear(&m);
	buf_clear(&f);
	assert_int_equal(put_u16(&m, MSG_CHECK_MESSAGES), 0);
	assert_int_equal(put_str(&m, SPAN_LIT("bob")), 0);
	frame(&f, &m);
	ASSERT_BYTES(&f, "\x00\x07" "\x00\x02" "\x00\x03\x62\x6f\x62");
	buf_clear(&m);
	buf_clear(&f);
	assert_int_equal(put_strlist(&m, NULL, 0), 0);
	assert_int_equal(put_str(&m, SPAN_LIT("")), 0);
	frame(&f, &m);
	ASSERT_BYTES(&f, "\x00\x04" "\x00\x00" "\x00\x00");

	/* Shutdown. */
	buf_clear(&m);
	buf_clear(&f);
	assert_int_equal(put_u16(&m, MSG_SHUTDOWN), 0);
	frame(&f, &m);
	ASSERT_BYTES(&f, "\x00\x02" "\x00\x06");

	buf_free(&m);
	buf_free(&f);
}

static void
test_spec_examples_parse(void **state)
{
	/* And the other way: PROTOCOL.md's List response read back. */
	static const char resp[] = "\x00\x10" "\x00\x02\x00\x05" "alice"
	    "\x00\x03" "bob" "\x00\x00";
	struct span in = { resp, sizeof resp - 1 }, *users = NULL, err;
	uint16_t len;
	size_t n = 0;

	assert_int_equal(get_u16(&in, &len), 0);
	assert_int_equal(len, 16);
	assert_int_equal(in.len, 16);
	assert_int_equal(get_strlist(&in, &users, &n), 0);
	assert_int_equal(n, 2);
	assert_true(span_eq(users[0], SPAN_LIT("alice")));
	assert_true(span_eq(users[1], SPAN_LIT("bob")));
	assert_int_equal(get_str(&in, &err), 0);
	assert_int_equal(err.len, 0);
	assert_int_equal(in.len, 0);
	free(users);
}

static void
test_span_helpers(void **state)
{
	assert_true(span_eq(span_cstr("abc"), SPAN_LIT("abc")));
	assert_false(span_eq(span_cstr("abc"), SPAN_LIT("abd")));
	assert_false(span_eq(span_cstr("ab"), SPAN_LIT("abc")));
	assert_true(span_eq(span_cstr(""), (struct span){ NULL, 0 }));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u16_round_trip),
		cmocka_unit_test(test_u16_big_endian),
		cmocka_unit_test(test_put_u16_too_large),
		cmocka_unit_test(test_get_u16_short),
		cmocka_unit_test(test_str_round_trip),
		cmocka_unit_test(test_put_str_too_long),
		cmocka_unit_test(test_get_str_short),
		cmocka_unit_test(test_strlist_round_trip),
		cmocka_unit_test(test_put_strlist_refuses),
		cmocka_unit_test(test_get_strlist_short),
		cmocka_unit_test(test_get_strlist_huge_count),
		cmocka_unit_test(test_reads_leave_the_rest),
		cmocka_unit_test(test_spec_examples),
		cmocka_unit_test(test_spec_examples_parse),
		cmocka_unit_test(test_span_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
