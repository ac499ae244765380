/*
 * chat.c - the chat state (see chat.h).
 *
 * Where messages wait.  Broadcasts (Say, login and logout notices) go to
 * one shared log in the order of their sequence numbers, stored once;
 * each user reads it from its own position.  Tells and "No such user"
 * notices have one reader and go to that user's private queue, stamped
 * with the log's next sequence number so that CheckMessages can merge the
 * two in arrival order.  A Say touches no user.
 *
 * The limits (PROTOCOL.md §4.4).  This is the policy a shared store must
 * mirror exactly:
 *
 *  - Charges.  A stored message costs its text length plus
 *    CHAT_MSG_CHARGE.  An account costs its name length plus
 *    CHAT_USER_CHARGE; an account exists while its user is logged in or
 *    while messages charged to it are stored.  A user who logs out while
 *    messages charged to it remain leaves a lingering account; a later
 *    Register of the same name opens a new account (the two are not
 *    merged: names are not authenticated, so a sender is only a name for
 *    as long as it is logged in).  Registering a name that is logged in
 *    keeps its account and adds no charge.  Register stores the account
 *    first, then its login notice.
 *  - Who pays.  A Say is charged once, to its sender; a Tell to its
 *    sender; "*** X has logged in/out" to X; "*** No such user: T" to the
 *    sender who got it.  A message nobody would read (a notice with no
 *    other user) is not stored and costs nothing.
 *  - Counts.  The log, and each private queue, hold at most queue_limit
 *    messages.  Before a message goes into one that is full, the oldest
 *    message there of the account with the most messages there is
 *    dropped.  Ties, here and below, go to the account whose name is
 *    smallest in byte order, then to the older account.
 *  - Bytes.  Then, while the charges plus the new item would exceed the
 *    budget, the oldest stored message of the account whose stored
 *    messages are charged the most bytes (account charges not counted) is
 *    evicted.  The account being charged for the new item is never freed
 *    by its own drops or evictions.
 *  - A dropped or evicted message is gone for every user who had not read
 *    it, and each of them counts it in their "*** N messages were dropped"
 *    notice: a private message at once, a broadcast when the reader's
 *    position passes it.
 *  - Freeing.  A broadcast is freed (without counting) once no user's
 *    position is at or before it; after every eviction, after every
 *    count drop from the log, at the end of every call that stores or
 *    delivers, and after a logout's queue is released.
 *  - Say and Tell are never refused for memory: logged-in users alone
 *    cannot fill the smallest budget (List fits at most 21843 names, at
 *    most 2.8 MB of charges; with the largest message 2.9 MB < 4M), so
 *    eviction always makes room.  A Register that still does not fit
 *    fails with "Register: too many users".
 *
 * Memory (the bound of PROTOCOL.md §4.4, by construction).  Every object
 * of the chat - users, accounts, messages and their text - lives in
 * 128-byte chunks of one pool (chunk.c): the pool keeps its pages, but any
 * object reuses any free chunk, so whatever the order in which messages of
 * whatever sizes come and go, the pool holds no more than the peak of
 * chunks in use at once.  Nothing else here grows with the chat but the
 * user arrays.  So it is enough that each item uses no more chunks than
 * its charge pays for.  A message's first chunk holds its header and the
 * first bytes of its text (60 of a broadcast, 16 of a private message,
 * which also carries its sender's record, below); each further chunk a
 * link and 120 bytes:
 *
 *   item                  chunks                    charge
 *   broadcast, L >= 7     1 + ceil((L - 60) / 120)  L + 192
 *   private, L >= 12      1 + ceil((L - 16) / 120)  L + 192
 *   account               1                         name + 128
 *
 * The worst is a private message of 17 bytes: 256 bytes for a charge of
 * 209, a ratio of 1.225 (a 61-byte broadcast: 256 for 253; beyond two
 * chunks 120 bytes of text cost 128 and the ratio only falls); the chunk
 * at the head of each page, which links the pages, adds 1/8191.  Beyond
 * the charges: each logged-in user's own chunk; a gap kept in the log
 * while readers stand at it (below), at most one per user; the log's end;
 * the partly carved last page; and the sorted user arrays, grown by
 * doubling.  With at most 21,843 users (one List frame) these are 5.4
 * MiB, 1 MiB and 1 MiB, so for every sequence of calls the chat holds
 * less than
 *
 *   1.25 x max_memory + 7.4 MiB,
 *
 * which README's formula and chat_check_invariants() state.  A general
 * heap cannot promise this: the holes left between small live messages
 * fit no larger one, so malloc takes fresh memory while the charges stay
 * within the budget (and Redis's maxmemory counts the bytes handed out,
 * not the pages held).  Slab classes, as in memcached's slabs.c, waste
 * only their rounding, but a page stays with the class that first took
 * it: a budget refilled with another size needs pages moved between
 * classes, and the live messages on them moved too.  One class of chunk
 * has nothing to move; it pays with the tail of a message's last chunk
 * and a link per chunk, which the charge covers.
 *
 * Finding, never scanning.  The log is a list whose elements are stored
 * broadcasts, gaps and its end (the element the next broadcast fills in,
 * so that users waiting at the end stand at it).  Each user stands at
 * one element, and each element counts who stands there: an evicted
 * broadcast someone stands at stays as a gap until they move on, and the
 * head is freed while nobody stands there; a reader skips a gap once, and
 * there are never more gaps than users.  Accounts are in one search tree
 * by name and age whose nodes keep the most bytes and the most log
 * entries in their subtree, so the account to evict from and the one to
 * drop from the log are found in O(log accounts); a change of tally only
 * marks the account, and the marked ones are put right in the tree when
 * an eviction or a drop needs it.  Each private queue has
 * a tree of its senders by the same order, keeping the most messages:
 * a sender's count, its last message and its tree node live in its oldest
 * message in the queue and move to the next when that one goes - every
 * message ever taken from a queue is the oldest of its sender there (read
 * in order, the oldest of an account evicted, the oldest of the top
 * sender dropped), and likewise for an account's broadcasts in the log.
 */
#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "avl.h"
#include "chat.h"
#include "chunk.h"
#include "codec.h"
#include "proto.h"
#include "rules.h"
#include "xmalloc.h"

#define OF(p, type, field)	((type *)(void *)((char *)(p) - \
				    offsetof(type, field)))

struct acct;
struct user;

/* Text beyond a message's first chunk. */
struct more {
	struct more	*next;
	char		 text[CHUNK_SIZE - sizeof(struct more *)];
};
#define MORE_TEXT	(CHUNK_SIZE - sizeof(struct more *))

/* What every stored message has. */
struct msg {
	TAILQ_ENTRY(msg)	 by_acct;	/* its payer's, oldest first */
	struct more		*more;
	/* Log seq (broadcast) or the log end when queued (private). */
	uint64_t		 seq:47;
	uint64_t		 priv:1;
	uint64_t		 len:16;	/* <= TEXT_MAX */
};
TAILQ_HEAD(msg_list, msg);

