/* rpc_server.c - server stubs and dispatcher (see rpc_server.h). */
#include <stdio.h>
#include <string.h>

#include "anet.h"
#include "codec.h"
#include "log.h"
#include "proto.h"
#include "rpc_server.h"

/*
 * An error can quote up to 64 KiB of what the client sent; the log keeps
 * its start, so a line costs the client more than it costs the log.
 */
#define LOG_ERROR_MAX	200

/*
 * The response's error string; the rejection goes to the log, without
 * the call's name in front of the error when the line already says it
 * ("rejected Shutdown from PEER: not allowed").
 */
static void
put_error(struct dispatch *c, const char *call, struct buf *resp,
    struct span err)
{
	char peer[ANET_ADDR_LEN] = "?";
	struct buf shown = BUF_INIT;
	size_t n;

	put_str(resp, err);
	if (err.len == 0)
		return;
	if (c->peer != NULL)
		anet_format_addr(c->peer, peer, sizeof peer);
	n = call != NULL ? strlen(call) : 0;
	if (n > 0 && err.len > n + 2 && memcmp(err.p, call, n) == 0 &&
	    err.p[n] == ':' && err.p[n + 1] == ' ') {
		err.p += n + 2;
		err.len -= n + 2;
	}
	log_client("rejected %s from %s: %s", call ? call : "request", peer,
	    log_quote(&shown, err, LOG_ERROR_MAX));
	buf_free(&shown);
}

/* Logins and logouts, the user's name escaped (PROTOCOL.md §3.3). */
static void
log_session(struct dispatch *c, int flags)
{
	char peer[ANET_ADDR_LEN] = "?";
	struct buf name = BUF_INIT;

	log_quote(&name, (struct span){ c->user, c->userlen }, LOG_ERROR_MAX);
	if (c->type == MSG_QUIT)
		log_msg("*** %s has logged out", name.data);
	else if (!(flags & STORE_REPLACED))
		log_msg("*** %s has logged in", name.data);
	else {
		/* Two clients with one name split its messages: say who came.
		 */
		if (c->peer != NULL)
			anet_format_addr(c->peer, peer, sizeof peer);
		log_msg("*** %s has logged in from %s, replacing a session of "
		    "that name", name.data, peer);
	}
	buf_free(&name);
}

/* The store's answer: results, the error string, the log line. */
static void
answered(void *arg, uint64_t tag, struct span results, struct span err,
    int flags)
{
	struct dispatch *c = arg;

	if (!c->pending || c->tag != tag)
		return;		/* its connection is gone */
	c->pending = 0;
	/* A failed store still answers in the call's shape. */
	if (results.len == 0 && msg_type_has_list((unsigned)c->type))
		put_u16(c->resp, 0);
	buf_append(c->resp, results.p, results.len);
	if (flags & STORE_OUTAGE)
		put_str(c->resp, err);	/* the store logs the outage once */
	else
		put_error(c, msg_type_name((unsigned)c->type), c->resp, err);
	if (err.len == 0 && (c->type == MSG_REGISTER || c->type == MSG_QUIT))
		log_session(c, flags);
	if (!c->dispatching && c->done != NULL)
		c->done(c);
}

void
rpc_abandon(struct dispatch *c)
{
	c->pending = 0;
}

int
rpc_dispatch(struct dispatch *c, struct span req, struct buf *resp)
{
	struct buf err = BUF_INIT;
	struct span a[3] = { { "", 0 }, { "", 0 }, { "", 0 } };
	const char *name;
	uint16_t type;
	int i, nargs;

	if (get_u16(&req, &type) == -1) {
		put_error(c, NULL, resp, SPAN_LIT("request too short"));
		return 1;
	}
	if ((name = msg_type_name(type)) == NULL) {
		buf_appendf(&err, "unknown message type %u", type);
		goto done;
	}
	nargs = msg_type_nargs(type);
	for (i = 0; i < nargs; i++) {
		if (get_str(&req, &a[i]) == -1) {
			buf_appendf(&err, "%s: request too short", name);
			break;
		}
	}
	if (err.len == 0 && req.len > 0)
		buf_appendf(&err, "%s: %zu bytes left over after the arguments",
		    name, req.len);
	if (err.len != 0) {
		/* A malformed request still gets its call's shape. */
		if (msg_type_has_list(type))
			put_u16(resp, 0);
		goto done;
	}
	if (type == MSG_SHUTDOWN) {
		if (c->shutdown_allowed)
			c->shutdown_requested = 1;
		else
			buf_appendf(&err, "Shutdown: not allowed");
		goto done;
	}

	c->resp = resp;
	c->type = type;
	/* Only a valid name is logged, and a valid name fits. */
	c->userlen = nargs > 0 && a[0].len <= USER_MAX ? a[0].len : 0;
	memcpy(c->user, a[0].p, c->userlen);
	c->tag++;
	c->pending = 1;
	c->dispatching = 1;
	store_call(c->store, type, a, c->now_ms, answered, c, c->tag);
	c->dispatching = 0;
	return !c->pending;
done:
	put_error(c, name, resp, (struct span){ err.data, err.len });
	buf_free(&err);
	return 1;
}
