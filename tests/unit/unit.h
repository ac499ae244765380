/*
 * unit.h - assertions the unit tests share.  Include after <cmocka.h>.
 */
#ifndef RPCCHAT_UNIT_H
#define RPCCHAT_UNIT_H

#include <string.h>

#include "codec.h"

/* The span holds exactly the bytes of want. */
static inline void
assert_span(struct span s, const char *want)
{
	assert_int_equal(s.len, strlen(want));
	if (s.len > 0)
		assert_memory_equal(s.p, want, s.len);
}

#endif