/*
 * An element of the log: a broadcast, a gap (acct NULL) where one was
 * dropped while readers stood at it, or the end.
 */
struct entry {
	struct msg		 m;
	TAILQ_ENTRY(entry)	 log;
	struct entry		*next_by_payer;	/* its payer's next broadcast */
	struct acct		*acct;
	uint32_t		 here;		/* users standing at it */
	char			 text[];
};
TAILQ_HEAD(entry_list, entry);
#define ENTRY_TEXT	(CHUNK_SIZE - offsetof(struct entry, text))

/* One payer's messages in one private queue, kept in the oldest of them. */
struct sender {
	struct avl_node		 node;		/* in the owner's senders */
	struct acct		*acct;
	struct user		*owner;
	struct pmsg		*last;
	uint32_t		 n;		/* its messages in the queue */
	uint32_t		 most;		/* the largest n in the subtree */
};

/* A message for one user, ordered among broadcasts by seq. */
struct pmsg {
	struct msg		 m;
	TAILQ_ENTRY(pmsg)	 q;
	struct pmsg		*next_by_payer;	/* in the same queue */
	struct sender		 s;		/* valid in the payer's oldest */
	char			 text[];
};
TAILQ_HEAD(pmsg_list, pmsg);
#define PMSG_TEXT	(CHUNK_SIZE - offsetof(struct pmsg, text))

/* An account's two tallies, each kept as its subtree's largest too. */
enum { BYTES, NLOG };

/* Who pays for stored messages (see the policy above). */
struct acct {
	struct avl_node		 node;		/* in c->accts */
	size_t			 bytes;		/* of its stored messages */
	size_t			 most_bytes;	/* the most in its subtree */
	uint32_t		 nlog;		/* its broadcasts in the log */
	uint32_t		 most_nlog;
	struct msg_list		 msgs;
	struct entry		*log_first;	/* its broadcasts, oldest */
	struct entry		*log_last;	/* first, linked by payer */
	uint64_t		 id;		/* older accounts first */
	TAILQ_ENTRY(acct)	 dirty;		/* most_* not yet updated */
	uint8_t			 in;		/* a user is logged in as it */
	uint8_t			 namelen;
	char			 name[USER_MAX];	/* zeros after the name */
};
TAILQ_HEAD(acct_list, acct);

struct user {
	char			 name[USER_MAX];
	uint8_t			 namelen;
	uint32_t		 pq_n;
	struct acct		*acct;
	struct entry		*at;		/* the log element it stands at */
	uint64_t		 pos;		/* next broadcast not passed */
	struct pmsg_list	 pq;		/* private queue */
	struct avl_node		*senders;	/* its payers, by name and age */
	size_t			 dropped;	/* since the last drop notice */
	int64_t			 last;		/* last Register or CheckMessages */
	TAILQ_ENTRY(user)	 idle;		/* least recently active first */
};
TAILQ_HEAD(user_list, user);

_Static_assert(sizeof(struct entry) <= CHUNK_SIZE, "an entry in a chunk");
_Static_assert(sizeof(struct pmsg) <= CHUNK_SIZE, "a message in a chunk");
_Static_assert(sizeof(struct acct) <= CHUNK_SIZE, "an account in a chunk");
_Static_assert(sizeof(struct user) <= CHUNK_SIZE, "a user in a chunk");
_Static_assert(sizeof(struct more) == CHUNK_SIZE, "text in whole chunks");

/*
 * The memory bound (the table at the top): bytes of chunks, a page's
 * link included, times 4 against the charge times 5.  One and two chunks
 * at the shortest texts that need them are the worst; from then on each
 * chunk brings more text than 4/5 of its size.
 */
#define PAGED(chunks)	((chunks) * CHUNK_SIZE * (CHUNK_PER_PAGE + 1))
#define PAYS(chunks, charge) \
	(4 * PAGED(chunks) <= 5 * (charge) * CHUNK_PER_PAGE)
#define SAY_MIN		7	/* "a says " */
#define TELL_MIN	12	/* "a tells you " */
_Static_assert(PAYS(1, SAY_MIN + CHAT_MSG_CHARGE), "short broadcast");
_Static_assert(PAYS(2, ENTRY_TEXT + 1 + CHAT_MSG_CHARGE), "broadcast");
_Static_assert(TELL_MIN > PMSG_TEXT ||
    PAYS(1, TELL_MIN + CHAT_MSG_CHARGE), "short private message");
_Static_assert(PAYS(2, PMSG_TEXT + 1 + CHAT_MSG_CHARGE), "private message");
_Static_assert(5 * MORE_TEXT >= 4 * CHUNK_SIZE, "longer texts pay more");
_Static_assert(PAYS(1, 1 + CHAT_USER_CHARGE), "an account");

struct chat {
	struct chat_limits lim;
	struct chunk_pool *pool;

	struct user	**users;	/* sorted by name bytes */
	uint64_t	*keys;		/* name_key of each, in one array */
	size_t		 nusers;
	size_t		 users_cap;
	size_t		 list_bytes;	/* List response: count, names, error */

	struct entry_list log;		/* oldest first, the end last */
	struct entry	*end;		/* its seq: the next broadcast's */
	size_t		 nlog;		/* broadcasts stored */
	size_t		 ngaps;

	/* Ordered by last, since time only moves forward. */
	struct user_list idle;

	/* The byte budget. */
	struct avl_node	*accts;		/* every account, by name and age */
	struct acct_list dirty;		/* their summaries to update */
	size_t		 naccts;
	size_t		 charged;
	uint64_t	 next_acct_id;
	struct acct	*pinned;	/* being charged: not freed meanwhile */
	uint64_t	 evicted;
};

/* Count and empty error around a string list response. */
#define LIST_OVERHEAD	4


/* Text assembled from pieces: user bytes may hold NULs, so no printf. */
static size_t
parts_len(const struct span *v, size_t n)
{
	size_t i, len = 0;

	/* Each piece is a wire string or a literal: the sum cannot wrap. */
	for (i = 0; i < n; i++)
		len += v[i].len;
	return len;
}

static int
name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c;

	c = n > 0 ? memcmp(a, b, n) : 0;
	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

/*
 * The first 8 bytes of a name, big-endian, zeros after its end: names
 * whose keys differ compare as their keys do, so the search below
 * compares integers in one array and reads a user's name only to break a
 * tie, every call being a lookup.
 */
static uint64_t
name_key(const char *p, size_t len)
{
	uint64_t k = 0;

	memcpy(&k, p, len < sizeof k ? len : sizeof k);
	return be64toh(k);
}

