/*
 * anet.h - socket helpers, in the spirit of Redis's anet.c: listening,
 * accepting and naming addresses (connecting is dial.h's).  Failures
 * return -1 and describe the cause in err (ANET_ERR_LEN bytes).
 */
#ifndef RPCCHAT_ANET_H
#define RPCCHAT_ANET_H

#include <stddef.h>
#include <sys/socket.h>

#define ANET_ERR_LEN	256
/* "[ffff:...]:65535" and then some. */
#define ANET_ADDR_LEN	64

/*
 * Listens on every address, IPv6 and IPv4 (one dual-stack socket, or IPv4
 * alone where the machine has no IPv6).  The socket is non-blocking.
 */
int	anet_listen(const char *port, int backlog, char *err);
/* The port a listening socket is bound to (for port 0), or -1. */
int	anet_local_port(int fd);
/*
 * Accepts one connection as a non-blocking socket and stores the peer's
 * address.  -1 with errno (EAGAIN when none is waiting).
 */
int	anet_accept(int fd, struct sockaddr_storage *peer);
/* "1.2.3.4:5" or "[::1]:5"; an IPv4-mapped IPv6 address as IPv4. */
void	anet_format_addr(const struct sockaddr_storage *, char *out, size_t);
/* Whether the address is a loopback one (127/8, ::1, ::ffff:127/104). */
int	anet_is_loopback(const struct sockaddr_storage *);
int	anet_set_nonblock(int fd);

/*
 * Splits "HOST:PORT", ":PORT" (host NULL) or "[V6]:PORT" into freshly
 * allocated parts.  -1 with a reason in err if it is none of those.
 */
int	anet_split_hostport(const char *arg, char **host, char **port,
	    char *err);

/* CLOCK_MONOTONIC in milliseconds. */
long long	anet_now_ms(void);

#endif
