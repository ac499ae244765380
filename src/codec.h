/*
 * codec.h - the wire primitives (PROTOCOL.md §2.1): u16, string, string list.
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
#include "span.h"

int	put_strlist(struct buf *, const struct span *, size_t n);

/* Bytes a string takes on the wire: its length prefix and its bytes. */
static inline size_t
str_wire_size(size_t len)
{
	return 2 + len;
}

/* The primitives are inline: every request and response is made of them. */
static inline int
put_u16(struct buf *b, size_t v)
{
	char *p;

	if (v > UINT16_MAX)
		return -1;
	p = buf_reserve(b, 2);
	p[0] = (char)(v >> 8);
	p[1] = (char)v;
	b->len += 2;
	return 0;
}

static inline int
put_str(struct buf *b, struct span s)
{
	char *p;

	if (s.len > UINT16_MAX)
		return -1;
	/* One reservation for prefix and bytes. */
	p = buf_reserve(b, str_wire_size(s.len));
	p[0] = (char)(s.len >> 8);
	p[1] = (char)s.len;
	if (s.len > 0)
		memcpy(p + 2, s.p, s.len);
	b->len += str_wire_size(s.len);
	return 0;
}

static inline int
get_u16(struct span *in, uint16_t *v)
{
	const unsigned char *p = (const unsigned char *)in->p;

	if (in->len < 2)
		return -1;
	*v = (uint16_t)(p[0] << 8 | p[1]);
	in->p += 2;
	in->len -= 2;
	return 0;
}

static inline int
get_str(struct span *in, struct span *s)
{
	struct span rest = *in;
	uint16_t len;

	if (get_u16(&rest, &len) == -1 || rest.len < len)
		return -1;
	s->p = rest.p;
	s->len = len;
	in->p = rest.p + len;
	in->len = rest.len - len;
	return 0;
}

/*
 * Reads a string list.  *v is allocated (free it) with *n elements that
 * point into the input; an empty list sets *v to NULL.
 */
int	get_strlist(struct span *in, struct span **v, size_t *n);

#endif
