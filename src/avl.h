/*
 * avl.h - a balanced search tree whose nodes also carry a summary of their
 * subtree (an augmented AVL tree), for finding "the one with the most" in
 * O(log n) while the counts change.
 *
 * The tree is intrusive: a node lives inside the caller's structure, and
 * the tree never allocates.  The caller orders the nodes (no two equal)
 * and keeps the summary: fix() recomputes a node's summary from its own
 * values and its children's summaries, and the tree calls it on every
 * node whose subtree changed.  Every operation costs O(log n) calls of
 * cmp and fix; recursion is at most 1.44 log2(n + 2) deep.
 */
#ifndef RPCCHAT_AVL_H
#define RPCCHAT_AVL_H

struct avl_node {
	struct avl_node	*left;
	struct avl_node	*right;
	int		 height;	/* of its subtree: 1 for a leaf */
};

struct avl_ops {
	int	(*cmp)(const struct avl_node *, const struct avl_node *);
	void	(*fix)(struct avl_node *);
};

void	avl_insert(struct avl_node **root, struct avl_node *,
	    const struct avl_ops *);
/* The node must be in the tree. */
void	avl_remove(struct avl_node **root, struct avl_node *,
	    const struct avl_ops *);
/* The node's own values changed, not its place: fixes its path. */
void	avl_update(struct avl_node **root, struct avl_node *,
	    const struct avl_ops *);
/*
 * Puts node to where old is (the two compare equal; node's values may
 * differ): how an object moves in memory without leaving the tree.
 */
void	avl_replace(struct avl_node **root, struct avl_node *old,
	    struct avl_node *node, const struct avl_ops *);
/* The node that compares equal to key, or NULL. */
struct avl_node *avl_find(struct avl_node *root, const struct avl_node *key,
	    const struct avl_ops *);
/*
 * The tree's height if every node is in order and balanced with its
 * height right, -1 otherwise (the summaries are the caller's to check).
 */
int	avl_check(const struct avl_node *root, const struct avl_ops *);

#endif
