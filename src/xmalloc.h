/*
 * xmalloc.h - allocation that cannot fail.
 *
 * Every structure the server grows is bounded by a limit (connections,
 * users, queue length, frame size), so running out of memory means the
 * limits are wrong for the machine: we report it and exit rather than
 * thread an "out of memory" path through every caller.
 */
#ifndef RPCCHAT_XMALLOC_H
#define RPCCHAT_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
void *xmemdup(const void *p, size_t size);

#endif
