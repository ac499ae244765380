/*
 * chat.c - the chat state (see chat.h).
 *
 * Broadcasts (Say, login and logout notices) go to one shared log, a ring
 * of reference-counted entries numbered by an implicit sequence number;
 * each user reads it from its own position.  An entry's count is the
 * number of users whose position is at or before it, so it is freed when
 * the last of them reads, drops or leaves it.  Tells and "No such user"
 * notices have one reader and go to that user's private queue, stamped
 * with the log's next sequence number so CheckMessages can merge the two
 * streams in arrival order.
 *
 * A Say touches no user.  The queue limit is applied lazily: whenever a
 * user is looked at, the oldest messages of its merged stream are dropped
 * until at most queue_limit remain.  Since no user can keep more than
 * queue_limit broadcasts, the log is also trimmed to that many entries;
 * a user positioned before the trimmed head has simply dropped them.
 * Only entries still in the log (seq >= head) are ever decremented.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "chat.h"
#include "proto.h"
#include "rules.h"
#include "xmalloc.h"

/* A broadcast, stored once. */
struct entry {
	size_t		 refcnt;	/* users with pos <= its seq */
	size_t		 len;
	char		 text[];
};

/* A message for one user, ordered among broadcasts by seq. */
struct pmsg {
	uint64_t	 seq;		/* log end when it was queued */
	size_t		 len;
	char		 text[];
};

struct user {
	char		 name[USER_MAX];
	size_t		 namelen;
	uint64_t	 pos;		/* next broadcast to read */
	struct pmsg	**pq;		/* private queue: power-of-two ring */
	size_t		 pq_start;
	size_t		 pq_n;
	size_t		 pq_cap;
	size_t		 dropped;	/* since the last drop notice */
	int64_t		 last;		/* last Register or CheckMessages */
	TAILQ_ENTRY(user) idle;		/* least recently active first */
};
TAILQ_HEAD(user_list, user);

struct chat {
	struct chat_limits lim;

	struct user	**users;	/* sorted by name bytes */
	size_t		 nusers;
	size_t		 users_cap;
	size_t		 list_bytes;	/* List response: count, names, error */

	struct entry	**log;		/* power-of-two ring */
	size_t		 log_start;
	size_t		 log_n;
	size_t		 log_cap;
	uint64_t	 head;		/* seq of log[log_start] */

