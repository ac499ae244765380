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

/*
 * A pseudo-random number (xorshift64*), the same sequence on every
 * machine, so that a failing seed fails again.
 */
static inline uint32_t
unit_rng(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return (uint32_t)((*state * 2685821657736338717ULL) >> 32);
}

#endif
