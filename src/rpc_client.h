/*
 * rpc_client.h - the client stubs (PROTOCOL.md §2.2-2.3): one function per
 * call, taking the server and the arguments and returning the results and an
 * error.  Each call is one connection: connect, write the request, read the
 * response, close, all within the server's timeout.
 */
#ifndef RPCCHAT_RPC_CLIENT_H
#define RPCCHAT_RPC_CLIENT_H

#include "buf.h"
#include "proto.h"
#include "rpc.h"
#include "span.h"

/* Results that are string lists; the strings point into storage. */
struct rpc_strlist {
	struct span	*v;
	size_t		 n;
	struct buf	 storage;
};

void	rpc_strlist_init(struct rpc_strlist *);
void	rpc_strlist_free(struct rpc_strlist *);

/* Each returns 0, or -1 with err filled in. */
int	rpc_register(const struct rpc_target *, struct span user,
	    struct rpc_error *);
int	rpc_list(const struct rpc_target *, struct rpc_strlist *users,
	    struct rpc_error *);
int	rpc_check_messages(const struct rpc_target *, struct span user,
	    struct rpc_strlist *messages, struct rpc_error *);
int	rpc_tell(const struct rpc_target *, struct span user,
	    struct span target, struct span message, struct rpc_error *);
int	rpc_say(const struct rpc_target *, struct span user,
	    struct span message, struct rpc_error *);
int	rpc_quit(const struct rpc_target *, struct span user,
	    struct rpc_error *);
int	rpc_shutdown(const struct rpc_target *, struct rpc_error *);

/*
 * Builds a request message: type, then each argument as a string.  -1
 * with err filled in when an argument is longer than a u16 can say.
 */
int	rpc_request(struct buf *req, enum msg_type, const struct span *args,
	    size_t nargs, struct rpc_error *);

/*
 * Sends one request message (type + arguments) and reads the response
 * message (results + error string, frame removed) into resp.
 */
int	rpc_send_and_receive(const struct rpc_target *, const struct buf *req,
	    struct buf *resp, struct rpc_error *);

/*
 * Parses a response message of the given type: the string list (for List
 * and CheckMessages, into *list if not NULL) and the error string.  A
 * non-empty error string gives RPC_ERR_SERVER.  Unless strict, results
 * that parse are used when the error string is missing (success) or
 * followed by extra bytes, and err->sloppy says which (PROTOCOL.md §5.3); an
 * empty response, a cut-off error string and results that do not parse
 * are RPC_ERR_PROTO either way.  Strict: nothing may be left over.
 * Pure: the fuzz target for client responses calls this.
 */
int	rpc_parse_response(enum msg_type, struct span resp, int strict,
	    struct rpc_strlist *list, struct rpc_error *);

/*
 * The response message of a call made to srv, read as srv says (--strict,
 * its wire): rpc_parse_response, except that a framed answer read on the
 * unframed wire is said to be one, naming --wire, rather than parsed.
 */
int	rpc_read_response(const struct rpc_target *, enum msg_type,
	    struct span resp, struct rpc_strlist *list, struct rpc_error *);

/* The sentence for a note about err->sloppy, for the server's author. */
void	rpc_describe_sloppy(const struct rpc_error *, struct buf *);

/*
 * Whether resp, read unframed, is in fact one framed response of the
 * call's shape (or a bare error string): the server speaks the framed
 * generation (PROTOCOL.md §6).  Pure.
 */
int	rpc_looks_framed(enum msg_type, struct span resp);

#endif