	/* Ordered by last, since time only moves forward. */
	struct user_list idle;
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

/* Index of the user, or where it would be inserted (*found = 0). */
static size_t
user_find(const struct chat *c, struct span name, int *found)
{
	size_t lo = 0, hi = c->nusers, mid;
	const struct user *u;
	int cmp;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		u = c->users[mid];
		cmp = name_cmp(name.p, name.len, u->name, u->namelen);
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

static uint64_t
log_end(const struct chat *c)
{
	return c->head + c->log_n;
}

static struct entry *
log_at(const struct chat *c, uint64_t seq)
{
	return c->log[(c->log_start + (size_t)(seq - c->head)) &
	    (c->log_cap - 1)];
}

static void
log_pop(struct chat *c)
{
	free(c->log[c->log_start]);
	c->log[c->log_start] = NULL;
	c->log_start = (c->log_start + 1) & (c->log_cap - 1);
	c->log_n--;
	c->head++;
}

/* Frees the entries every user has read, dropped or left. */
static void
log_collect(struct chat *c)
{
	while (c->log_n > 0 && c->log[c->log_start]->refcnt == 0)
		log_pop(c);
}

/*
 * Doubles a power-of-two ring of n pointers (the log, a private queue)
 * and returns it with its elements moved to the front of the new array.
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
log_append(struct chat *c, const struct span *v, size_t n, size_t refcnt)
{
	struct entry *e;
	size_t len;

	/* Nobody would read it. */
	if (refcnt == 0)
		return;
	if (c->log_n == c->log_cap) {
		c->log = ring_grow(c->log, c->log_start, c->log_n, &c->log_cap,
		    16);
		c->log_start = 0;
	}
	len = parts_len(v, n);
	e = xmalloc(sizeof *e + len);
	e->refcnt = refcnt;
	e->len = len;
	parts_copy(e->text, v, n);
	c->log[(c->log_start + c->log_n) & (c->log_cap - 1)] = e;
	c->log_n++;

	/*
	 * An entry with queue_limit newer ones after it is beyond every
	 * user's limit: free it now, whoever has not read it yet.  Those
	 * users count it as dropped when next looked at (pos < head).
	 */
	while (c->log_n > c->lim.queue_limit)
		log_pop(c);
	log_collect(c);
}

static struct pmsg *
pq_front(const struct user *u)
{
	return u->pq[u->pq_start];
}

static void
pq_pop(struct user *u)
{
	free(u->pq[u->pq_start]);
	u->pq[u->pq_start] = NULL;
	u->pq_start = (u->pq_start + 1) & (u->pq_cap - 1);
	u->pq_n--;
}

static void
pq_push(struct user *u, struct pmsg *m)
{
	if (u->pq_n == u->pq_cap) {
		u->pq = ring_grow(u->pq, u->pq_start, u->pq_n, &u->pq_cap, 4);
		u->pq_start = 0;
	}
	u->pq[(u->pq_start + u->pq_n) & (u->pq_cap - 1)] = m;
	u->pq_n++;
}

/* Undelivered messages, the lazily dropped ones still included. */
static size_t
raw_pending(const struct chat *c, const struct user *u)
{
	uint64_t from = u->pos > c->head ? u->pos : c->head;

	return (size_t)(log_end(c) - from) + u->pq_n;
}

/*
 * Whether the oldest message of the user's merged stream is private.  A
 * private message stamped s arrived before the broadcast numbered s.
 * Requires pos >= head and something pending.
 */
static int
oldest_is_private(const struct chat *c, const struct user *u)
{
	return u->pq_n > 0 &&
	    (u->pos == log_end(c) || pq_front(u)->seq <= u->pos);
}

/* Applies the queue limit to the user: the newest queue_limit remain. */
static void
user_normalize(struct chat *c, struct user *u)
{
	if (u->pos < c->head) {
		u->dropped += (size_t)(c->head - u->pos);
		u->pos = c->head;
	}
	while (raw_pending(c, u) > c->lim.queue_limit) {
		if (oldest_is_private(c, u))
			pq_pop(u);
		else {
			log_at(c, u->pos)->refcnt--;
			u->pos++;
		}
		u->dropped++;
	}
}

/* Lets go of everything the user has not read; log_collect afterwards. */
static void
user_release(struct chat *c, struct user *u)
{
	uint64_t seq;

	for (seq = u->pos > c->head ? u->pos : c->head; seq < log_end(c); seq++)
		log_at(c, seq)->refcnt--;
	u->pos = log_end(c);
	while (u->pq_n > 0)
		pq_pop(u);
	u->dropped = 0;
}

static void
user_send(struct chat *c, struct user *u, const struct span *v, size_t n)
{
	struct pmsg *m;
	size_t len;

	len = parts_len(v, n);
	m = xmalloc(sizeof *m + len);
	m->seq = log_end(c);
	m->len = len;
	parts_copy(m->text, v, n);
	pq_push(u, m);
	user_normalize(c, u);
	log_collect(c);
}

static void
announce(struct chat *c, struct span name, const char *what, size_t readers)
{
	struct span v[3];

	v[0] = SPAN_LIT("*** ");
	v[1] = name;
	v[2] = span_cstr(what);
	log_append(c, v, 3, readers);
}

/* Removes users[i] and tells the others, as Quit does. */
static void
user_remove(struct chat *c, size_t i)
{
	struct user *u = c->users[i];
	char name[USER_MAX];
	size_t namelen;

	user_release(c, u);
	free(u->pq);
	memmove(&c->users[i], &c->users[i + 1],
	    (c->nusers - i - 1) * sizeof *c->users);
	c->nusers--;
	c->list_bytes -= str_wire_size(u->namelen);
	TAILQ_REMOVE(&c->idle, u, idle);
	namelen = u->namelen;
	memcpy(name, u->name, namelen);
	free(u);

	log_collect(c);
	announce(c, (struct span){ name, namelen }, " has logged out",
	    c->nusers);
}

struct chat *
chat_new(const struct chat_limits *lim)
{
	struct chat *c;

	c = xcalloc(1, sizeof *c);
	c->lim = *lim;
	/* A limit of 0 would keep nothing; treat it as unset. */
	if (c->lim.queue_limit == 0)
		c->lim.queue_limit = CHAT_DEFAULT_QUEUE_LIMIT;
	if (c->lim.idle_timeout_ms < 0)
		c->lim.idle_timeout_ms = 0;
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
	for (i = 0; i < c->nusers; i++) {
		while (c->users[i]->pq_n > 0)
			pq_pop(c->users[i]);
		free(c->users[i]->pq);
		free(c->users[i]);
	}
	free(c->users);
	while (c->log_n > 0)
		log_pop(c);
	free(c->log);
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
		    c->list_bytes + str_wire_size(name.len) > FRAME_MAX)
			return buf_appendf(err, "Register: too many users"), -1;
		u = xcalloc(1, sizeof *u);
		memcpy(u->name, name.p, name.len);
		u->namelen = name.len;
		if (c->nusers == c->users_cap) {
			c->users_cap = c->users_cap ? c->users_cap * 2 : 16;
			c->users = xreallocarray(c->users, c->users_cap,
			    sizeof *c->users);
		}
		memmove(&c->users[i + 1], &c->users[i],
		    (c->nusers - i) * sizeof *c->users);
		c->users[i] = u;
		c->nusers++;
		c->list_bytes += str_wire_size(name.len);
	}
	u->last = now;
	TAILQ_INSERT_TAIL(&c->idle, u, idle);

	/* The others see the notice; the user starts after it. */
	announce(c, name, " has logged in", c->nusers - 1);
	u->pos = log_end(c);
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