/* Index of the user, or where it would be inserted (*found = 0). */
static size_t
user_find(const struct chat *c, struct span name, int *found)
{
	size_t lo = 0, hi = c->nusers, mid;
	const struct user *u;
	uint64_t key = name_key(name.p, name.len);
	int cmp;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (key != c->keys[mid])
			cmp = key < c->keys[mid] ? -1 : 1;
		else {
			u = c->users[mid];
			cmp = name_cmp(name.p, name.len, u->name, u->namelen);
		}
		if (cmp == 0) {
			*found = 1;
			return mid;
		}
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* The index of a logged-in user in *i, or -1 if there is none. */
static int
user_index(const struct chat *c, struct span name, size_t *i)
{
	int found;

	if (name.len == 0 || name.len > USER_MAX)
		return -1;
	*i = user_find(c, name, &found);
	return found ? 0 : -1;
}

static struct user *
user_lookup(const struct chat *c, struct span name)
{
	size_t i;

	return user_index(c, name, &i) == 0 ? c->users[i] : NULL;
}

/* Message text, in a first chunk and a chain of more. */

/* Copies the pieces into the first chunk's room, then into more chunks. */
static void
text_put(struct chat *c, struct msg *m, char *dst, size_t room,
    const struct span *v, size_t n)
{
	struct more **link = &m->more, *more;
	size_t i, off, k;

	for (i = 0; i < n; i++)
		for (off = 0; off < v[i].len; off += k) {
			if (room == 0) {
				more = chunk_alloc(c->pool);
				*link = more;
				link = &more->next;
				dst = more->text;
				room = MORE_TEXT;
			}
			k = v[i].len - off < room ? v[i].len - off : room;
			memcpy(dst, v[i].p + off, k);
			dst += k;
			room -= k;
		}
	*link = NULL;
}

/* Appends a text longer than its first chunk as a wire string. */
static void
text_get_long(struct buf *out, const struct msg *m, const char *first,
    size_t room)
{
	const struct more *more;
	size_t len = m->len, k;
	char *p;

	p = buf_reserve(out, str_wire_size(len));
	out->len += str_wire_size(len);
	*p++ = (char)(len >> 8);
	*p++ = (char)len;
	memcpy(p, first, room);
	p += room;
	len -= room;
	for (more = m->more; len > 0; more = more->next) {
		k = len < MORE_TEXT ? len : MORE_TEXT;
		memcpy(p, more->text, k);
		p += k;
		len -= k;
	}
}

/* Appends the text as a wire string. */
static inline void
text_get(struct buf *out, const struct msg *m, const char *first,
    size_t room)
{
	if (m->len <= room)
		put_str(out, (struct span){ first, m->len });
	else
		text_get_long(out, m, first, room);
}

static void
text_free(struct chat *c, struct msg *m)
{
	struct more *more, *next;

	for (more = m->more; more != NULL; more = next) {
		next = more->next;
		chunk_free(c->pool, more);
	}
	m->more = NULL;
}

static size_t
msg_charge(const struct msg *m)
{
	return (size_t)m->len + CHAT_MSG_CHARGE;
}

/*
 * Accounts, in one tree that finds the one with the most.  A change of
 * tally only marks the account: the tree's summaries are brought up to
 * date when they are needed, at an eviction or a drop, so the calls of
 * a chat that stays within its limits never walk the tree.
 */

static int
acct_order(const struct acct *a, const struct acct *b)
{
	uint64_t x = name_key(a->name, sizeof x), y = name_key(b->name, sizeof y);
	int cmp;

	/* Zeros follow a name and no name holds one: keys order names. */
	if (x != y)
		return x < y ? -1 : 1;
	cmp = name_cmp(a->name, a->namelen, b->name, b->namelen);
	if (cmp != 0)
		return cmp;
	return (a->id > b->id) - (a->id < b->id);
}

static int
acct_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return acct_order(OF(a, struct acct, node), OF(b, struct acct, node));
}

static void
acct_fix(struct avl_node *node)
{
	struct acct *a = OF(node, struct acct, node), *k;
	struct avl_node *kids[2] = { node->left, node->right };
	int i;

	a->most_bytes = a->bytes;
	a->most_nlog = a->nlog;
	for (i = 0; i < 2; i++) {
		if (kids[i] == NULL)
			continue;
		k = OF(kids[i], struct acct, node);
		if (k->most_bytes > a->most_bytes)
			a->most_bytes = k->most_bytes;
		if (k->most_nlog > a->most_nlog)
			a->most_nlog = k->most_nlog;
	}
}

static const struct avl_ops acct_ops = { acct_cmp, acct_fix };

static size_t
tally(const struct avl_node *node, int d, int most)
{
	const struct acct *a = OF(node, struct acct, node);

	if (d == BYTES)
		return most ? a->most_bytes : a->bytes;
	return most ? a->most_nlog : a->nlog;
}

/*
 * The account with the most of tally d: the first in order (smallest
 * name, then older) among those that have it.  NULL if every one has 0.
 */
static struct acct *
acct_top(struct chat *c, int d)
{
	const struct avl_node *t;
	struct acct *a;
	size_t most;

	while ((a = TAILQ_FIRST(&c->dirty)) != NULL) {
		TAILQ_REMOVE(&c->dirty, a, dirty);
		a->dirty.tqe_prev = NULL;
		avl_update(&c->accts, &a->node, &acct_ops);
	}
	if ((t = c->accts) == NULL || (most = tally(t, d, 1)) == 0)
		return NULL;
	for (;;) {
		if (t->left != NULL && tally(t->left, d, 1) == most)
			t = t->left;
		else if (tally(t, d, 0) == most)
			return OF(t, struct acct, node);
		else
			t = t->right;
	}
}

/* The account's tallies changed. */
static void
acct_changed(struct chat *c, struct acct *a)
{
	if (a->dirty.tqe_prev == NULL)
		TAILQ_INSERT_TAIL(&c->dirty, a, dirty);
}

static size_t
acct_charge(const struct acct *a)
{
	return a->namelen + CHAT_USER_CHARGE;
}

static struct acct *
acct_new(struct chat *c, struct span name)
{
	struct acct *a;

	a = chunk_alloc(c->pool);
	memset(a, 0, sizeof *a);
	TAILQ_INIT(&a->msgs);
	a->id = c->next_acct_id++;
	memcpy(a->name, name.p, name.len);
	a->namelen = (uint8_t)name.len;
	a->in = 1;
	avl_insert(&c->accts, &a->node, &acct_ops);
	c->naccts++;
	c->charged += acct_charge(a);
	return a;
}

/* Frees an account nobody is logged in as and nothing is charged to. */
static void
acct_maybe_free(struct chat *c, struct acct *a)
{
	if (a->in || !TAILQ_EMPTY(&a->msgs) || a == c->pinned)
		return;
	if (a->dirty.tqe_prev != NULL)
		TAILQ_REMOVE(&c->dirty, a, dirty);
	avl_remove(&c->accts, &a->node, &acct_ops);
	c->naccts--;
	c->charged -= acct_charge(a);
	chunk_free(c->pool, a);
}

