/*
 * codec.h - the wire primitives (SPEC §2.1): u16, string, string list.
 *
 * Writers append to a buf and refuse (return -1, buffer unchanged) a value
 * that does not fit in a u16 rather than wrap it.  Readers take a span,
 * consume what they parse from its front and return -1, span unchanged,
 * when the input is too short.  Strings read are views into the input:
 * nothing is copied and nothing is NUL-terminated.
 */
#ifndef RPCCHAT_CODEC_H
#define RPCCHAT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* A run of bytes owned by someone else. */
struct span {
	const char	*p;
	size_t		 len;
};

#define SPAN_LIT(s)	((struct span){ (s), sizeof(s) - 1 })
struct span	span_cstr(const char *);
int		span_eq(struct span, struct span);

int	put_u16(struct buf *, size_t v);
int	put_str(struct buf *, struct span);
int	put_strlist(struct buf *, const struct span *, size_t n);

/* Bytes a string takes on the wire: its length prefix and its bytes. */
static inline size_t
str_wire_size(size_t len)
{
	return 2 + len;
}

int	get_u16(struct span *in, uint16_t *v);
int	get_str(struct span *in, struct span *s);
/*
 * Reads a string list.  *v is allocated (free it) with *n elements that
 * point into the input; an empty list sets *v to NULL.
 */
int	get_strlist(struct span *in, struct span **v, size_t *n);

#endif
