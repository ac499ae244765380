/*
 * chunk.h - memory in fixed-size chunks drawn from one free list.
 *
 * Every chunk has the same size, so a chunk freed by anything can be
 * reused by anything: no sequence of allocations and frees can leave free
 * memory that a later allocation cannot use.  The memory a pool holds is
 * therefore its highest number of chunks in use at once, rounded up to
 * whole pages, whatever the order of the calls.  Pages are mapped as
 * chunks are first needed and kept until the pool is freed; a freed
 * chunk goes to the front of the free list and is the next one handed
 * out.  Objects larger than a chunk are chains of chunks, built by the
 * caller.
 */
#ifndef RPCCHAT_CHUNK_H
#define RPCCHAT_CHUNK_H

#include <stddef.h>

#define CHUNK_SIZE	128		/* bytes, aligned for any object */
#define CHUNK_PAGE	((size_t)1 << 20) /* mapped at a time */
/* The first chunk of every page links the pages together. */
#define CHUNK_PER_PAGE	(CHUNK_PAGE / CHUNK_SIZE - 1)

struct chunk_pool;

struct chunk_pool *chunk_pool_new(void);
/* Unmaps every page, whatever is still in use. */
void		 chunk_pool_free(struct chunk_pool *);

/* CHUNK_SIZE bytes of undefined contents; exits if no page can be mapped. */
void		*chunk_alloc(struct chunk_pool *);
void		 chunk_free(struct chunk_pool *, void *);

/* Chunks in use now; the most ever in use at once; bytes mapped. */
size_t		 chunk_used(const struct chunk_pool *);
size_t		 chunk_peak(const struct chunk_pool *);
size_t		 chunk_mapped(const struct chunk_pool *);

#endif
