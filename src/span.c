/* span.c - byte runs (see span.h). */
#include <string.h>

#include "span.h"

struct span
span_cstr(const char *s)
{
	return (struct span){ s, strlen(s) };
}

int
span_eq(struct span a, struct span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}
