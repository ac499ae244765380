/*
 * server.h - the chat server (PROTOCOL.md §3.4-3.5): one process, one epoll
 * loop, non-blocking sockets, one call per connection.
 */
#ifndef RPCCHAT_SERVER_H
#define RPCCHAT_SERVER_H

#include <sys/socket.h>

#include "chat_limits.h"
#include "proto.h"

struct web_opts;

enum shutdown_policy {
	SHUTDOWN_ANY,		/* anyone may call Shutdown (the assignment) */
	SHUTDOWN_LOCAL,		/* loopback peers only */
	SHUTDOWN_NONE
};

struct server_opts {
	const char		*port;
	struct chat_limits	 limits;
	int			 read_timeout_ms;
	int			 max_connections;
	enum shutdown_policy	 allow_shutdown;
	enum wire		 wire;
	const char		*store_url;	/* NULL: memory */
	int			 store_sync;	/* replicas to confirm changes */
	/* --web: the page is served too, its sessions clients of ours. */
	const struct web_opts	*web;
};

#define SERVER_DEFAULT_READ_TIMEOUT_MS	(10 * 1000)
#define SERVER_DEFAULT_MAX_CONNECTIONS	1024

/* Serves until Shutdown, SIGINT, SIGTERM or SIGHUP; returns the status. */
int	server_run(const struct server_opts *);

/* Whether a peer may call Shutdown under the policy. */
int	server_shutdown_allowed(enum shutdown_policy,
	    const struct sockaddr_storage *peer);

#endif
