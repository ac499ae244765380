/* ae.c - epoll event loop (see ae.h). */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ae.h"
#include "xmalloc.h"

struct ae_file {
	int		 mask;
	ae_proc		*proc;
	void		*data;
};

struct ae_loop {
	int			 epfd;
	int			 setsize;
	struct ae_file		*files;		/* indexed by fd */
	struct epoll_event	*fired;
};

#define AE_MAX_FIRED	256

struct ae_loop *
ae_create(int setsize)
{
	struct ae_loop *loop;
	int epfd;

	if (setsize <= 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return NULL;
	loop = xcalloc(1, sizeof *loop);
	loop->epfd = epfd;
	loop->setsize = setsize;
	loop->files = xcalloc((size_t)setsize, sizeof *loop->files);
	loop->fired = xcalloc(AE_MAX_FIRED, sizeof *loop->fired);
	return loop;
}

void
ae_destroy(struct ae_loop *loop)
{
	if (loop == NULL)
		return;
	close(loop->epfd);
	free(loop->files);
	free(loop->fired);
	free(loop);
}

int
ae_watch(struct ae_loop *loop, int fd, int mask, ae_proc *proc, void *data)
{
	struct epoll_event ev = { 0 };
	struct ae_file *f;
	int op;

	if (fd < 0 || fd >= loop->setsize) {
		errno = ERANGE;
		return -1;
	}
	f = &loop->files[fd];
	op = f->mask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (mask & AE_READABLE)
		ev.events |= EPOLLIN;
	if (mask & AE_WRITABLE)
		ev.events |= EPOLLOUT;
	ev.data.fd = fd;
	if (f->mask != mask && epoll_ctl(loop->epfd, op, fd, &ev) == -1)
		return -1;
	f->mask = mask;
	f->proc = proc;
	f->data = data;
	return 0;
}

void
ae_unwatch(struct ae_loop *loop, int fd, int closing)
{
	struct ae_file *f;

	if (fd < 0 || fd >= loop->setsize)
		return;
	f = &loop->files[fd];
	if (f->mask == 0)
		return;
	if (!closing)
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	f->mask = 0;
	f->proc = NULL;
	f->data = NULL;
}

int
ae_poll(struct ae_loop *loop, int timeout_ms)
{
	struct epoll_event *ev;
	struct ae_file *f;
	int i, n, mask;

	n = epoll_wait(loop->epfd, loop->fired, AE_MAX_FIRED, timeout_ms);
	if (n == -1)
		return -1;
	for (i = 0; i < n; i++) {
		ev = &loop->fired[i];
		f = &loop->files[ev->data.fd];
		/* An earlier handler in this batch may have closed it. */
		if (f->mask == 0)
			continue;
		mask = 0;
		if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			mask |= AE_READABLE;
		if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			mask |= AE_WRITABLE;
		mask &= f->mask;
		if (mask != 0)
			f->proc(loop, ev->data.fd, f->data, mask);
	}
	return n;
}
