/*
 * client.h - the interactive chat client (PROTOCOL.md §5): register, run the
 * commands typed, poll for messages about once a second, log out at the
 * end whatever the end is.
 */
#ifndef RPCCHAT_CLIENT_H
#define RPCCHAT_CLIENT_H

#include "proto.h"

struct client_opts {
	const char	*host;		/* NULL: localhost */
	const char	*port;
	const char	*addr;		/* as the user wrote it, for messages */
	const char	*user;
	enum wire	 wire;
	int		 wire_auto;	/* find the wire with a probe */
	int		 strict;	/* refuse sloppy responses */
	int		 history;	/* keep line history across runs */
	int		 color;		/* colour on a terminal (NO_COLOR too) */
	int		 timestamps;	/* HH:MM before messages; -1: at a terminal */
	/* -c: run these instead of reading stdin, then log out. */
	const char *const *commands;
	size_t		 ncommands;
};

/*
 * Runs the client until it ends; returns the process exit status (PROTOCOL.md
 * §5.4): 1 when a command failed, whatever printed why on stderr.
 */
int	client_run(const struct client_opts *);

#endif
