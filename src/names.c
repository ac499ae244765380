/* names.c - the users a client knows to be logged in (see names.h). */
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "username.h"
#include "xmalloc.h"

#define NOTICE_START	"*** "
#define LOGGED_IN	" has logged in"
#define LOGGED_OUT	" has logged out"

void
names_init(struct names *ns)
{
	memset(ns, 0, sizeof *ns);
}

static void
clear(struct names *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free((void *)ns->v[i].p);
	ns->n = 0;
}

void
names_free(struct names *ns)
{
	clear(ns);
	free(ns->v);
	names_init(ns);
}

static int
cmp(struct span a, struct span b)
{
	int r = memcmp(a.p, b.p, a.len < b.len ? a.len : b.len);

	if (r != 0)
		return r;
	return a.len < b.len ? -1 : a.len > b.len;
}

/* Where name is, or would go: the first entry not below it. */
static size_t
find(const struct names *ns, struct span name)
{
	size_t lo = 0, hi = ns->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cmp(ns->v[mid], name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
names_has(const struct names *ns, struct span name)
{
	size_t i = find(ns, name);

	return i < ns->n && cmp(ns->v[i], name) == 0;
}

static void
add(struct names *ns, struct span name)
{
	size_t i;

	if (ns->n >= NAMES_MAX || username_check(name) != USERNAME_OK)
		return;
	i = find(ns, name);
	if (i < ns->n && cmp(ns->v[i], name) == 0)
		return;
	if (ns->n == ns->cap) {
		ns->cap = ns->cap == 0 ? 16 : ns->cap * 2;
		ns->v = xreallocarray(ns->v, ns->cap, sizeof *ns->v);
	}
	memmove(ns->v + i + 1, ns->v + i, (ns->n - i) * sizeof *ns->v);
	ns->v[i] = (struct span){ xmemdup(name.p, name.len), name.len };
	ns->n++;
}

static void
drop(struct names *ns, struct span name)
{
	size_t i = find(ns, name);

	if (i >= ns->n || cmp(ns->v[i], name) != 0)
		return;
	free((void *)ns->v[i].p);
	memmove(ns->v + i, ns->v + i + 1, (ns->n - i - 1) * sizeof *ns->v);
	ns->n--;
}

void
names_set(struct names *ns, const struct span *v, size_t n)
{
	size_t i;

	clear(ns);
	for (i = 0; i < n; i++)
		add(ns, v[i]);
}

/* The name in "*** NAME<end>", or an empty span. */
static struct span
notice_name(struct span m, const char *end)
{
	size_t s = sizeof NOTICE_START - 1, e = strlen(end);

	if (m.len <= s + e || memcmp(m.p, NOTICE_START, s) != 0 ||
	    memcmp(m.p + m.len - e, end, e) != 0)
		return (struct span){ NULL, 0 };
	return (struct span){ m.p + s, m.len - s - e };
}

void
names_notice(struct names *ns, struct span message)
{
	struct span name;

	if ((name = notice_name(message, LOGGED_IN)).len > 0)
		add(ns, name);
	else if ((name = notice_name(message, LOGGED_OUT)).len > 0)
		drop(ns, name);
}
