/*
 * chunk.c - memory in fixed-size chunks drawn from one free list (see
 * chunk.h).
 *
 * Pages come from mmap, not malloc, so that what the pool holds is
 * exactly its pages and nothing else shares them.  A new page is carved
 * one chunk at a time, only when the free list is empty, so the pages
 * touched follow the peak of chunks in use.  Free chunks are poisoned for
 * AddressSanitizer and marked inaccessible for valgrind, so a chunk used
 * after it was freed is caught as malloc's memory would be.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "chunk.h"
#include "xmalloc.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHUNK_ASAN
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(CHUNK_ASAN)
#define CHUNK_ASAN
#endif

#ifdef CHUNK_ASAN
#include <sanitizer/asan_interface.h>
#define ASAN_OFF(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define ASAN_ON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ASAN_OFF(p, n)	((void)(p), (void)(n))
#define ASAN_ON(p, n)	((void)(p), (void)(n))
#endif

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define VG_OFF(p, n)	VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#define VG_UNDEF(p, n)	VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define VG_DEF(p, n)	VALGRIND_MAKE_MEM_DEFINED((p), (n))
#endif
#endif
#ifndef VG_OFF
#define VG_OFF(p, n)	((void)(p), (void)(n))
#define VG_UNDEF(p, n)	((void)(p), (void)(n))
#define VG_DEF(p, n)	((void)(p), (void)(n))
#endif

/* A free chunk holds the next one. */
struct free_chunk {
	struct free_chunk	*next;
};

/* The first chunk of a page. */
struct page {
	struct page		*next;
};

struct chunk_pool {
	struct free_chunk	*free;
	char			*carve;		/* the next never-used chunk */
	char			*carve_end;	/* of the newest page */
	struct page		*pages;
	size_t			 npages;
	size_t			 used;
	size_t			 peak;
};

_Static_assert(CHUNK_PAGE % CHUNK_SIZE == 0, "pages hold whole chunks");
_Static_assert(CHUNK_SIZE % 16 == 0, "chunks aligned for any object");

struct chunk_pool *
chunk_pool_new(void)
{
	return xcalloc(1, sizeof(struct chunk_pool));
}

void
chunk_pool_free(struct chunk_pool *pool)
{
	struct page *p, *next;

	if (pool == NULL)
		return;
	for (p = pool->pages; p != NULL; p = next) {
		next = p->next;
		/* ASan keeps its own shadow of what it was told. */
		ASAN_ON(p, CHUNK_PAGE);
		munmap(p, CHUNK_PAGE);
	}
	free(pool);
}

static void
page_new(struct chunk_pool *pool)
{
	struct page *p;

	p = mmap(NULL, CHUNK_PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "rpcchat: out of memory mapping a page of "
		    "%zu bytes for the chat state\n", CHUNK_PAGE);
		abort();
	}
	p->next = pool->pages;
	pool->pages = p;
	pool->npages++;
	pool->carve = (char *)p + CHUNK_SIZE;
	pool->carve_end = (char *)p + CHUNK_PAGE;
	ASAN_OFF(pool->carve, pool->carve_end - pool->carve);
	VG_OFF(pool->carve, pool->carve_end - pool->carve);
}

void *
chunk_alloc(struct chunk_pool *pool)
{
	struct free_chunk *f;

	if ((f = pool->free) != NULL) {
		ASAN_ON(f, sizeof *f);
		VG_DEF(f, sizeof *f);
		pool->free = f->next;
	} else {
		if (pool->carve == pool->carve_end)
			page_new(pool);
		f = (struct free_chunk *)pool->carve;
		pool->carve += CHUNK_SIZE;
	}
	ASAN_ON(f, CHUNK_SIZE);
	VG_UNDEF(f, CHUNK_SIZE);
	if (++pool->used > pool->peak)
		pool->peak = pool->used;
	return f;
}

void
chunk_free(struct chunk_pool *pool, void *chunk)
{
	struct free_chunk *f = chunk;

	if (f == NULL)
		return;
	f->next = pool->free;
	pool->free = f;
	pool->used--;
	ASAN_OFF(f, CHUNK_SIZE);
	VG_OFF(f, CHUNK_SIZE);
}

size_t
chunk_used(const struct chunk_pool *pool)
{
	return pool->used;
}

size_t
chunk_peak(const struct chunk_pool *pool)
{
	return pool->peak;
}

size_t
chunk_mapped(const struct chunk_pool *pool)
{
	return pool->npages * CHUNK_PAGE;
}
