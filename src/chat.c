/*
 * chat.c - the chat state (see chat.h).
 *
 * Broadcasts (Say, login and logout notices) go to one shared log, a ring
 * of reference-counted entries in the order of their sequence numbers;
 * each user reads it from its own position, the number of the next
 * broadcast it has not passed.  An entry's count is the number of users
 * whose position is at or before it, so it is freed when the last of them
 * reads, drops or leaves it.  Numbers missing from the ring (an entry
 * evicted from the middle, or trimmed from the head) are a gap a reader
 * counts as dropped when its position passes it.  Tells and "No such
 * user" notices have one reader and go to that user's private queue,
 * stamped with the log's next sequence number so CheckMessages can merge
 * the two streams in arrival order.
 *
 * A Say touches no user.  The queue limit is applied lazily: whenever a
 * user is looked at, the oldest messages of its merged stream are dropped
 * until at most queue_limit remain.  Since no user can keep more than
 * queue_limit broadcasts, the log is also trimmed to that many entries.
 *
 * The byte budget (PROTOCOL.md §4.4).  This is the policy a shared store must
 * mirror exactly:
 *
 *  - Charges.  A stored message costs its text length plus
 *    CHAT_MSG_CHARGE (64).  An account costs its name length plus
 *    CHAT_USER_CHARGE (128); an account exists while its user is logged
 *    in or while messages charged to it are stored.  A user who logs out
 *    while messages charged to it remain leaves a lingering account; a
 *    later Register of the same name opens a new account (the two are not
 *    merged: names are not authenticated, so a sender is only a name for
 *    as long as it is logged in).  Registering a name that is logged in
 *    keeps its account and adds no charge.  Register stores the account
 *    first, then its login notice.
 *  - Who pays.  A Say (stored once in the log) is charged once, to its
 *    sender; a Tell to its sender; "*** X has logged in/out" to X; "***
 *    No such user: T" to the sender who got it.  A message nobody would
 *    read (a notice with no other user) is not stored and costs nothing.
 *  - Eviction.  Before a message or a new account is stored, while the
 *    charges plus the new item would exceed the budget, the oldest stored
 *    message of the account whose stored messages are charged the most
 *    bytes (account charges not counted) is evicted.  Ties go to the
 *    account whose name is smallest in byte order, then to the older
 *    account.  The account being charged for the new item is never
 *    freed by its own eviction.
 *  - An evicted message is gone for every user who had not read it, and
 *    each of them counts it in their "*** N messages were dropped" notice:
 *    a private message at once, a broadcast when the reader's position
 *    passes it.
 *  - Say and Tell are never refused for memory: logged-in users alone
 *    cannot fill the smallest budget (List fits at most 21843 names, at
 *    most 2.8 MB of charges < 4M), so eviction always makes room.  A
 *    Register that still does not fit fails with "Register: too many
 *    users".
 *
 * The account to evict from is the top of a max-heap keyed as above, so
 * every charge and eviction costs O(log accounts), never a scan; an
 * evicted broadcast leaves the ring by moving its shorter side (the
 * oldest messages are usually near the head), so the ring holds only
 * stored entries and its slots are covered by their charges.
 */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "chat.h"
#include "codec.h"
#include "proto.h"
#include "rules.h"
#include "xmalloc.h"

#define NOT_IN_HEAP		SIZE_MAX

struct acct;

/* What every stored message has: its sender's list and its charge. */
struct msg {
	TAILQ_ENTRY(msg)	 by_acct;	/* the sender's, oldest first */
	struct acct		*acct;
	/* Log seq (broadcast) or the log end when queued (private). */
	uint64_t		 seq:47;
	uint64_t		 priv:1;
	uint64_t		 len:16;	/* <= TEXT_MAX */
};
TAILQ_HEAD(msg_list, msg);

/* A broadcast, stored once. */
struct entry {
	struct msg	 m;
	uint32_t	 refcnt;	/* users with pos <= its seq */
	char		 text[];
};

/* A message for one user, ordered among broadcasts by seq. */
struct pmsg {
	struct msg	 m;
	TAILQ_ENTRY(pmsg) q;
	struct user	*owner;
	char		 text[];
};
TAILQ_HEAD(pmsg_list, pmsg);

