/*
 * ae.h - a small epoll event loop, in the spirit of Redis's ae.c.
 *
 * File events only: the owner of the loop keeps its own deadlines and
 * passes the wait time to ae_poll, which keeps this file about readiness
 * and nothing else.
 */
#ifndef RPCCHAT_AE_H
#define RPCCHAT_AE_H

#define AE_READABLE	1
#define AE_WRITABLE	2

struct ae_loop;
typedef void ae_proc(struct ae_loop *, int fd, void *data, int mask);

/* A loop for fds below setsize; NULL with errno set on failure. */
struct ae_loop	*ae_create(int setsize);
void		 ae_destroy(struct ae_loop *);
/* Watch fd for mask (replacing any earlier mask); -1 with errno. */
int		 ae_watch(struct ae_loop *, int fd, int mask, ae_proc *,
		     void *data);
/*
 * Stop watching fd.  closing says the caller is about to close it, which
 * removes it from epoll by itself and saves a system call.
 */
void		 ae_unwatch(struct ae_loop *, int fd, int closing);
/*
 * Waits up to timeout_ms (-1: forever) and runs the handler of each ready
 * fd.  Returns the number run, or -1 with errno (EINTR included).
 */
int		 ae_poll(struct ae_loop *, int timeout_ms);

#endif
