/* resolve.c - getaddrinfo in a thread, done-ness on a pipe (see resolve.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "anet.h"
#include "resolve.h"
#include "xmalloc.h"

struct resolve {
	char		*host;
	char		*port;
	int		 fds[2];	/* the thread writes a byte when done */
	int		 refs;		/* the thread and the caller */
	int		 rc;		/* getaddrinfo's, once done */
	int		 saved_errno;	/* for EAI_SYSTEM */
	int		 done;		/* rc and res are set */
	struct addrinfo	*res;
};

static void
unref(struct resolve *r)
{
	if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (r->res != NULL)
		freeaddrinfo(r->res);
	close(r->fds[0]);
	close(r->fds[1]);
	free(r->host);
	free(r->port);
	free(r);
}

static int
lookup_now(const char *host, const char *port, int flags,
    struct addrinfo **res)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG | flags;
	return getaddrinfo(host, port, &hints, res);
}

int
resolve_numeric(const char *host, const char *port, struct addrinfo **res)
{
	*res = NULL;
	return lookup_now(host, port, AI_NUMERICHOST, res) == 0 ? 0 : -1;
}

static void *
lookup(void *arg)
{
	struct resolve *r = arg;
	char c = 0;
	ssize_t n;

	r->rc = lookup_now(r->host, r->port, 0, &r->res);
	r->saved_errno = errno;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	n = write(r->fds[1], &c, 1);
	(void)n;
	unref(r);
	return NULL;
}

struct resolve *
resolve_start(const char *host, const char *port, char *err)
{
	struct resolve *r = xcalloc(1, sizeof *r);
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int rc;

	if (pipe2(r->fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		snprintf(err, ANET_ERR_LEN, "resolving %s: pipe: %s", host,
		    strerror(errno));
		free(r);
		return NULL;
	}
	r->host = xstrdup(host);
	r->port = xstrdup(port);
	r->refs = 2;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Signals stay with the main thread, which polls their pipe. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&tid, &attr, lookup, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		snprintf(err, ANET_ERR_LEN, "resolving %s: cannot start a "
		    "thread: %s", host, strerror(rc));
		r->refs = 1;
		unref(r);
		return NULL;
	}
	return r;
}

int
resolve_fd(const struct resolve *r)
{
	return r->fds[0];
}

int
resolve_finish(struct resolve *r, struct addrinfo **res, char *err)
{
	int rc;

	*res = NULL;
	if (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		snprintf(err, ANET_ERR_LEN, "%s: lookup not finished", r->host);
		unref(r);
		return -1;
	}
	rc = r->rc;
	if (rc == 0) {
		*res = r->res;
		r->res = NULL;
	} else
		snprintf(err, ANET_ERR_LEN, "%s: %s", r->host,
		    rc == EAI_SYSTEM ? strerror(r->saved_errno) :
		    gai_strerror(rc));
	unref(r);
	return rc == 0 ? 0 : -1;
}

void
resolve_abandon(struct resolve *r)
{
	unref(r);
}