/* Charges a message to its payer (the caller calls acct_changed). */
static void
charge(struct chat *c, struct msg *m, struct acct *a)
{
	TAILQ_INSERT_TAIL(&a->msgs, m, by_acct);
	a->bytes += msg_charge(m);
	c->charged += msg_charge(m);
}

static void
uncharge(struct chat *c, struct msg *m, struct acct *a)
{
	TAILQ_REMOVE(&a->msgs, m, by_acct);
	a->bytes -= msg_charge(m);
	c->charged -= msg_charge(m);
}

/* The log. */

/* The log element the next broadcast will fill in. */
static void
log_new_end(struct chat *c, uint64_t seq)
{
	struct entry *e;

	e = chunk_alloc(c->pool);
	memset(e, 0, sizeof *e);
	e->m.seq = seq;
	TAILQ_INSERT_TAIL(&c->log, e, log);
	c->end = e;
}

/* The next stored broadcast at or after e, or the end. */
static struct entry *
entry_live(const struct chat *c, struct entry *e)
{
	while (e->acct == NULL && e != c->end)
		e = TAILQ_NEXT(e, log);
	return e;
}

/* Frees a log element nobody stands at; it holds no broadcast. */
static void
entry_unlink(struct chat *c, struct entry *e)
{
	TAILQ_REMOVE(&c->log, e, log);
	chunk_free(c->pool, e);
}

/*
 * Takes a stored broadcast out of the log: uncharged, its text freed,
 * itself freed unless users stand at it (then it is a gap they count as
 * dropped).  It is always its payer's oldest (chat.c's top).
 */
static void
entry_remove(struct chat *c, struct entry *e)
{
	struct acct *a = e->acct;

	if (a->log_first != e)
		abort();
	if ((a->log_first = e->next_by_payer) == NULL)
		a->log_last = NULL;
	a->nlog--;
	c->nlog--;
	uncharge(c, &e->m, a);
	text_free(c, &e->m);
	e->acct = NULL;
	e->m.len = 0;
	acct_changed(c, a);
	acct_maybe_free(c, a);
	if (e->here > 0)
		c->ngaps++;
	else
		entry_unlink(c, e);
}

/* Frees the broadcasts nobody stands at or before. */
static void
log_collect(struct chat *c)
{
	struct entry *e;

	/* Gaps nobody stands at are gone already: the head is stored. */
	while ((e = TAILQ_FIRST(&c->log)) != c->end && e->here == 0)
		entry_remove(c, e);
}

static void
user_stand(struct user *u, struct entry *e)
{
	u->at = e;
	e->here++;
}

/* The user leaves its element; a gap nobody stands at goes. */
static void
user_leave(struct chat *c, struct user *u)
{
	struct entry *e = u->at;

	u->at = NULL;
	if (--e->here == 0 && e->acct == NULL && e != c->end) {
		entry_unlink(c, e);
		c->ngaps--;
	}
}

/* Private queues. */

static int
sender_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return acct_order(OF(a, struct sender, node)->acct,
	    OF(b, struct sender, node)->acct);
}

static void
sender_fix(struct avl_node *node)
{
	struct sender *s = OF(node, struct sender, node), *k;

	s->most = s->n;
	if (node->left != NULL &&
	    (k = OF(node->left, struct sender, node))->most > s->most)
		s->most = k->most;
	if (node->right != NULL &&
	    (k = OF(node->right, struct sender, node))->most > s->most)
		s->most = k->most;
}

static const struct avl_ops sender_ops = { sender_cmp, sender_fix };

/*
 * The oldest message in the user's queue of its sender with the most
 * there (ties: the first in order).  The queue is not empty.
 */
static struct pmsg *
queue_top(const struct user *u)
{
	const struct avl_node *t = u->senders;
	uint32_t most = OF(t, struct sender, node)->most;

	for (;;) {
		if (t->left != NULL &&
		    OF(t->left, struct sender, node)->most == most)
			t = t->left;
		else if (OF(t, struct sender, node)->n == most)
			return OF(t, struct pmsg, s.node);
		else
			t = t->right;
	}
}

static void
pq_push(struct user *u, struct pmsg *m, struct acct *a)
{
	struct avl_node *node;
	struct sender key, *s;

	TAILQ_INSERT_TAIL(&u->pq, m, q);
	u->pq_n++;
	m->next_by_payer = NULL;
	key.acct = a;
	if ((node = avl_find(u->senders, &key.node, &sender_ops)) != NULL) {
		s = OF(node, struct sender, node);
		s->last->next_by_payer = m;
		s->last = m;
		s->n++;
		avl_update(&u->senders, node, &sender_ops);
		return;
	}
	m->s.acct = a;
	m->s.owner = u;
	m->s.last = m;
	m->s.n = 1;
	avl_insert(&u->senders, &m->s.node, &sender_ops);
}

/*
 * Takes a message out of its queue and frees it.  It is the oldest of
 * its sender there (chat.c's top), holding the sender's record, which
 * moves on to the next.  The caller counts it as read or dropped.
 */
static void
pq_remove(struct chat *c, struct pmsg *m)
{
	struct user *u = m->s.owner;
	struct acct *a = m->s.acct;
	struct pmsg *next = m->next_by_payer;

	TAILQ_REMOVE(&u->pq, m, q);
	u->pq_n--;
	if (next != NULL) {
		next->s = m->s;
		next->s.n--;
		avl_replace(&u->senders, &m->s.node, &next->s.node,
		    &sender_ops);
	} else
		avl_remove(&u->senders, &m->s.node, &sender_ops);
	uncharge(c, &m->m, a);
	text_free(c, &m->m);
	chunk_free(c->pool, m);
	acct_changed(c, a);
	acct_maybe_free(c, a);
}

/* Evictions and drops. */

/* Evicts the oldest message of the account charged the most. */
static void
evict_one(struct chat *c, struct acct *a)
{
	struct msg *m = TAILQ_FIRST(&a->msgs);
	struct pmsg *p;

	if (m->priv) {
		p = OF(m, struct pmsg, m);
		p->s.owner->dropped++;
		pq_remove(c, p);
	} else
		entry_remove(c, OF(m, struct entry, m));
	c->evicted++;
	log_collect(c);
}

/*
 * Evicts until need more bytes fit in the budget (PROTOCOL.md §4.4),
 * keeping the account about to be charged.  Returns -1 if they still do
 * not fit.
 */
static int
make_room(struct chat *c, size_t need, struct acct *payer)
{
	struct acct *top;

	c->pinned = payer;
	while ((c->charged > c->lim.max_memory ||
	    need > c->lim.max_memory - c->charged) &&
	    (top = acct_top(c, BYTES)) != NULL)
		evict_one(c, top);
	c->pinned = NULL;
	return c->charged <= c->lim.max_memory &&
	    need <= c->lim.max_memory - c->charged ? 0 : -1;
}

