/*
 * fuzz_codec.c - the wire readers (codec.h) on arbitrary bytes.
 *
 * A reader either fails and leaves its span as it was, or consumes a
 * prefix of the input whose re-encoding by the writers gives back exactly
 * those bytes; every string it returns lies inside that prefix.  The first
 * byte picks how the rest is read, so a whole sequence of reads is tried.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "codec.h"
#include "proto.h"

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_codec: %s\n", what);
	abort();
}

static void
check_inside(struct span s, struct span within)
{
	if (s.len > within.len || s.p < within.p ||
	    (size_t)(s.p - within.p) > within.len - s.len)
		fail("a string runs past what was consumed");
}

/* in went from was to now: what was consumed must encode as enc. */
static void
check_consumed(struct span was, struct span now, const struct buf *enc)
{
	size_t used;

	if (now.p < was.p || now.len > was.len ||
	    now.p != was.p + (was.len - now.len))
		fail("the span moved backwards or off the input");
	used = was.len - now.len;
	if (enc->len != used || (used > 0 && memcmp(enc->data, was.p, used)))
		fail("re-encoding differs from the bytes read");
}

static void
check_unchanged(struct span was, struct span now)
{
	if (was.p != now.p || was.len != now.len)
		fail("a failed read moved the span");
}

static int
read_u16(struct span *in)
{
	struct span was = *in;
	struct buf enc = BUF_INIT;
	uint16_t v;

	if (get_u16(in, &v) == -1) {
		check_unchanged(was, *in);
		if (was.len >= 2)
			fail("get_u16 failed on 2 bytes");
		return -1;
	}
	if (put_u16(&enc, v) == -1)
		fail("put_u16 refused what get_u16 read");
	check_consumed(was, *in, &enc);
	buf_free(&enc);
	return 0;
}

static int
read_str(struct span *in)
{
	struct span was = *in, s;
	struct buf enc = BUF_INIT;

	if (get_str(in, &s) == -1) {
		check_unchanged(was, *in);
		if (was.len >= 2 && was.len - 2 >=
		    ((size_t)(unsigned char)was.p[0] << 8 |
		    (unsigned char)was.p[1]))
			fail("get_str failed on a complete string");
		return -1;
	}
	check_inside(s, (struct span){ was.p, was.len - in->len });
	if (put_str(&enc, s) == -1)
		fail("put_str refused what get_str read");
	check_consumed(was, *in, &enc);
	buf_free(&enc);
	return 0;
}

static int
read_strlist(struct span *in)
{
	struct span was = *in, *v = NULL, used;
	struct buf enc = BUF_INIT;
	size_t n, i;

	if (get_strlist(in, &v, &n) == -1) {
		check_unchanged(was, *in);
		return -1;
	}
	if (n > U16_MAX || (n == 0 && v != NULL))
		fail("get_strlist: bad count or list");
	used = (struct span){ was.p, was.len - in->len };
	for (i = 0; i < n; i++)
		check_inside(v[i], used);
	if (put_strlist(&enc, v, n) == -1)
		fail("put_strlist refused what get_strlist read");
	check_consumed(was, *in, &enc);
	buf_free(&enc);
	free(v);
	return 0;
}

/* Writers refuse what does not fit a u16 and leave the buffer as it was. */
static void
check_writers(struct span in)
{
	static struct span many[(size_t)U16_MAX + 1];
	struct buf b = BUF_INIT;
	struct span big = { in.p, (size_t)U16_MAX + 1 }, two[2];
	size_t len;

	put_u16(&b, 7);
	len = b.len;
	if (put_u16(&b, (size_t)U16_MAX + 1 + in.len) != -1 || b.len != len)
		fail("put_u16 took a value over 65535");
	/* Never read: put_str must refuse on the length alone. */
	if (put_str(&b, big) != -1 || b.len != len)
		fail("put_str took a string over 65535 bytes");
	two[0] = (struct span){ in.p, in.len > 3 ? 3 : in.len };
	two[1] = big;
	if (put_strlist(&b, two, 2) != -1 || b.len != len)
		fail("put_strlist took an element over 65535 bytes");
	if (put_strlist(&b, many, (size_t)U16_MAX + 1) != -1 || b.len != len)
		fail("put_strlist took a count over 65535");
	buf_free(&b);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span in = { (const char *)data, size }, all;
	unsigned plan, i;
	int r;

	if (size == 0)
		return 0;
	plan = data[0];
	in.p++;
	in.len--;
	all = in;

	/* Each reader alone on the whole input. */
	read_u16(&all);
	all = in;
	read_str(&all);
	all = in;
	read_strlist(&all);
	if (size > 3)
		check_writers(in);

	/* Then a sequence: two bits of the plan per read, until one fails. */
	all = in;
	for (i = 0, r = 0; r == 0 && all.len > 0; i = (i + 1) % 4) {
		switch ((plan >> (2 * i)) & 3) {
		case 0:
			r = read_u16(&all);
			break;
		case 1:
		case 3:
			r = read_str(&all);
			break;
		case 2:
			r = read_strlist(&all);
			break;
		}
	}
	return 0;
}