/* Who pays for stored messages (see the policy above). */
struct acct {
	struct msg_list	 msgs;
	size_t		 bytes;		/* charged for msgs */
	size_t		 heap_i;	/* NOT_IN_HEAP while bytes == 0 */
	uint64_t	 id;		/* older accounts first on ties */
	struct user	*user;		/* NULL once logged out */
	size_t		 namelen;
	char		 name[USER_MAX];
};

struct user {
	char		 name[USER_MAX];
	size_t		 namelen;
	struct acct	*acct;
	uint64_t	 pos;		/* next broadcast to read */
	struct pmsg_list pq;		/* private queue */
	size_t		 pq_n;
	size_t		 dropped;	/* since the last drop notice */
	int64_t		 last;		/* last Register or CheckMessages */
	TAILQ_ENTRY(user) idle;		/* least recently active first */
};
TAILQ_HEAD(user_list, user);

struct chat {
	struct chat_limits lim;

	struct user	**users;	/* sorted by name bytes */
	uint64_t	*keys;		/* name_key of each, in one array */
	size_t		 nusers;
	size_t		 users_cap;
	size_t		 list_bytes;	/* List response: count, names, error */

	struct entry	**log;		/* power-of-two ring, in seq order */
	size_t		 log_start;
	size_t		 log_n;
	size_t		 log_cap;
	uint64_t	 next_seq;	/* of the next broadcast */

	/* Ordered by last, since time only moves forward. */
	struct user_list idle;

	/* The byte budget. */
	size_t		 charged;
	struct acct	**heap;		/* max-heap of accounts with bytes */
	size_t		 heap_n;
	size_t		 heap_cap;
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

static void
parts_copy(char *dst, const struct span *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].len == 0)
			continue;
		memcpy(dst, v[i].p, v[i].len);
		dst += v[i].len;
	}
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

/* The accounts heap: the one charged the most bytes on top. */

static int
acct_above(const struct acct *a, const struct acct *b)
{
	int cmp;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes;
	cmp = name_cmp(a->name, a->namelen, b->name, b->namelen);
	if (cmp != 0)
		return cmp < 0;
	return a->id < b->id;
}

static void
heap_set(struct chat *c, size_t i, struct acct *a)
{
	c->heap[i] = a;
	a->heap_i = i;
}

static void
heap_up(struct chat *c, size_t i)
{
	struct acct *a = c->heap[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!acct_above(a, c->heap[parent]))
			break;
		heap_set(c, i, c->heap[parent]);
		i = parent;
	}
	heap_set(c, i, a);
}

static void
heap_down(struct chat *c, size_t i)
{
	struct acct *a = c->heap[i];
	size_t child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= c->heap_n)
			break;
		if (child + 1 < c->heap_n &&
		    acct_above(c->heap[child + 1], c->heap[child]))
			child++;
		if (!acct_above(c->heap[child], a))
			break;
		heap_set(c, i, c->heap[child]);
		i = child;
	}
	heap_set(c, i, a);
}

/* Puts the account where its bytes say: in the heap, or out of it. */
static void
acct_reheap(struct chat *c, struct acct *a)
{
	struct acct *moved;
	size_t i = a->heap_i;

	if (a->bytes == 0) {
		if (i == NOT_IN_HEAP)
			return;
		a->heap_i = NOT_IN_HEAP;
		c->heap_n--;
		if (i == c->heap_n)
			return;
		moved = c->heap[c->heap_n];
		heap_set(c, i, moved);
		heap_up(c, i);
		heap_down(c, moved->heap_i);
		return;
	}
	if (i == NOT_IN_HEAP) {
		if (c->heap_n == c->heap_cap) {
			c->heap_cap = c->heap_cap ? c->heap_cap * 2 : 16;
			c->heap = xreallocarray(c->heap, c->heap_cap,
			    sizeof *c->heap);
		}
		heap_set(c, c->heap_n++, a);
		heap_up(c, a->heap_i);
		return;
	}
	heap_up(c, i);
	heap_down(c, a->heap_i);
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

	a = xcalloc(1, sizeof *a);
	TAILQ_INIT(&a->msgs);
	a->heap_i = NOT_IN_HEAP;
	a->id = c->next_acct_id++;
	memcpy(a->name, name.p, name.len);
	a->namelen = name.len;
	c->charged += acct_charge(a);
	return a;
}

