/*
 * names.h - the users a client knows to be logged in, for completing
 * "tell NAME" (PROTOCOL.md §5.4): the last List, kept up to date at once by
 * the "*** NAME has logged in" and "*** NAME has logged out" notices
 * shown since (PROTOCOL.md §3.2 texts).
 *
 * Only names that could log in are kept (nothing to escape, no spaces),
 * in byte order like a List, at most NAMES_MAX of them whatever the
 * server sends.  Plain data: no I/O.
 */
#ifndef RPCCHAT_NAMES_H
#define RPCCHAT_NAMES_H

#include <stddef.h>

#include "span.h"

#define NAMES_MAX	65536

struct names {
	struct span	*v;		/* sorted; each name's bytes owned */
	size_t		 n, cap;
};

void	names_init(struct names *);
void	names_free(struct names *);
/* The names are those of a List, in any order. */
void	names_set(struct names *, const struct span *v, size_t n);
/* A message shown: a login or logout notice adds or drops its name. */
void	names_notice(struct names *, struct span message);
/* Whether the name is there. */
int	names_has(const struct names *, struct span name);

#endif