int
chat_check_messages(struct chat *c, struct span name, int64_t now,
    struct buf *out, struct buf *err)
{
	struct user *u;
	struct entry *e;
	struct pmsg *m;
	struct span text;
	size_t count_at, used, n;
	char notice[64];
	int len, is_private;

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
	user_normalize(c, u);

	count_at = out->len;
	put_u16(out, 0);
	used = LIST_OVERHEAD;
	n = 0;
	if (u->dropped > 0) {
		len = snprintf(notice, sizeof notice,
		    "*** %zu messages were dropped", u->dropped);
		if (len > 0 && (size_t)len < sizeof notice) {
			put_str(out, (struct span){ notice, (size_t)len });
			used += str_wire_size((size_t)len);
			n++;
			u->dropped = 0;
		}
	}
	/* The longest prefix that fits in one frame (SPEC §4.2). */
	while (u->pos < log_end(c) || u->pq_n > 0) {
		is_private = oldest_is_private(c, u);
		if (is_private) {
			m = pq_front(u);
			text = (struct span){ m->text, m->len };
		} else {
			e = log_at(c, u->pos);
			text = (struct span){ e->text, e->len };
		}
		if (n == U16_MAX || str_wire_size(text.len) > FRAME_MAX - used)
			break;
		put_str(out, text);
		used += str_wire_size(text.len);
		n++;
		if (is_private)
			pq_pop(u);
		else {
			e->refcnt--;
			u->pos++;
		}
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
		user_send(c, u, v, 1);
		buf_free(&notice);
		return 0;
	}
	v[0] = (struct span){ u->name, u->namelen };
	v[1] = RULES_TELL_INFIX;
	v[2] = message;
	user_send(c, t, v, 3);
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
	log_append(c, v, 3, c->nusers);
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

size_t
chat_pending(const struct chat *c, struct span name)
{
	const struct user *u;
	size_t n;

	if ((u = user_lookup(c, name)) == NULL)
		return 0;
	n = raw_pending(c, u);
	return n < c->lim.queue_limit ? n : c->lim.queue_limit;
}

const char *
chat_check_invariants(const struct chat *c)
{
	const struct user *u, *prev;
	const struct entry *e;
	const struct pmsg *m;
	uint64_t seq, stamp;
	size_t i, j, bytes, refs, nidle;

	bytes = LIST_OVERHEAD;
	for (i = 0; i < c->nusers; i++) {
		u = c->users[i];
		if (u->namelen == 0 || u->namelen > USER_MAX)
			return "user name length out of range";
		if (i > 0 && name_cmp(c->users[i - 1]->name,
		    c->users[i - 1]->namelen, u->name, u->namelen) >= 0)
			return "users not sorted and unique";
		bytes += str_wire_size(u->namelen);
		if (u->pos > log_end(c))
			return "user position past the log end";
		if (u->pq_n > c->lim.queue_limit)
			return "private queue over the queue limit";
		if (u->pq_n > u->pq_cap)
			return "private queue over its capacity";
		stamp = 0;
		for (j = 0; j < u->pq_n; j++) {
			m = u->pq[(u->pq_start + j) & (u->pq_cap - 1)];
			if (m->seq < stamp || m->seq > log_end(c))
				return "private message stamps out of order";
			if (m->len > TEXT_MAX)
				return "private message too long";
			stamp = m->seq;
		}
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
	if (c->log_n > 0 && log_at(c, c->head)->refcnt == 0)
		return "log head unreferenced";
	for (seq = c->head; seq < log_end(c); seq++) {
		e = log_at(c, seq);
		if (e->len > TEXT_MAX)
			return "log entry too long";
		refs = 0;
		for (i = 0; i < c->nusers; i++)
			if (c->users[i]->pos <= seq)
				refs++;
		if (e->refcnt != refs)
			return "log entry reference count wrong";
	}
	return NULL;
}
