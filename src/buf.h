/*
 * buf.h - a growable byte buffer, the one place sizes are added up.
 *
 * Appending never overflows: growth is checked and allocation failure is
 * fatal (see xmalloc.h), so callers only check limits that belong to the
 * protocol, not to memory.
 */
#ifndef RPCCHAT_BUF_H
#define RPCCHAT_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT { NULL, 0, 0 }

void	buf_init(struct buf *);
void	buf_free(struct buf *);
/* Forget the contents but keep the memory for reuse. */
void	buf_clear(struct buf *);
/* buf_reserve when the room is not there: grows the buffer. */
char	*buf_grow(struct buf *, size_t n);
void	buf_appendf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_vappendf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Drop the first n bytes (n <= len). */
void	buf_consume(struct buf *, size_t n);

/*
 * Make room for at least n more bytes; returns a pointer to the free
 * space.  Inline because every byte of every response passes here.
 */
static inline char *
buf_reserve(struct buf *b, size_t n)
{
	if (n <= b->cap - b->len)
		return b->data + b->len;
	return buf_grow(b, n);
}

static inline void
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	memcpy(buf_reserve(b, n), p, n);
	b->len += n;
}

#endif