/* The log is full: drops the oldest broadcast of the account with most. */
static void
log_drop(struct chat *c, struct acct *payer)
{
	c->pinned = payer;
	entry_remove(c, acct_top(c, NLOG)->log_first);
	log_collect(c);
	c->pinned = NULL;
}

/* The queue is full: drops the oldest message of the sender with most. */
static void
queue_drop(struct chat *c, struct user *u, struct acct *payer)
{
	c->pinned = payer;
	u->dropped++;
	pq_remove(c, queue_top(u));
	c->pinned = NULL;
}

static void
log_append(struct chat *c, struct acct *payer, const struct span *v,
    size_t n, size_t readers)
{
	struct entry *e;
	size_t len;

	/* Nobody would read it. */
	if (readers == 0)
		return;
	len = parts_len(v, n);
	if (c->nlog >= c->lim.queue_limit)
		log_drop(c, payer);
	/* Logged-in users alone never fill the budget (chat.c's top). */
	(void)make_room(c, len + CHAT_MSG_CHARGE, payer);

	/* Those waiting at the end stand at it. */
	e = c->end;
	e->acct = payer;
	e->m.len = len;
	text_put(c, &e->m, e->text, ENTRY_TEXT, v, n);
	if (payer->log_last != NULL)
		payer->log_last->next_by_payer = e;
	else
		payer->log_first = e;
	payer->log_last = e;
	payer->nlog++;
	c->nlog++;
	charge(c, &e->m, payer);
	acct_changed(c, payer);
	log_new_end(c, e->m.seq + 1);
	log_collect(c);
}

/* Lets go of everything the user has not read; log_collect afterwards. */
static void
user_release(struct chat *c, struct user *u)
{
	user_leave(c, u);
	while (u->pq_n > 0)
		pq_remove(c, TAILQ_FIRST(&u->pq));
	u->dropped = 0;
}

static void
user_send(struct chat *c, struct acct *payer, struct user *u,
    const struct span *v, size_t n)
{
	struct pmsg *m;
	size_t len;

	len = parts_len(v, n);
	if (u->pq_n >= c->lim.queue_limit)
		queue_drop(c, u, payer);
	(void)make_room(c, len + CHAT_MSG_CHARGE, payer);
	m = chunk_alloc(c->pool);
	m->m.seq = c->end->m.seq;
	m->m.priv = 1;
	m->m.len = len;
	text_put(c, &m->m, m->text, PMSG_TEXT, v, n);
	charge(c, &m->m, payer);
	pq_push(u, m, payer);
	acct_changed(c, payer);
	log_collect(c);
}

/* "*** NAME WHAT", charged to the account it is about. */
static void
announce(struct chat *c, struct acct *a, const char *what, size_t readers)
{
	struct span v[3];

	v[0] = SPAN_LIT("*** ");
	v[1] = (struct span){ a->name, a->namelen };
	v[2] = span_cstr(what);
	log_append(c, a, v, 3, readers);
}

/* Removes users[i] and tells the others, as Quit does. */
static void
user_remove(struct chat *c, size_t i)
{
	struct user *u = c->users[i];
	struct acct *a = u->acct;

	user_release(c, u);
	memmove(&c->users[i], &c->users[i + 1],
	    (c->nusers - i - 1) * sizeof *c->users);
	memmove(&c->keys[i], &c->keys[i + 1],
	    (c->nusers - i - 1) * sizeof *c->keys);
	c->nusers--;
	c->list_bytes -= str_wire_size(u->namelen);
	TAILQ_REMOVE(&c->idle, u, idle);
	chunk_free(c->pool, u);

	/* The account outlives the user until its notice is charged. */
	log_collect(c);
	announce(c, a, " has logged out", c->nusers);
	a->in = 0;
	acct_maybe_free(c, a);
}

struct chat *
chat_new(const struct chat_limits *lim)
{
	struct chat *c;

	c = xcalloc(1, sizeof *c);
	c->lim = *lim;
	chat_limits_settle(&c->lim);
	c->pool = chunk_pool_new();
	TAILQ_INIT(&c->dirty);
	c->list_bytes = LIST_OVERHEAD;
	TAILQ_INIT(&c->log);
	log_new_end(c, 0);
	TAILQ_INIT(&c->idle);
	return c;
}

void
chat_free(struct chat *c)
{
	if (c == NULL)
		return;
	/* Every object is in the pool. */
	chunk_pool_free(c->pool);
	free(c->users);
	free(c->keys);
	free(c);
}

int
chat_register(struct chat *c, struct span name, int64_t now, struct buf *err)
{
	struct user *u;
	size_t i;
	int found;

	if (rules_register_name(name, err) == -1)
		return -1;

	i = user_find(c, name, &found);
	if (found) {
		/* A client that lost its session: a fresh queue. */
		u = c->users[i];
		user_release(c, u);
		TAILQ_REMOVE(&c->idle, u, idle);
	} else {
		if ((c->lim.max_users != 0 && c->nusers >= c->lim.max_users) ||
		    c->list_bytes + str_wire_size(name.len) > FRAME_MAX ||
		    make_room(c, name.len + CHAT_USER_CHARGE, NULL) == -1)
			return rules_too_many_users(err);
		u = chunk_alloc(c->pool);
		memset(u, 0, sizeof *u);
		memcpy(u->name, name.p, name.len);
		u->namelen = (uint8_t)name.len;
		TAILQ_INIT(&u->pq);
		u->acct = acct_new(c, name);
		if (c->nusers == c->users_cap) {
			c->users_cap = c->users_cap ? c->users_cap * 2 : 16;
			c->users = xreallocarray(c->users, c->users_cap,
			    sizeof *c->users);
			c->keys = xreallocarray(c->keys, c->users_cap,
			    sizeof *c->keys);
		}
		/* make_room changed no user: i is still the place. */
		memmove(&c->users[i + 1], &c->users[i],
		    (c->nusers - i) * sizeof *c->users);
		memmove(&c->keys[i + 1], &c->keys[i],
		    (c->nusers - i) * sizeof *c->keys);
		c->users[i] = u;
		c->keys[i] = name_key(name.p, name.len);
		c->nusers++;
		c->list_bytes += str_wire_size(name.len);
	}
	u->last = now;
	TAILQ_INSERT_TAIL(&c->idle, u, idle);

	/* The others see the notice; the user starts after it. */
	announce(c, u->acct, " has logged in", c->nusers - 1);
	user_stand(u, c->end);
	u->pos = c->end->m.seq;
	log_collect(c);
	return 0;
}

void
chat_list(struct chat *c, struct buf *out)
{
	size_t i;

	/* list_bytes keeps the whole list within a frame. */
	put_u16(out, c->nusers);
	for (i = 0; i < c->nusers; i++)
		put_str(out, (struct span){ c->users[i]->name,
		    c->users[i]->namelen });
}

