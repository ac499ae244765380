/*
 * test_chunk.c - the chunk pool: what is freed is handed out again before
 * any new memory, so the pages mapped follow the peak of chunks in use
 * whatever the order of allocations and frees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chunk.h"
#include "unit.h"

static void
test_reuse_before_growth(void **state)
{
	struct chunk_pool *pool = chunk_pool_new();
	void *a, *b, *c;

	assert_int_equal(chunk_mapped(pool), 0);
	a = chunk_alloc(pool);
	b = chunk_alloc(pool);
	assert_int_equal(chunk_mapped(pool), CHUNK_PAGE);
	assert_int_equal((uintptr_t)a % 16, 0);
	assert_true((char *)b - (char *)a == CHUNK_SIZE ||
	    (char *)a - (char *)b == CHUNK_SIZE);
	memset(a, 0xaa, CHUNK_SIZE);
	memset(b, 0xbb, CHUNK_SIZE);
	chunk_free(pool, a);
	c = chunk_alloc(pool);
	assert_ptr_equal(c, a);
	assert_int_equal(chunk_used(pool), 2);
	assert_int_equal(chunk_peak(pool), 2);
	chunk_free(pool, b);
	chunk_free(pool, c);
	assert_int_equal(chunk_used(pool), 0);
	chunk_pool_free(pool);
}

static uint64_t rng_state = 7;

static unsigned
rng(void)
{
	return unit_rng(&rng_state);
}

/*
 * The patterns that fragment a heap - keep one object in every run of
 * freed ones, then ask for other sizes - cannot here: the pages mapped
 * never exceed the peak in use, rounded up to a page.
 */
static void
test_mapped_follows_the_peak(void **state)
{
	enum { N = 100000 };
	struct chunk_pool *pool = chunk_pool_new();
	void **live = calloc(N, sizeof *live);
	size_t i, k, n = 0, pages;

	assert_non_null(live);
	for (k = 0; k < 20; k++) {
		/* Fill to a peak, then free all but every 64th. */
		while (n < N - k * 1000)
			live[n++] = chunk_alloc(pool);
		for (i = 0; i < n; i++)
			if (i % 64 != 0) {
				chunk_free(pool, live[i]);
				live[i] = NULL;
			}
		for (i = 0; i < n; i++)
			if (live[i] != NULL)
				live[i / 64] = live[i];
		n = (n + 63) / 64;
		/* Random frees and allocations around a lower level. */
		for (i = 0; i < 50000; i++) {
			if (n > 0 && rng() % 2) {
				size_t j = rng() % n;

				chunk_free(pool, live[j]);
				live[j] = live[--n];
			} else if (n < N / 2)
				live[n++] = chunk_alloc(pool);
		}
		pages = (chunk_peak(pool) + CHUNK_PER_PAGE - 1) /
		    CHUNK_PER_PAGE;
		assert_int_equal(chunk_mapped(pool), pages * CHUNK_PAGE);
		assert_int_equal(chunk_used(pool), n);
	}
	assert_int_equal(chunk_peak(pool), N);
	while (n > 0)
		chunk_free(pool, live[--n]);
	free(live);
	chunk_pool_free(pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse_before_growth),
		cmocka_unit_test(test_mapped_follows_the_peak),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
