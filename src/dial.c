/* dial.c - Happy Eyeballs connecting (see dial.h). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "dial.h"

size_t
dial_order(const struct addrinfo *res, struct dial_addr *out)
{
	const struct addrinfo *ai, *queue[2][DIAL_ADDRS_MAX];
	size_t nq[2] = { 0, 0 }, taken[2] = { 0, 0 }, n = 0;
	int first = -1, q, i;

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof out->ss ||
		    (ai->ai_family != AF_INET && ai->ai_family != AF_INET6))
			continue;
		if (first == -1)
			first = ai->ai_family;
		q = ai->ai_family == first ? 0 : 1;
		if (nq[q] < DIAL_ADDRS_MAX)
			queue[q][nq[q]++] = ai;
	}
	while (n < DIAL_ADDRS_MAX && (taken[0] < nq[0] || taken[1] < nq[1])) {
		for (i = 0; i < 2 && n < DIAL_ADDRS_MAX; i++) {
			if (taken[i] == nq[i])
				continue;
			ai = queue[i][taken[i]++];
			memset(&out[n].ss, 0, sizeof out[n].ss);
			memcpy(&out[n].ss, ai->ai_addr, ai->ai_addrlen);
			out[n].len = ai->ai_addrlen;
			n++;
		}
	}
	return n;
}

void
dial_start(struct dial *d, const struct dial_addr *addrs, size_t n)
{
	memset(d, 0, sizeof *d);
	d->addrs = addrs;
	d->naddrs = n;
	d->fd = -1;
	d->last_errno = n == 0 ? EADDRNOTAVAIL : 0;
	d->next_at = clock_ms();
}

static void
drop(struct dial *d, size_t i)
{
	close(d->tries[i].fd);
	d->tries[i] = d->tries[--d->ntries];
}

/* Starts the next address; a failure at once is recorded and skipped. */
static void
attempt(struct dial *d)
{
	const struct dial_addr *a;
	int fd, one = 1;

	while (d->next < d->naddrs && d->ntries < DIAL_MAX) {
		a = &d->addrs[d->next++];
		fd = socket(a->ss.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			d->last_errno = errno;
			continue;
		}
		/* A call is one small write and one read: don't batch it. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == -1 &&
		    errno != EINPROGRESS) {
			d->last_errno = errno;
			close(fd);
			continue;
		}
		/* Connected at once (loopback may) or in progress: poll it. */
		d->tries[d->ntries].fd = fd;
		d->tries[d->ntries].addr = d->next - 1;
		d->ntries++;
		d->next_at = clock_ms() + DIAL_DELAY_MS;
		return;
	}
}

size_t
dial_pollfds(const struct dial *d, struct pollfd *pfd, size_t max)
{
	size_t i;

	for (i = 0; i < d->ntries && i < max; i++) {
		pfd[i].fd = d->tries[i].fd;
		pfd[i].events = POLLOUT;
		pfd[i].revents = 0;
	}
	return i;
}

long long
dial_next_at(const struct dial *d)
{
	return d->next < d->naddrs && d->ntries < DIAL_MAX ? d->next_at : -1;
}

int
dial_step(struct dial *d, const struct pollfd *pfd, size_t n)
{
	socklen_t len;
	size_t i, j;
	int soerr;

	for (j = 0; j < n; j++) {
		if (pfd[j].revents == 0)
			continue;
		for (i = 0; i < d->ntries && d->tries[i].fd != pfd[j].fd; i++)
			;
		if (i == d->ntries)
			continue;
		len = sizeof soerr;
		if (getsockopt(d->tries[i].fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &len) == -1)
			soerr = errno;
		if (soerr == 0 && !(pfd[j].revents & (POLLERR | POLLHUP))) {
			d->fd = d->tries[i].fd;
			d->won = d->tries[i].addr;
			d->tries[i] = d->tries[--d->ntries];
			dial_cancel(d);
			return 1;
		}
		d->last_errno = soerr != 0 ? soerr : ECONNREFUSED;
		drop(d, i);
		/* RFC 8305 §5: a failure starts the next attempt at once. */
		d->next_at = clock_ms();
	}
	if (d->next < d->naddrs && (d->ntries == 0 ||
	    clock_ms() >= d->next_at))
		attempt(d);
	if (d->ntries == 0 && d->next >= d->naddrs)
		return -1;
	return 0;
}

void
dial_cancel(struct dial *d)
{
	while (d->ntries > 0)
		drop(d, d->ntries - 1);
}