/*
 * The idle clock moves in steps: a CheckMessages sets the user's time
 * only once it is a step old, so that the polls in between write nothing
 * to a shared store (PROTOCOL.md §7; store_redis.lua steps alike).  The
 * timeout then acts up to one step late, never early.  A tenth of the
 * timeout, at most IDLE_STEP_MAX_MS.
 */
#define IDLE_STEP_MAX_MS	5000

static int64_t
idle_step(const struct chat *c)
{
	int64_t step = c->lim.idle_timeout_ms / 10;

	return step < IDLE_STEP_MAX_MS ? step : IDLE_STEP_MAX_MS;
}

static void
idle_touch(struct chat *c, struct user *u, int64_t now)
{
	if (now - u->last < idle_step(c))
		return;
	TAILQ_REMOVE(&c->idle, u, idle);
	u->last = now;
	TAILQ_INSERT_TAIL(&c->idle, u, idle);
}

/* "*** N messages were dropped" into notice; its length. */
static size_t
drop_notice(char *notice, size_t size, size_t dropped)
{
	int len;

	len = snprintf(notice, size, "*** %zu messages were dropped", dropped);
	return len > 0 && (size_t)len < size ? (size_t)len : 0;
}

/* Wire bytes the drop notice for this count takes (0 for none). */
static size_t
drop_notice_size(size_t dropped)
{
	char notice[64];

	return dropped == 0 ? 0 :
	    str_wire_size(drop_notice(notice, sizeof notice, dropped));
}

int
chat_check_messages(struct chat *c, struct span name, int64_t now,
    struct buf *out, struct buf *err)
{
	struct user *u;
	struct pmsg *m;
	struct entry *e;
	size_t count_at, msgs_at, used, n, grow, len;
	uint64_t gap;
	char notice[64];

	if ((u = user_lookup(c, name)) == NULL) {
		if (!rules_valid_name(name)) {
			put_u16(out, 0);
			return rules_invalid_check(err);
		}
		rules_not_logged_in_list(name, out);
		return 0;
	}

	idle_touch(c, u, now);

	count_at = out->len;
	put_u16(out, 0);
	msgs_at = out->len;
	/* Messages, then the drop notice is put in front of them. */
	used = LIST_OVERHEAD + drop_notice_size(u->dropped);
	n = 0;
	e = entry_live(c, u->at);
	/* The longest prefix that fits in one frame (PROTOCOL.md §4.2). */
	for (;;) {
		/* A private message stamped s arrived before broadcast s. */
		m = u->pq_n > 0 && (e == c->end ||
		    TAILQ_FIRST(&u->pq)->m.seq <= e->m.seq) ?
		    TAILQ_FIRST(&u->pq) : NULL;
		if (m != NULL)
			len = m->m.len;
		else {
			/* Dropped before the next: more for the notice. */
			if ((gap = e->m.seq - u->pos) > 0) {
				grow = drop_notice_size(u->dropped + gap) -
				    drop_notice_size(u->dropped);
				if ((u->dropped == 0 && n >= U16_MAX) ||
				    grow > FRAME_MAX - used)
					break;
				used += grow;
				u->dropped += (size_t)gap;
				u->pos = e->m.seq;
			}
			if (e == c->end)
				break;
			len = e->m.len;
		}
		if (n + 1 + (u->dropped > 0) > U16_MAX ||
		    str_wire_size(len) > FRAME_MAX - used)
			break;
		used += str_wire_size(len);
		n++;
		if (m != NULL) {
			text_get(out, &m->m, m->text, PMSG_TEXT);
			pq_remove(c, m);
		} else {
			text_get(out, &e->m, e->text, ENTRY_TEXT);
			u->pos = e->m.seq + 1;
			e = entry_live(c, TAILQ_NEXT(e, log));
		}
	}
	/* It stands at what it has not passed. */
	if (e != u->at) {
		user_leave(c, u);
		user_stand(u, e);
	}
	if (u->dropped > 0 &&
	    (len = drop_notice(notice, sizeof notice, u->dropped)) > 0) {
		grow = str_wire_size(len);
		buf_reserve(out, grow);
		memmove(out->data + msgs_at + grow, out->data + msgs_at,
		    out->len - msgs_at);
		out->len += grow;
		out->data[msgs_at] = (char)(len >> 8);
		out->data[msgs_at + 1] = (char)len;
		memcpy(out->data + msgs_at + 2, notice, len);
		n++;
		u->dropped = 0;
	}
	out->data[count_at] = (char)(n >> 8);
	out->data[count_at + 1] = (char)n;
	log_collect(c);
	return 0;
}

int
chat_tell(struct chat *c, struct span user, struct span target,
    struct span message, struct buf *err)
{
	struct user *u, *t;
	struct buf notice = BUF_INIT;
	struct span v[3];

	if ((u = user_lookup(c, user)) == NULL)
		return rules_not_logged_in("Tell", user, err);
	if (rules_message_too_long(user, RULES_TELL_INFIX, message))
		return rules_too_long(err);

	if ((t = user_lookup(c, target)) == NULL) {
		rules_no_such_user(target, &notice);
		v[0] = (struct span){ notice.data, notice.len };
		user_send(c, u->acct, u, v, 1);
		buf_free(&notice);
		return 0;
	}
	v[0] = (struct span){ u->name, u->namelen };
	v[1] = RULES_TELL_INFIX;
	v[2] = message;
	user_send(c, u->acct, t, v, 3);
	return 0;
}

int
chat_say(struct chat *c, struct span user, struct span message,
    struct buf *err)
{
	struct user *u;
	struct span v[3];

	if ((u = user_lookup(c, user)) == NULL)
		return rules_not_logged_in("Say", user, err);
	if (rules_message_too_long(user, RULES_SAY_INFIX, message))
		return rules_too_long(err);

	v[0] = (struct span){ u->name, u->namelen };
	v[1] = RULES_SAY_INFIX;
	v[2] = message;
	log_append(c, u->acct, v, 3, c->nusers);
	return 0;
}

int
chat_quit(struct chat *c, struct span user, struct buf *err)
{
	size_t i;

	if (user_index(c, user, &i) == -1)
		return rules_not_logged_in("Quit", user, err);
	user_remove(c, i);
	return 0;
}

static int64_t
expiry(const struct chat *c, const struct user *u)
{
	int64_t late = c->lim.idle_timeout_ms + idle_step(c);

	if (u->last > INT64_MAX - late)
		return INT64_MAX;
	return u->last + late;
}

size_t
chat_expire_idle(struct chat *c, int64_t now,
    void (*expired)(void *, struct span), void *arg)
{
	struct user *u;
	struct span name;
	size_t i, n = 0;

	if (c->lim.idle_timeout_ms == 0)
		return 0;
	while ((u = TAILQ_FIRST(&c->idle)) != NULL && expiry(c, u) <= now) {
		name = (struct span){ u->name, u->namelen };
		if (expired != NULL)
			expired(arg, name);
		/* Every user on the idle list is logged in. */
		if (user_index(c, name, &i) == -1)
			abort();
		user_remove(c, i);
		n++;
	}
	return n;
}

