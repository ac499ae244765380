/* rpc_server.c - server stubs and dispatcher (see rpc_server.h). */
#include <stdio.h>
#include <string.h>

#include "anet.h"
#include "log.h"
#include "proto.h"
#include "rpc_server.h"

/*
 * An error can quote up to 64 KiB of what the client sent; the log keeps
 * its start, so a line costs the client more than it costs the log.
 */
#define LOG_ERROR_MAX	200

/* Arguments of a request, parsed by the dispatcher for every stub alike. */
struct args {
	struct span	v[3];
};

static void
stub_register(struct rpc_call *c, struct args *a, struct buf *resp,
    struct buf *err)
{
	char peer[ANET_ADDR_LEN] = "?";
	struct buf name = BUF_INIT;
	int again = chat_logged_in(c->chat, a->v[0]);

	(void)resp;
	if (chat_register(c->chat, a->v[0], c->now_ms, err) != 0)
		return;
	log_quote(&name, a->v[0], LOG_ERROR_MAX);
	if (!again)
		log_msg("*** %s has logged in", name.data);
	else {
		/* Two clients with one name split its messages: say who came. */
		if (c->peer != NULL)
			anet_format_addr(c->peer, peer, sizeof peer);
		log_msg("*** %s has logged in from %s, replacing a session of "
		    "that name", name.data, peer);
	}
	buf_free(&name);
}

static void
stub_list(struct rpc_call *c, struct args *a, struct buf *resp,
    struct buf *err)
{
	(void)a;
	(void)err;
	chat_list(c->chat, resp);
}

static void
stub_check_messages(struct rpc_call *c, struct args *a, struct buf *resp,
    struct buf *err)
{
	chat_check_messages(c->chat, a->v[0], c->now_ms, resp, err);
}

static void
stub_tell(struct rpc_call *c, struct args *a, struct buf *resp,
    struct buf *err)
{
	(void)resp;
	chat_tell(c->chat, a->v[0], a->v[1], a->v[2], err);
}

static void
stub_say(struct rpc_call *c, struct args *a, struct buf *resp,
    struct buf *err)
{
	(void)resp;
	chat_say(c->chat, a->v[0], a->v[1], err);
}

static void
stub_quit(struct rpc_call *c, struct args *a, struct buf *resp,
    struct buf *err)
{
	struct buf name = BUF_INIT;

	(void)resp;
	if (chat_quit(c->chat, a->v[0], err) == 0)
		log_msg("*** %s has logged out",
		    log_quote(&name, a->v[0], LOG_ERROR_MAX));
	buf_free(&name);
}

static void
stub_shutdown(struct rpc_call *c, struct args *a, struct buf *resp,
    struct buf *err)
{
	(void)a;
	(void)resp;
	if (!c->shutdown_allowed) {
		buf_appendf(err, "Shutdown: not allowed");
		return;
	}
	c->shutdown_requested = 1;
}

typedef void stub_fn(struct rpc_call *, struct args *, struct buf *,
    struct buf *);

static stub_fn *const stubs[MSG_NTYPES] = {
	[MSG_REGISTER]		= stub_register,
	[MSG_LIST]		= stub_list,
	[MSG_CHECK_MESSAGES]	= stub_check_messages,
	[MSG_TELL]		= stub_tell,
	[MSG_SAY]		= stub_say,
	[MSG_QUIT]		= stub_quit,
	[MSG_SHUTDOWN]		= stub_shutdown,
};

/*
 * The response's error string; the rejection goes to the log, without
 * the call's name in front of the error when the line already says it
 * ("rejected Shutdown from PEER: not allowed").
 */
static void
put_error(struct rpc_call *c, const char *call, struct buf *resp,
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

void
rpc_dispatch(struct rpc_call *c, struct span req, struct buf *resp)
{
	struct buf err = BUF_INIT;
	struct args a;
	const char *name;
	uint16_t type;
	int i, nargs;

	if (get_u16(&req, &type) == -1) {
		put_error(c, NULL, resp, SPAN_LIT("request too short"));
		return;
	}
	if ((name = msg_type_name(type)) == NULL) {
		buf_appendf(&err, "unknown message type %u", type);
		goto done;
	}
	nargs = msg_type_nargs(type);
	for (i = 0; i < nargs; i++) {
		if (get_str(&req, &a.v[i]) == -1) {
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
	stubs[type](c, &a, resp, &err);
done:
	put_error(c, name, resp, (struct span){ err.data, err.len });
	buf_free(&err);
}
