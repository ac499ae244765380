/*
 * web.h - the chat in a web browser (PROTOCOL.md §9): an HTTP server for the
 * page and a WebSocket for each tab, on an ae loop, in front of a chat
 * server of either generation.  Each tab is a chat session of its own
 * (web_session.h); the server stays exactly as it is: the front end is a
 * client.
 *
 * HTTP comes from libmicrohttpd, run from our loop (its epoll descriptor
 * watched like any other), which parses requests, bounds their size and
 * the connections per address, and hands over the socket of a WebSocket
 * handshake; the frames on it are wslay's, over our own non-blocking
 * reads and writes.  What the two libraries hand us is checked in
 * web_msg.c.
 *
 *	rpcchat --web [HOST:]PORT TARGET	a front end for any server
 *	rpcchat PORT --web [HOST:]PORT		a server that serves it too
 */
#ifndef RPCCHAT_WEB_H
#define RPCCHAT_WEB_H

#include <stddef.h>

#include "ae.h"
#include "proto.h"

struct web_opts {
	const char	*listen;	/* "[HOST:]PORT" of the page */
	const char	*host;		/* the target; NULL: localhost */
	const char	*port;
	const char	*target;	/* the target as the user wrote it */
	enum wire	 wire;
	int		 wire_known;	/* server mode: no need to probe */
	int		 strict;
	const char	*origins;	/* --web-origin, comma-separated */
	int		 max_sessions;
	int		 max_per_address;
	size_t		 session_bytes;	/* lines kept per session */
	int		 read_timeout_ms;
	/*
	 * Server mode: the server's own open connections, which count with
	 * ours against max_connections (NULL in client mode).
	 */
	const int	*server_conns;
	int		 max_connections;
};

#define WEB_DEFAULT_MAX_SESSIONS	256
#define WEB_DEFAULT_MAX_PER_ADDRESS	16
#define WEB_DEFAULT_SESSION_BYTES	(256 * 1024)
#define WEB_MIN_SESSION_BYTES		(128 * 1024)
/* A page gone: how long its session waits for a reload before Quit. */
#define WEB_GRACE_MS			5000

struct web;

/*
 * Listens and starts serving on loop; NULL with the reason in err.  Logs
 * "Web page at :PORT" once listening.
 */
struct web	*web_start(struct ae_loop *, const struct web_opts *,
		    char *err, size_t errlen);
/*
 * Runs what is due at now (clock_ms time); returns the next deadline, or
 * -1.  Call it every turn of the loop.
 */
long long	 web_tick(struct web *, long long now);
/* HTTP connections and WebSockets open now. */
int		 web_connections(const struct web *);
/* Descriptors the front end may hold at most, for the loop's table. */
int		 web_fds(const struct web_opts *);
/*
 * Stops taking pages and logs every session out (within a few seconds);
 * web_idle says when they are all gone.
 */
void		 web_stop(struct web *);
int		 web_idle(const struct web *);
void		 web_free(struct web *);

/* Client mode: serves until a signal, then logs everyone out. */
int		 web_run(const struct web_opts *);

#endif