int64_t
chat_next_expiry(const struct chat *c)
{
	if (c->lim.idle_timeout_ms == 0 || TAILQ_EMPTY(&c->idle))
		return INT64_MAX;
	return expiry(c, TAILQ_FIRST(&c->idle));
}

size_t
chat_nusers(const struct chat *c)
{
	return c->nusers;
}

int
chat_logged_in(const struct chat *c, struct span name)
{
	return user_lookup(c, name) != NULL;
}

size_t
chat_charged(const struct chat *c)
{
	return c->charged;
}

size_t
chat_budget(const struct chat *c)
{
	return c->lim.max_memory;
}

uint64_t
chat_evicted(const struct chat *c)
{
	return c->evicted;
}

size_t
chat_memory(const struct chat *c, size_t *mapped)
{
	if (mapped != NULL)
		*mapped = chunk_mapped(c->pool);
	return chunk_used(c->pool) * CHUNK_SIZE;
}

size_t
chat_pending(const struct chat *c, struct span name)
{
	const struct user *u;
	const struct entry *e;
	size_t n;

	if ((u = user_lookup(c, name)) == NULL)
		return 0;
	n = u->pq_n;
	for (e = u->at; e != c->end; e = TAILQ_NEXT(e, log))
		n += e->acct != NULL;
	return n;
}

/* The invariants of chat_check_invariants, part by part (for tests). */

/* Chunks a message's text takes, its first included. */
static size_t
msg_chunks(const struct msg *m, size_t room)
{
	return 1 + (m->len > room ?
	    (m->len - room + MORE_TEXT - 1) / MORE_TEXT : 0);
}

static int
text_chunks_right(const struct msg *m, size_t room)
{
	const struct more *more;
	size_t n = 1;

	for (more = m->more; more != NULL; more = more->next)
		n++;
	return n == msg_chunks(m, room);
}

static int
ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return (x > y) - (x < y);
}

/* What check_accts finds below a node. */
struct acct_sums {
	size_t		 n;		/* accounts */
	size_t		 charged;
	size_t		 most_bytes;
	size_t		 most_nlog;
	int		 dirty;		/* one below waits for its update */
};

/*
 * Checks the accounts below t, and the tree's summaries wherever no
 * account below waits for its update.
 */
static const char *
check_accts(const struct avl_node *t, struct acct_sums *sums)
{
	struct acct_sums l = { 0 }, r = { 0 };
	const struct acct *a;
	const struct entry *e;
	const struct msg *m;
	const char *broken;
	size_t bytes = 0, nlog = 0;

	memset(sums, 0, sizeof *sums);
	if (t == NULL)
		return NULL;
	if ((broken = check_accts(t->left, &l)) != NULL ||
	    (broken = check_accts(t->right, &r)) != NULL)
		return broken;
	a = OF(t, struct acct, node);
	TAILQ_FOREACH(m, &a->msgs, by_acct)
		bytes += msg_charge(m);
	if (bytes != a->bytes)
		return "account bytes do not match its messages";
	for (e = a->log_first; e != NULL; e = e->next_by_payer) {
		if (e->acct != a)
			return "broadcast on another account's list";
		if (e->next_by_payer == NULL ? e != a->log_last :
		    e->next_by_payer->m.seq <= e->m.seq)
			return "account's broadcasts out of order";
		nlog++;
	}
	if (nlog != a->nlog)
		return "account's broadcast count wrong";
	if (!a->in && TAILQ_EMPTY(&a->msgs))
		return "an account nobody uses kept";
	sums->n = l.n + r.n + 1;
	sums->charged = l.charged + r.charged + acct_charge(a) + a->bytes;
	sums->most_bytes = a->bytes;
	sums->most_nlog = a->nlog;
	if (l.most_bytes > sums->most_bytes)
		sums->most_bytes = l.most_bytes;
	if (r.most_bytes > sums->most_bytes)
		sums->most_bytes = r.most_bytes;
	if (l.most_nlog > sums->most_nlog)
		sums->most_nlog = l.most_nlog;
	if (r.most_nlog > sums->most_nlog)
		sums->most_nlog = r.most_nlog;
	sums->dirty = l.dirty || r.dirty || a->dirty.tqe_prev != NULL;
	if (!sums->dirty && (a->most_bytes != sums->most_bytes ||
	    a->most_nlog != sums->most_nlog))
		return "account tree's summary wrong";
	return NULL;
}

/* Where each message of a private queue is in it. */
struct qpos {
	uintptr_t	 m;
	size_t		 i;
};

static int
qpos_cmp(const void *a, const void *b)
{
	uintptr_t x = ((const struct qpos *)a)->m;
	uintptr_t y = ((const struct qpos *)b)->m;

	return (x > y) - (x < y);
}

/*
 * Checks the senders' records below t: each chain holds its count of
 * queued messages, in queue order, none held twice (seen).
 */
static const char *
check_senders(const struct avl_node *t, const struct user *u,
    const struct qpos *pos, char *seen, size_t *total)
{
	const struct sender *s, *k;
	const struct pmsg *m;
	const struct qpos *at;
	const char *broken;
	struct qpos key;
	size_t count = 0, last = 0;
	uint32_t most;

	if (t == NULL)
		return NULL;
	if ((broken = check_senders(t->left, u, pos, seen, total)) != NULL ||
	    (broken = check_senders(t->right, u, pos, seen, total)) != NULL)
		return broken;
	s = OF(t, struct sender, node);
	most = s->n;
	if (t->left != NULL &&
	    (k = OF(t->left, struct sender, node))->most > most)
		most = k->most;
	if (t->right != NULL &&
	    (k = OF(t->right, struct sender, node))->most > most)
		most = k->most;
	if (s->most != most)
		return "senders' tree summary wrong";
	if (s->owner != u)
		return "sender's record of another queue";
	for (m = OF(s, struct pmsg, s); m != NULL; m = m->next_by_payer) {
		key.m = (uintptr_t)m;
		at = bsearch(&key, pos, u->pq_n, sizeof *pos, qpos_cmp);
		if (at == NULL || seen[at->i] || (count > 0 && at->i <= last))
			return "sender's messages not its own, in order";
		seen[at->i] = 1;
		last = at->i;
		if (m->next_by_payer == NULL && m != s->last)
			return "sender's last message wrong";
		count++;
	}
	if (count != s->n)
		return "sender's count wrong";
	*total += count;
	return NULL;
}

/*
 * Checks the user's private queue: in order, within its limit, and made
 * exactly of its senders' chains, each in queue order from the oldest.
 */