/* Frees an account nobody is logged in as and nothing is charged to. */
static void
acct_maybe_free(struct chat *c, struct acct *a)
{
	if (a->user != NULL || !TAILQ_EMPTY(&a->msgs) || a == c->pinned)
		return;
	c->charged -= acct_charge(a);
	free(a);
}

static size_t
msg_charge(const struct msg *m)
{
	return (size_t)m->len + CHAT_MSG_CHARGE;
}

static void
msg_charge_to(struct chat *c, struct msg *m, struct acct *a)
{
	m->acct = a;
	TAILQ_INSERT_TAIL(&a->msgs, m, by_acct);
	a->bytes += msg_charge(m);
	c->charged += msg_charge(m);
	acct_reheap(c, a);
}

/* Takes the message off its sender's account; the caller frees it. */
static void
msg_uncharge(struct chat *c, struct msg *m)
{
	struct acct *a = m->acct;

	TAILQ_REMOVE(&a->msgs, m, by_acct);
	a->bytes -= msg_charge(m);
	c->charged -= msg_charge(m);
	acct_reheap(c, a);
	acct_maybe_free(c, a);
}

/* The broadcast k places after the oldest in the ring (k < log_n). */
static struct entry *
log_at(const struct chat *c, size_t k)
{
	return c->log[(c->log_start + k) & (c->log_cap - 1)];
}

/*
 * Where the first broadcast numbered seq or later is in the ring (log_n
 * if none).  Without gaps it is at seq - first; otherwise a binary search.
 */
