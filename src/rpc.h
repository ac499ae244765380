/*
 * rpc.h - what the client's two RPC modules share: the server a call is
 * made to (the target) and how a call failed.  rpc_call.h (one call as a
 * state machine) and rpc_client.h (the stubs) both stand on it, so
 * neither needs the other's header.
 */
#ifndef RPCCHAT_RPC_H
#define RPCCHAT_RPC_H

#include "buf.h"
#include "proto.h"
#include "span.h"

struct rpc_peer;

/* The server a client's calls go to, and how to talk to it. */
struct rpc_target {
	const char	*host;		/* name or address; "localhost" if NULL */
	const char	*port;
	enum wire	 wire;
	int		 timeout_ms;	/* a whole call, connect included */
	struct rpc_peer	*peer;		/* addresses kept between calls; NULL:
					   look the name up every call */
	int		 strict;	/* refuse sloppy responses (--strict) */
	int		 half_close;	/* shut down writing after the request */
};

#define RPC_DEFAULT_TIMEOUT_MS	5000

enum rpc_status {
	RPC_OK = 0,
	RPC_ERR_NET,		/* connect, read or write failed or timed out */
	RPC_ERR_PROTO,		/* the response was not a valid one */
	RPC_ERR_SERVER		/* the server answered with an error string */
};

/*
 * How a response that was used anyway broke PROTOCOL.md §2.2 (PROTOCOL.md §5.3:
 * other implementations are sloppy; their results are not thrown away).
 */
enum rpc_sloppy {
	RPC_TIDY = 0,
	RPC_NO_ERROR_STRING,	/* nothing at all after the results */
	RPC_EXTRA_BYTES		/* bytes after the error string */
};

/*
 * msg is NUL-terminated text for people (server errors are escaped).
 * sloppy is set whenever a tolerated response was read, failed or not,
 * so the caller can tell the user once (rpc_describe_sloppy).
 */
struct rpc_error {
	enum rpc_status	 status;
	struct buf	 msg;
	enum rpc_sloppy	 sloppy;
	enum msg_type	 sloppy_type;	/* the call whose response it was */
	size_t		 extra;		/* RPC_EXTRA_BYTES: how many */
};

void	rpc_error_init(struct rpc_error *);
void	rpc_error_free(struct rpc_error *);
/* Sets status and the text (kept NUL-terminated). */
void	rpc_error_setf(struct rpc_error *, enum rpc_status, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* The server answered with this error string: kept escaped for people. */
void	rpc_error_set_server(struct rpc_error *, struct span errstr);
/* Success: RPC_OK and an empty text. */
void	rpc_error_clear(struct rpc_error *);

#endif
