/*
 * test_avl.c - the augmented AVL tree against a plain array: random
 * inserts, removes, value changes and moves, the tree checked after each
 * (order, balance, heights, summaries) and its "first of the largest"
 * compared with a scan of the array.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "avl.h"
#include "unit.h"

struct item {
	struct avl_node	 node;
	unsigned	 key;
	unsigned	 val;
	unsigned	 most;		/* the largest val in its subtree */
	int		 in;
};

#define ITEM(n)	((struct item *)(n))

static int
cmp(const struct avl_node *a, const struct avl_node *b)
{
	return (ITEM(a)->key > ITEM(b)->key) - (ITEM(a)->key < ITEM(b)->key);
}

static void
fix(struct avl_node *n)
{
	struct item *it = ITEM(n);

	it->most = it->val;
	if (n->left != NULL && ITEM(n->left)->most > it->most)
		it->most = ITEM(n->left)->most;
	if (n->right != NULL && ITEM(n->right)->most > it->most)
		it->most = ITEM(n->right)->most;
}

static const struct avl_ops ops = { cmp, fix };

/* The first in order of those with the largest val, as chat.c finds it. */
static struct item *
top(struct avl_node *t)
{
	unsigned most;

	if (t == NULL)
		return NULL;
	most = ITEM(t)->most;
	for (;;) {
		if (t->left != NULL && ITEM(t->left)->most == most)
			t = t->left;
		else if (ITEM(t)->val == most)
			return ITEM(t);
		else
			t = t->right;
	}
}

static unsigned
check_summaries(const struct avl_node *t, size_t *n)
{
	unsigned most;

	if (t == NULL)
		return 0;
	(*n)++;
	most = ITEM(t)->val;
	if (check_summaries(t->left, n) > most)
		most = ITEM(t->left)->most;
	if (check_summaries(t->right, n) > most)
		most = ITEM(t->right)->most;
	assert_int_equal(ITEM(t)->most, most);
	return most;
}

static uint64_t rng_state;

static unsigned
rng(void)
{
	return unit_rng(&rng_state);
}

enum { NITEMS = 300 };

static void
verify(struct avl_node *root, struct item *items, size_t in)
{
	struct item *want = NULL, *got;
	size_t i, n = 0;
	struct item key;

	assert_true(avl_check(root, &ops) >= 0);
	check_summaries(root, &n);
	assert_int_equal(n, in);
	for (i = 0; i < NITEMS; i++) {
		key.key = items[i].key;
		got = ITEM(avl_find(root, &key.node, &ops));
		assert_ptr_equal(got, items[i].in ? &items[i] : NULL);
		if (items[i].in && (want == NULL || items[i].val > want->val ||
		    (items[i].val == want->val && items[i].key < want->key)))
			want = &items[i];
	}
	got = top(root);
	assert_ptr_equal(got, want);
}

static void
test_random_operations(void **state)
{
	static struct item items[NITEMS], spare[NITEMS];
	struct avl_node *root = NULL;
	struct item *it;
	size_t i, step, in = 0;
	int height;

	rng_state = 42;
	for (i = 0; i < NITEMS; i++)
		items[i].key = (unsigned)i * 7 % 1009;
	for (step = 0; step < 40000; step++) {
		it = &items[rng() % NITEMS];
		switch (rng() % 4) {
		case 0:
		case 1:
			if (it->in) {
				/* A change of value, or a move in memory. */
				it->val = rng() % 50;
				if (rng() % 2) {
					avl_update(&root, &it->node, &ops);
					break;
				}
				spare[it - items] = *it;
				avl_replace(&root, &it->node,
				    &spare[it - items].node, &ops);
				*it = spare[it - items];
				avl_replace(&root, &spare[it - items].node,
				    &it->node, &ops);
			} else {
				it->val = rng() % 50;
				it->in = 1;
				in++;
				avl_insert(&root, &it->node, &ops);
			}
			break;
		default:
			if (it->in) {
				avl_remove(&root, &it->node, &ops);
				it->in = 0;
				in--;
			}
			break;
		}
		verify(root, items, in);
	}
	/* Balanced: a full tree of 300 is at most 1.44 log2(302) high. */
	for (i = 0; i < NITEMS; i++)
		if (!items[i].in) {
			items[i].in = 1;
			avl_insert(&root, &items[i].node, &ops);
		}
	height = avl_check(root, &ops);
	assert_true(height > 0 && height <= 11);
}

/* Sorted inserts, the worst case of a plain tree, stay balanced. */
static void
test_sorted_inserts(void **state)
{
	static struct item items[4096];
	struct avl_node *root = NULL;
	size_t i;

	for (i = 0; i < 4096; i++) {
		items[i].key = (unsigned)i;
		items[i].val = (unsigned)(i % 13);
		avl_insert(&root, &items[i].node, &ops);
	}
	assert_int_equal(avl_check(root, &ops), 13);
	assert_int_equal(top(root)->key, 12);
	for (i = 0; i < 4096; i += 2)
		avl_remove(&root, &items[i].node, &ops);
	assert_true(avl_check(root, &ops) > 0);
	/* Odd keys are left: the first with val 12 is 25. */
	assert_int_equal(top(root)->key, 25);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_operations),
		cmocka_unit_test(test_sorted_inserts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
