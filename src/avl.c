/*
 * avl.c - an augmented AVL tree (see avl.h).  Recursive, without parent
 * pointers: each operation walks down from the root and rebalances and
 * fixes the summaries on its way back up, so a node's summary is always
 * recomputed after its children's.
 */
#include <stdlib.h>

#include "avl.h"

static int
height(const struct avl_node *n)
{
	return n != NULL ? n->height : 0;
}

/* Height and summary from the children. */
static void
refresh(struct avl_node *n, const struct avl_ops *ops)
{
	int l = height(n->left), r = height(n->right);

	n->height = 1 + (l > r ? l : r);
	if (ops->fix != NULL)
		ops->fix(n);
}

static struct avl_node *
rotate_right(struct avl_node *n, const struct avl_ops *ops)
{
	struct avl_node *l = n->left;

	n->left = l->right;
	l->right = n;
	refresh(n, ops);
	refresh(l, ops);
	return l;
}

static struct avl_node *
rotate_left(struct avl_node *n, const struct avl_ops *ops)
{
	struct avl_node *r = n->right;

	n->right = r->left;
	r->left = n;
	refresh(n, ops);
	refresh(r, ops);
	return r;
}

/* The subtree at n, whose children are balanced, balanced and fixed. */
static struct avl_node *
balance(struct avl_node *n, const struct avl_ops *ops)
{
	int d = height(n->left) - height(n->right);

	if (d > 1) {
		if (height(n->left->left) < height(n->left->right))
			n->left = rotate_left(n->left, ops);
		return rotate_right(n, ops);
	}
	if (d < -1) {
		if (height(n->right->right) < height(n->right->left))
			n->right = rotate_right(n->right, ops);
		return rotate_left(n, ops);
	}
	refresh(n, ops);
	return n;
}

/* A node that should be in the tree is not: the caller's state is broken. */
static void
missing(void)
{
	abort();
}

static struct avl_node *
insert(struct avl_node *t, struct avl_node *n, const struct avl_ops *ops)
{
	if (t == NULL) {
		n->left = n->right = NULL;
		refresh(n, ops);
		return n;
	}
	if (ops->cmp(n, t) < 0)
		t->left = insert(t->left, n, ops);
	else
		t->right = insert(t->right, n, ops);
	return balance(t, ops);
}

void
avl_insert(struct avl_node **root, struct avl_node *n,
    const struct avl_ops *ops)
{
	*root = insert(*root, n, ops);
}

/* Takes the smallest node out of t into *min; returns what is left. */
static struct avl_node *
remove_min(struct avl_node *t, struct avl_node **min,
    const struct avl_ops *ops)
{
	if (t->left == NULL) {
		*min = t;
		return t->right;
	}
	t->left = remove_min(t->left, min, ops);
	return balance(t, ops);
}

static struct avl_node *
remove_node(struct avl_node *t, struct avl_node *n,
    const struct avl_ops *ops)
{
	struct avl_node *m, *right;

	if (t == NULL)
		missing();
	if (t != n) {
		if (ops->cmp(n, t) < 0)
			t->left = remove_node(t->left, n, ops);
		else
			t->right = remove_node(t->right, n, ops);
		return balance(t, ops);
	}
	if (t->left == NULL)
		return t->right;
	if (t->right == NULL)
		return t->left;
	/* Its successor takes its place. */
	right = remove_min(t->right, &m, ops);
	m->left = t->left;
	m->right = right;
	return balance(m, ops);
}

void
avl_remove(struct avl_node **root, struct avl_node *n,
    const struct avl_ops *ops)
{
	*root = remove_node(*root, n, ops);
}

static void
update(struct avl_node *t, struct avl_node *n, const struct avl_ops *ops)
{
	if (t == NULL)
		missing();
	if (t != n)
		update(ops->cmp(n, t) < 0 ? t->left : t->right, n, ops);
	if (ops->fix != NULL)
		ops->fix(t);
}

void
avl_update(struct avl_node **root, struct avl_node *n,
    const struct avl_ops *ops)
{
	update(*root, n, ops);
}

static struct avl_node *
replace(struct avl_node *t, struct avl_node *old, struct avl_node *n,
    const struct avl_ops *ops)
{
	if (t == NULL)
		missing();
	if (t == old) {
		n->left = old->left;
		n->right = old->right;
		n->height = old->height;
		t = n;
	} else if (ops->cmp(old, t) < 0)
		t->left = replace(t->left, old, n, ops);
	else
		t->right = replace(t->right, old, n, ops);
	if (ops->fix != NULL)
		ops->fix(t);
	return t;
}

void
avl_replace(struct avl_node **root, struct avl_node *old,
    struct avl_node *n, const struct avl_ops *ops)
{
	*root = replace(*root, old, n, ops);
}

struct avl_node *
avl_find(struct avl_node *t, const struct avl_node *key,
    const struct avl_ops *ops)
{
	int c;

	while (t != NULL && (c = ops->cmp(key, t)) != 0)
		t = c < 0 ? t->left : t->right;
	return t;
}

static int
check(const struct avl_node *t, const struct avl_node *lo,
    const struct avl_node *hi, const struct avl_ops *ops)
{
	int l, r;

	if (t == NULL)
		return 0;
	if ((lo != NULL && ops->cmp(lo, t) >= 0) ||
	    (hi != NULL && ops->cmp(t, hi) >= 0))
		return -1;
	if ((l = check(t->left, lo, t, ops)) < 0 ||
	    (r = check(t->right, t, hi, ops)) < 0 ||
	    l - r > 1 || r - l > 1 || t->height != 1 + (l > r ? l : r))
		return -1;
	return t->height;
}

int
avl_check(const struct avl_node *root, const struct avl_ops *ops)
{
	return check(root, NULL, NULL, ops);
}