static size_t
log_find(const struct chat *c, uint64_t seq)
{
	size_t lo = 0, hi = c->log_n, mid;
	uint64_t first;

	if (seq >= c->next_seq)
		return c->log_n;
	if (c->log_n == 0 || seq <= (first = log_at(c, 0)->m.seq))
		return 0;
	if (seq - first < c->log_n && log_at(c, seq - first)->m.seq == seq)
		return (size_t)(seq - first);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (log_at(c, mid)->m.seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
log_pop(struct chat *c)
{
	struct entry *e = c->log[c->log_start];

	msg_uncharge(c, &e->m);
	free(e);
	c->log[c->log_start] = NULL;
	c->log_start = (c->log_start + 1) & (c->log_cap - 1);
	c->log_n--;
}

/*
 * Takes the entry at k out of the ring, moving the shorter side by one;
 * the caller frees it.  Readers before it see a gap.
 */
static void
log_remove_at(struct chat *c, size_t k)
{
	size_t mask = c->log_cap - 1, i;

	if (k < c->log_n - 1 - k) {
		for (i = k; i > 0; i--)
			c->log[(c->log_start + i) & mask] =
			    c->log[(c->log_start + i - 1) & mask];
		c->log[c->log_start] = NULL;
		c->log_start = (c->log_start + 1) & mask;
	} else {
		for (i = k; i + 1 < c->log_n; i++)
			c->log[(c->log_start + i) & mask] =
			    c->log[(c->log_start + i + 1) & mask];
		c->log[(c->log_start + c->log_n - 1) & mask] = NULL;
	}
	c->log_n--;
}

/* Frees the entries every user has read, dropped or left. */
static void
log_collect(struct chat *c)
{
	while (c->log_n > 0 && log_at(c, 0)->refcnt == 0)
		log_pop(c);
}

static void
pq_pop(struct chat *c, struct user *u)
{
	struct pmsg *m = TAILQ_FIRST(&u->pq);

	TAILQ_REMOVE(&u->pq, m, q);
	u->pq_n--;
	msg_uncharge(c, &m->m);
	free(m);
}

/* Evicts the oldest message of the account charged the most. */
static void
evict_one(struct chat *c)
{
	struct msg *m = TAILQ_FIRST(&c->heap[0]->msgs);
	struct pmsg *p;

	if (m->priv) {
		p = (struct pmsg *)m;
		TAILQ_REMOVE(&p->owner->pq, p, q);
		p->owner->pq_n--;
		p->owner->dropped++;
	} else
		log_remove_at(c, log_find(c, m->seq));
	msg_uncharge(c, m);
	free(m);
	c->evicted++;
	log_collect(c);
}

/*
 * Evicts until need more bytes fit in the budget (PROTOCOL.md §4.4), keeping
 * the account about to be charged.  Returns -1 if they still do not fit.
 */
static int
make_room(struct chat *c, size_t need, struct acct *payer)
{
	c->pinned = payer;
	while (c->heap_n > 0 && (c->charged > c->lim.max_memory ||
	    need > c->lim.max_memory - c->charged))
		evict_one(c);
	c->pinned = NULL;
	return c->charged <= c->lim.max_memory &&
	    need <= c->lim.max_memory - c->charged ? 0 : -1;
}

/*
 * Doubles a power-of-two ring of n pointers and returns it with its
 * elements moved to the front of the new array.
 */
static void *
ring_grow(void *ring, size_t start, size_t n, size_t *cap, size_t first_cap)
{
	size_t size = sizeof(void *), newcap, head;
	char *v;

	newcap = *cap ? *cap * 2 : first_cap;
	v = xreallocarray(NULL, newcap, size);
	if (n > 0) {
		/* From start to the end of the array, then the wrapped rest. */
		head = *cap - start < n ? *cap - start : n;
		memcpy(v, (char *)ring + start * size, head * size);
		memcpy(v + head * size, ring, (n - head) * size);
	}
	free(ring);
	*cap = newcap;
	return v;
}

static void
log_append(struct chat *c, struct acct *payer, const struct span *v,
    size_t n, size_t refcnt)
{
	struct entry *e;
	size_t len;

	/* Nobody would read it. */
	if (refcnt == 0)
		return;
	len = parts_len(v, n);
	/* Logged-in users alone never fill the budget (chat.c's top). */
	(void)make_room(c, len + CHAT_MSG_CHARGE, payer);
	if (c->log_n == c->log_cap) {
		c->log = ring_grow(c->log, c->log_start, c->log_n, &c->log_cap,
		    16);
		c->log_start = 0;
	}
	e = xmalloc(sizeof *e + len);
	e->refcnt = (uint32_t)refcnt;
	e->m.seq = c->next_seq++;
	e->m.priv = 0;
	e->m.len = len;
	parts_copy(e->text, v, n);
	c->log[(c->log_start + c->log_n) & (c->log_cap - 1)] = e;
	c->log_n++;
	msg_charge_to(c, &e->m, payer);

	/*
	 * An entry with queue_limit newer ones after it is beyond every
	 * user's limit: free it now, whoever has not read it yet.  Those
	 * users count it as dropped when they pass the gap.
	 */
	while (c->log_n > c->lim.queue_limit)
		log_pop(c);
	log_collect(c);
}

/*
 * Moves the user over the gap before the broadcast at k (the first at or
 * after its position), counting what was evicted or trimmed there as
 * dropped.
 */
static void
user_skip_gap(struct chat *c, struct user *u, size_t k)
{
	uint64_t next = k < c->log_n ? log_at(c, k)->m.seq : c->next_seq;

	u->dropped += (size_t)(next - u->pos);
	u->pos = next;
}

/* Passes the broadcast at k, where the user's position is. */
static void
user_pass(struct chat *c, struct user *u, size_t k)
{
	struct entry *e = log_at(c, k);

	e->refcnt--;
	u->pos = e->m.seq + 1;
}

/*
 * Whether the oldest message of the user's merged stream is private,
 * the next broadcast being at k.  A private message stamped s arrived
 * before the broadcast numbered s.
 */
static int
oldest_is_private(const struct chat *c, const struct user *u, size_t k)
{
	return u->pq_n > 0 && (k == c->log_n ||
	    TAILQ_FIRST(&u->pq)->m.seq <= log_at(c, k)->m.seq);
}

/*
 * Applies the queue limit to the user: the newest queue_limit remain.
 * Returns where its next broadcast is in the ring.
 */
static size_t
user_normalize(struct chat *c, struct user *u)
{
	size_t k = log_find(c, u->pos);

	while ((c->log_n - k) + u->pq_n > c->lim.queue_limit) {
		if (oldest_is_private(c, u, k))
			pq_pop(c, u);
		else {
			user_skip_gap(c, u, k);
			user_pass(c, u, k++);
		}
		u->dropped++;
	}
	return k;
}

/* Lets go of everything the user has not read; log_collect afterwards. */
static void
user_release(struct chat *c, struct user *u)
{
	size_t k;

	for (k = log_find(c, u->pos); k < c->log_n; k++)
		log_at(c, k)->refcnt--;
	u->pos = c->next_seq;
	while (u->pq_n > 0)
		pq_pop(c, u);
	u->dropped = 0;
}

static void
user_send(struct chat *c, struct acct *payer, struct user *u,
    const struct span *v, size_t n)
{
	struct pmsg *m;
	size_t len;

	len = parts_len(v, n);
	(void)make_room(c, len + CHAT_MSG_CHARGE, payer);
	m = xmalloc(sizeof *m + len);
	m->m.seq = c->next_seq;
	m->m.priv = 1;
	m->m.len = len;
	m->owner = u;
	parts_copy(m->text, v, n);
	TAILQ_INSERT_TAIL(&u->pq, m, q);
	u->pq_n++;
	msg_charge_to(c, &m->m, payer);
	user_normalize(c, u);
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
	free(u);

	/* The account outlives the user until its notice is charged. */
	log_collect(c);
	announce(c, a, " has logged out", c->nusers);
	a->user = NULL;
	acct_maybe_free(c, a);
}

struct chat *
chat_new(const struct chat_limits *lim)
{
	struct chat *c;

	c = xcalloc(1, sizeof *c);
	c->lim = *lim;
	chat_limits_settle(&c->lim);
	c->list_bytes = LIST_OVERHEAD;
	TAILQ_INIT(&c->idle);
	return c;
}

void
chat_free(struct chat *c)
{
	size_t i;

	if (c == NULL)
		return;
	/* Messages first: lingering accounts go with their last one. */
	for (i = 0; i < c->nusers; i++)
		while (c->users[i]->pq_n > 0)
			pq_pop(c, c->users[i]);
	while (c->log_n > 0)
		log_pop(c);
	for (i = 0; i < c->nusers; i++) {
		free(c->users[i]->acct);
		free(c->users[i]);
	}
	free(c->users);
	free(c->keys);
	free(c->log);
	free(c->heap);
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
		u = xcalloc(1, sizeof *u);
		memcpy(u->name, name.p, name.len);
		u->namelen = name.len;
		TAILQ_INIT(&u->pq);
		u->acct = acct_new(c, name);
		u->acct->user = u;
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
	u->pos = c->next_seq;
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
	struct span text;
	size_t count_at, msgs_at, used, n, grow, len, k;
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

	TAILQ_REMOVE(&c->idle, u, idle);
	u->last = now;
	TAILQ_INSERT_TAIL(&c->idle, u, idle);
	k = user_normalize(c, u);

	count_at = out->len;
	put_u16(out, 0);
	msgs_at = out->len;
	/* Messages, then the drop notice is put in front of them. */
	used = LIST_OVERHEAD + drop_notice_size(u->dropped);
	n = 0;
	/* The longest prefix that fits in one frame (PROTOCOL.md §4.2). */
	for (;;) {
		m = NULL;
		if (oldest_is_private(c, u, k)) {
			m = TAILQ_FIRST(&u->pq);
			text = (struct span){ m->text, m->m.len };
		} else {
			/* Evicted before the next: more for the notice. */
			gap = (k < c->log_n ? log_at(c, k)->m.seq :
			    c->next_seq) - u->pos;
			if (gap > 0) {
				grow = drop_notice_size(u->dropped + gap) -
				    drop_notice_size(u->dropped);
				if ((u->dropped == 0 && n >= U16_MAX) ||
				    grow > FRAME_MAX - used)
					break;
				used += grow;
				user_skip_gap(c, u, k);
			}
			if (k == c->log_n)
				break;
			text = (struct span){ log_at(c, k)->text,
			    log_at(c, k)->m.len };
		}
		if (n + 1 + (u->dropped > 0) > U16_MAX ||
		    str_wire_size(text.len) > FRAME_MAX - used)
			break;
		put_str(out, text);
		used += str_wire_size(text.len);
		n++;
		if (m != NULL)
			pq_pop(c, u);
		else
			user_pass(c, u, k++);
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
	if (u->last > INT64_MAX - c->lim.idle_timeout_ms)
		return INT64_MAX;
	return u->last + c->lim.idle_timeout_ms;
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
chat_pending(const struct chat *c, struct span name)
{
	const struct user *u;
	size_t n;

	if ((u = user_lookup(c, name)) == NULL)
		return 0;
	n = (c->log_n - log_find(c, u->pos)) + u->pq_n;
	return n < c->lim.queue_limit ? n : c->lim.queue_limit;
}

/* The budget's invariants: charges add up, the heap is a heap. */
static const char *
check_accounts(const struct chat *c)
{
	const struct acct *a;
	const struct msg *m;
	size_t i, bytes, charged = 0;

	for (i = 0; i < c->nusers; i++)
		if (c->users[i]->acct == NULL ||
		    c->users[i]->acct->user != c->users[i])
			return "user and account not linked";
	for (i = 0; i < c->heap_n; i++) {
		a = c->heap[i];
		if (a->heap_i != i)
			return "heap index wrong";
		if (i > 0 && acct_above(a, c->heap[(i - 1) / 2]))
			return "heap out of order";
		bytes = 0;
		TAILQ_FOREACH(m, &a->msgs, by_acct) {
			if (m->acct != a)
				return "message on another account's list";
			bytes += msg_charge(m);
		}
		if (bytes == 0 || bytes != a->bytes)
			return "account bytes do not match its messages";
		if (a->user == NULL)
			charged += acct_charge(a);
		charged += a->bytes;
	}
	for (i = 0; i < c->nusers; i++) {
		a = c->users[i]->acct;
		charged += acct_charge(a);
		if (a->heap_i == NOT_IN_HEAP &&
		    (a->bytes != 0 || !TAILQ_EMPTY(&a->msgs)))
			return "account with messages out of the heap";
	}
	if (charged != c->charged)
		return "charges do not add up";
	if (c->charged > c->lim.max_memory)
		return "charged beyond the budget";
	return NULL;
}

const char *
chat_check_invariants(const struct chat *c)
{
	const struct user *u, *prev;
	const struct entry *e;
	const struct pmsg *m;
	const char *broken;
	uint64_t seq, stamp;
	size_t i, j, k, bytes, refs, nidle;

	bytes = LIST_OVERHEAD;
	for (i = 0; i < c->nusers; i++) {
		u = c->users[i];
		if (u->namelen == 0 || u->namelen > USER_MAX)
			return "user name length out of range";
		if (i > 0 && name_cmp(c->users[i - 1]->name,
		    c->users[i - 1]->namelen, u->name, u->namelen) >= 0)
			return "users not sorted and unique";
		if (c->keys[i] != name_key(u->name, u->namelen))
			return "user key not its name's";
		bytes += str_wire_size(u->namelen);
		if (u->pos > c->next_seq)
			return "user position past the log end";
		if (u->pq_n > c->lim.queue_limit)
			return "private queue over the queue limit";
		stamp = 0;
		j = 0;
		TAILQ_FOREACH(m, &u->pq, q) {
			if (m->m.seq < stamp || m->m.seq > c->next_seq)
				return "private message stamps out of order";
			if (m->m.len > TEXT_MAX)
				return "private message too long";
			if (!m->m.priv || m->owner != u)
				return "private message of another user";
			stamp = m->m.seq;
			j++;
		}
		if (j != u->pq_n)
			return "private queue count wrong";
		if (chat_pending(c, (struct span){ u->name, u->namelen }) >
		    c->lim.queue_limit)
			return "pending messages over the queue limit";
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

	if (c->log_n > c->lim.queue_limit)
		return "log longer than the queue limit";
	if (c->log_n > c->log_cap)
		return "log over its capacity";
	if (c->log_n > 0 && log_at(c, 0)->refcnt == 0)
		return "log head unreferenced";
	seq = 0;
	for (k = 0; k < c->log_n; k++) {
		e = log_at(c, k);
		if (e->m.len > TEXT_MAX)
			return "log entry too long";
		if (e->m.priv || (k > 0 && e->m.seq <= seq) ||
		    e->m.seq >= c->next_seq)
			return "log entries out of order";
		if (log_find(c, e->m.seq) != k)
			return "log entry not found where it is";
		seq = e->m.seq;
		refs = 0;
		for (i = 0; i < c->nusers; i++)
			if (c->users[i]->pos <= seq)
				refs++;
		if (e->refcnt != refs)
			return "log entry reference count wrong";
	}
	if ((broken = check_accounts(c)) != NULL)
		return broken;
	return NULL;
}
