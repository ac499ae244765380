/*
 * span.h - a run of bytes owned by someone else: how every layer passes
 * names, messages and requests without copying them.  Spans are never
 * NUL-terminated, and may hold NUL bytes.
 */
#ifndef RPCCHAT_SPAN_H
#define RPCCHAT_SPAN_H

#include <stddef.h>

struct span {
	const char	*p;
	size_t		 len;
};

#define SPAN_LIT(s)	((struct span){ (s), sizeof(s) - 1 })
struct span	span_cstr(const char *);
int		span_eq(struct span, struct span);

#endif