static const char *
check_queue(const struct chat *c, const struct user *u, size_t *chunks)
{
	const struct pmsg *m;
	const char *broken = NULL;
	struct qpos *pos;
	uint64_t stamp = 0;
	size_t n = 0, total = 0;
	char *seen;

	if (u->pq_n > c->lim.queue_limit)
		return "private queue over the queue limit";
	if (avl_check(u->senders, &sender_ops) < 0)
		return "senders' tree out of order or balance";
	pos = xreallocarray(NULL, u->pq_n + 1, sizeof *pos);
	TAILQ_FOREACH(m, &u->pq, q) {
		if (m->m.seq < stamp || m->m.seq > c->end->m.seq)
			broken = "private message stamps out of order";
		else if (m->m.len > TEXT_MAX || !m->m.priv ||
		    !text_chunks_right(&m->m, PMSG_TEXT))
			broken = "private message malformed";
		else if (n == u->pq_n)
			broken = "private queue count wrong";
		if (broken != NULL)
			break;
		stamp = m->m.seq;
		*chunks += msg_chunks(&m->m, PMSG_TEXT);
		pos[n] = (struct qpos){ (uintptr_t)m, n };
		n++;
	}
	if (broken == NULL && n != u->pq_n)
		broken = "private queue count wrong";
	if (broken == NULL) {
		qsort(pos, n, sizeof *pos, qpos_cmp);
		seen = xcalloc(n + 1, 1);
		broken = check_senders(u->senders, u, pos, seen, &total);
		if (broken == NULL && total != n)
			broken = "a queued message no sender holds";
		free(seen);
	}
	free(pos);
	return broken;
}

/* Checks the log and where the users stand in it; counts its chunks. */
static const char *
check_log(const struct chat *c, size_t *chunks)
{
	const struct entry *e, *p;
	const struct user *u;
	uintptr_t *at, key;
	uintptr_t *lo;
	size_t i, here, total = 0, nlog = 0, ngaps = 0;
	const char *broken = NULL;

	at = xreallocarray(NULL, c->nusers + 1, sizeof *at);
	for (i = 0; i < c->nusers; i++)
		at[i] = (uintptr_t)c->users[i]->at;
	qsort(at, c->nusers, sizeof *at, ptr_cmp);
	TAILQ_FOREACH(e, &c->log, log) {
		p = TAILQ_PREV(e, entry_list, log);
		if (p != NULL && e->m.seq <= p->m.seq) {
			broken = "log elements out of order";
			break;
		}
		/* Users standing here: a run in the sorted array. */
		key = (uintptr_t)e;
		lo = bsearch(&key, at, c->nusers, sizeof *at, ptr_cmp);
		here = 0;
		if (lo != NULL) {
			while (lo > at && lo[-1] == key)
				lo--;
			while (lo + here < at + c->nusers && lo[here] == key)
				here++;
		}
		total += here;
		if (here != e->here) {
			broken = "log element's reader count wrong";
			break;
		}
		if (e->m.priv) {
			broken = "private message in the log";
			break;
		}
		if (e == c->end)
			continue;
		if (e->acct == NULL) {
			if (e->here == 0 || e->m.len != 0 || e->m.more != NULL)
				broken = "a gap nobody stands at, or with text";
			ngaps++;
		} else {
			if (e->m.len > TEXT_MAX ||
			    !text_chunks_right(&e->m, ENTRY_TEXT))
				broken = "log entry malformed";
			*chunks += msg_chunks(&e->m, ENTRY_TEXT);
			nlog++;
		}
		if (p == NULL && e->here == 0)
			broken = "log head nobody needs";
		if (broken != NULL)
			break;
	}
	free(at);
	if (broken != NULL)
		return broken;
	if (TAILQ_LAST(&c->log, entry_list) != c->end || c->end->acct != NULL)
		return "log does not end with its end";
	if (total != c->nusers)
		return "a user stands outside the log";
	if (nlog != c->nlog || ngaps != c->ngaps)
		return "log counts wrong";
	if (c->nlog > c->lim.queue_limit)
		return "log longer than the queue limit";
	for (i = 0; i < c->nusers; i++) {
		u = c->users[i];
		if (u->pos > u->at->m.seq)
			return "user position past where it stands";
		/* Nothing stored between its position and its element. */
		for (p = TAILQ_PREV(u->at, entry_list, log);
		    p != NULL && p->m.seq >= u->pos;
		    p = TAILQ_PREV(p, entry_list, log))
			if (p->acct != NULL)
				return "user stands past a broadcast unread";
	}
	*chunks += ngaps + 1;
	return NULL;
}

const char *
chat_check_invariants(const struct chat *c)
{
	const struct user *u, *prev;
	const char *broken;
	struct acct_sums sums;
	size_t i, bytes, nidle, naccts, chunks;

	bytes = LIST_OVERHEAD;
	chunks = c->nusers;
	for (i = 0; i < c->nusers; i++) {
		u = c->users[i];
		if (u->namelen == 0 || u->namelen > USER_MAX)
			return "user name length out of range";
		if (i > 0 && name_cmp(c->users[i - 1]->name,
		    c->users[i - 1]->namelen, u->name, u->namelen) >= 0)
			return "users not sorted and unique";
		if (c->keys[i] != name_key(u->name, u->namelen))
			return "user key not its name's";
		if (u->acct == NULL || !u->acct->in)
			return "user and account not linked";
		bytes += str_wire_size(u->namelen);
		if ((broken = check_queue(c, u, &chunks)) != NULL)
			return broken;
	}
	if (bytes != c->list_bytes)
		return "list_bytes does not match the users";
	if (c->list_bytes > FRAME_MAX)
		return "List response larger than a frame";
	if (c->lim.max_users != 0 && c->nusers > c->lim.max_users)
		return "more users than max_users";

	nidle = 0;
	prev = NULL;
	TAILQ_FOREACH(u, &c->idle, idle) {
		if (TAILQ_PREV(u, user_list, idle) != prev)
			return "idle list links broken";
		if (user_lookup(c, (struct span){ u->name, u->namelen }) != u)
			return "idle list holds an unknown user";
		if (++nidle > c->nusers)
			return "idle list longer than the users";
		prev = u;
	}
	if (prev != TAILQ_LAST(&c->idle, user_list) || nidle != c->nusers)
		return "idle list does not hold every user";

	if ((broken = check_log(c, &chunks)) != NULL)
		return broken;
	if (avl_check(c->accts, &acct_ops) < 0)
		return "account tree out of order or balance";
	if ((broken = check_accts(c->accts, &sums)) != NULL)
		return broken;
	naccts = sums.n;
	if (naccts != c->naccts)
		return "account count wrong";
	if (sums.charged != c->charged)
		return "charges do not add up";
	if (c->charged > c->lim.max_memory)
		return "charged beyond the budget";
	/* Every chunk is accounted for, and paid for (chat.c's top). */
	chunks += naccts;
	if (chunks != chunk_used(c->pool))
		return "chunks in use do not match the objects";
	if (4 * (chunks - c->nusers - c->ngaps - 1) * CHUNK_SIZE >
	    5 * c->charged)
		return "chunks in use beyond 1.25 times the charges";
	return NULL;
}
