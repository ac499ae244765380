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
/* Whether two addresses are of the same host, whatever their ports. */
int	anet_same_host(const struct sockaddr_storage *,
	    const struct sockaddr_storage *);
/* Whether the address is a loopback one (127/8, ::1, ::ffff:127/104). */
int	anet_is_loopback(const struct sockaddr_storage *);
int	anet_set_nonblock(int fd);

/*
 * TCP_DEFER_ACCEPT on a listener (man 7 tcp): the kernel hands over a
 * connection only once its first data is in, which saves the server a
 * wake-up and a failed read on almost every call.  A connection that
 * stays silent is still accepted, empty, when the SYN-ACK is resent about
 * `seconds` later, so the server's own read timeout applies to it then.
 */
int	anet_defer_accept(int fd, int seconds);

/*
 * The lingering close of a connection whose response is written but whose
 * peer may still be sending (nginx's lingering_close).  close() with
 * input unread makes the kernel send a reset, which can destroy the
 * response before the client has read it; instead anet_linger_start
 * sends the FIN behind the response (shutdown SHUT_WR, which also pushes
 * anything held back by MSG_MORE) and anet_linger_drain reads and
 * discards what comes until end of file.  The caller bounds the time.
 */
#define ANET_LINGER_BYTES	(1024 * 1024)
#define ANET_LINGER_MS		2000

enum anet_drain {
	ANET_DRAIN_WAIT,	/* nothing more now: wait until readable */
	ANET_DRAIN_EOF,		/* orderly end: close() sends no reset */
	ANET_DRAIN_STOP		/* error, or more than *budget bytes: close */
};

int		anet_linger_start(int fd);
/* Whether input is waiting to be read now (a peek: nothing is taken). */
int		anet_input_pending(int fd);
/* Discards input, taking what it reads off *budget. */
enum anet_drain	anet_linger_drain(int fd, size_t *budget);

/*
 * Splits "HOST:PORT", ":PORT" (host NULL) or "[V6]:PORT" into freshly
 * allocated parts.  -1 with a reason in err if it is none of those.
 */
int	anet_split_hostport(const char *arg, char **host, char **port,
	    char *err);

#endif
