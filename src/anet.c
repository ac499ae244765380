/* anet.c - socket helpers (see anet.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "anet.h"
#include "xmalloc.h"

static void
seterr(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err, ANET_ERR_LEN, fmt, ap);
	va_end(ap);
}

int
anet_set_nonblock(int fd)
{
	int flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int
anet_defer_accept(int fd, int seconds)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds,
	    sizeof seconds);
}

int
anet_input_pending(int fd)
{
	char b;

	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

int
anet_linger_start(int fd)
{
	return shutdown(fd, SHUT_WR);
}

enum anet_drain
anet_linger_drain(int fd, size_t *budget)
{
	char scratch[16384];
	ssize_t n;

	for (;;) {
		n = read(fd, scratch, sizeof scratch);
		if (n > 0) {
			if ((size_t)n > *budget)
				return ANET_DRAIN_STOP;
			*budget -= (size_t)n;
			continue;
		}
		if (n == 0)
			return ANET_DRAIN_EOF;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return ANET_DRAIN_WAIT;
		return ANET_DRAIN_STOP;
	}
}

static int
listen_on(int family, const char *port, int backlog, char *err)
{
	struct addrinfo hints = { 0 }, *ai;
	int fd, on = 1, off = 0, rc;

	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(NULL, port, &hints, &ai)) != 0) {
		seterr(err, "port %s: %s", port, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		seterr(err, "socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	/* One socket for both families: IPv4 peers arrive v4-mapped. */
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == -1) {
		seterr(err, "IPV6_V6ONLY: %s", strerror(errno));
		goto fail;
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		seterr(err, "bind to port %s: %s", port, strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) == -1) {
		seterr(err, "listen: %s", strerror(errno));
		goto fail;
	}
	freeaddrinfo(ai);
	return fd;
fail:
	if (fd != -1)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

int
anet_listen(const char *port, int backlog, char *err)
{
	int fd, saved;

	if ((fd = listen_on(AF_INET6, port, backlog, err)) != -1)
		return fd;
	/* No IPv6 on this machine: serve IPv4 alone. */
	saved = errno;
	if (saved == EAFNOSUPPORT || saved == EADDRNOTAVAIL ||
	    saved == EPROTONOSUPPORT)
		return listen_on(AF_INET, port, backlog, err);
	return -1;
}

int
anet_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return -1;
}

int
anet_accept(int fd, struct sockaddr_storage *peer)
{
	socklen_t len = sizeof *peer;

	return accept4(fd, (struct sockaddr *)peer, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void
anet_format_addr(const struct sockaddr_storage *ss, char *out, size_t size)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host,
		    sizeof host);
		snprintf(out, size, "%s:%u", host, ntohs(s6->sin6_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		snprintf(out, size, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(out, size, "%s:%u", host, ntohs(s4->sin_port));
	} else
		snprintf(out, size, "(unknown address family %d)",
		    ss->ss_family);
}

int
anet_is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family != AF_INET6)
		return 0;
	if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
	    s6->sin6_addr.s6_addr[12] == 127;
}

int
anet_split_hostport(const char *arg, char **host, char **port, char *err)
{
	const char *colon, *p, *start = arg;
	size_t hostlen;

	if (arg[0] == '[') {
		p = strchr(arg, ']');
		if (p == NULL || p[1] != ':') {
			seterr(err, "%s: expected [ADDRESS]:PORT", arg);
			return -1;
		}
		hostlen = (size_t)(p - arg - 1);
		colon = p + 1;
		if (hostlen == 0) {
			seterr(err, "%s: empty address in brackets", arg);
			return -1;
		}
		start = arg + 1;
	} else {
		colon = strrchr(arg, ':');
		if (colon == NULL) {
			seterr(err, "%s: expected HOST:PORT", arg);
			return -1;
		}
		hostlen = (size_t)(colon - arg);
		if (memchr(arg, ':', hostlen) != NULL) {
			seterr(err, "%s: put an IPv6 address in brackets, "
			    "as in [::1]:3410", arg);
			return -1;
		}
	}
	if (colon[1] == '\0') {
		seterr(err, "%s: missing port", arg);
		return -1;
	}
	*host = NULL;
	if (hostlen > 0) {
		*host = xmalloc(hostlen + 1);
		memcpy(*host, start, hostlen);
		(*host)[hostlen] = '\0';
	}
	*port = xstrdup(colon + 1);
	return 0;
}

int
anet_same_host(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof a6->sin6_addr) == 0;
	return 0;
}
