/* codec.c - u16, string and string list on the wire (see codec.h). */
#include <stdlib.h>

#include "codec.h"
#include "proto.h"
#include "xmalloc.h"

int
put_strlist(struct buf *b, const struct span *v, size_t n)
{
	size_t i;

	/* Check everything first so a refusal leaves the buffer as it was. */
	if (n > U16_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (v[i].len > U16_MAX)
			return -1;
	put_u16(b, n);
	for (i = 0; i < n; i++)
		put_str(b, v[i]);
	return 0;
}

int
get_strlist(struct span *in, struct span **v, size_t *n)
{
	struct span rest = *in, *list = NULL;
	uint16_t count, i;

	if (get_u16(&rest, &count) == -1)
		return -1;
	/*
	 * Every element takes at least its 2-byte length: a count the input
	 * cannot hold is refused before it sizes an allocation.
	 */
	if (count > rest.len / 2)
		return -1;
	if (count > 0)
		list = xreallocarray(NULL, count, sizeof *list);
	for (i = 0; i < count; i++) {
		if (get_str(&rest, &list[i]) == -1) {
			free(list);
			return -1;
		}
	}
	*v = list;
	*n = count;
	*in = rest;
	return 0;
}
