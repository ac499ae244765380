/*
 * rpc_client.c - the client stubs (see rpc_client.h).
 *
 * A call is one connection with one deadline for all of it: look up,
 * connect, write the request, read the response.  The stubs run the
 * non-blocking machine of rpc_call.c in a poll() of their own, bounded by
 * what is left of the deadline, so a server that accepts and then says
 * nothing costs at most the timeout.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "anet.h"
#include "codec.h"
#include "rpc_call.h"
#include "rpc_client.h"
#include "text.h"

void
rpc_strlist_init(struct rpc_strlist *l)
{
	l->v = NULL;
	l->n = 0;
	buf_init(&l->storage);
}

void
rpc_strlist_free(struct rpc_strlist *l)
{
	free(l->v);
	buf_free(&l->storage);
	rpc_strlist_init(l);
}

/* The stubs' own name for it. */
#define set_error	rpc_error_setf


int
rpc_send_and_receive(const struct rpc_target *srv, const struct buf *req,
    struct buf *resp, struct rpc_error *err)
{
	struct pollfd pfd[RPC_CALL_FDS_MAX];
	struct rpc_call call;
	size_t n;
	int rc;

	rpc_call_init(&call);
	rpc_call_start(&call, srv, req);
	while (rpc_call_busy(&call)) {
		n = rpc_call_pollfds(&call, pfd, RPC_CALL_FDS_MAX);
		if (poll(pfd, n, rpc_call_wait_ms(&call)) == -1 &&
		    errno != EINTR) {
			rpc_error_setf(&call.err, RPC_ERR_NET, "poll: %s",
			    strerror(errno));
			call.rc = -1;
			break;
		}
		rpc_call_step(&call, pfd, n);
	}
	rc = call.rc;
	buf_clear(resp);
	if (rc == 0)
		buf_append(resp, call.resp.data, call.resp.len);
	else
		rpc_error_setf(err, call.err.status, "%s", call.err.msg.data);
	rpc_call_free(&call);
	return rc;
}

int
rpc_parse_response(enum msg_type type, struct span resp, int strict,
    struct rpc_strlist *list, struct rpc_error *err)
{
	const char *name = msg_type_name(type);
	struct span in, errstr = { "", 0 };
	struct span *v = NULL;
	size_t n = 0;

	err->sloppy = RPC_TIDY;
	err->sloppy_type = type;
	err->extra = 0;
	if (name == NULL) {
		set_error(err, RPC_ERR_PROTO,
		    "malformed response: unknown call type %d", (int)type);
		return -1;
	}
	if (list != NULL)
		rpc_strlist_free(list);
	/* For a call without results, what a dying server sends. */
	if (resp.len == 0) {
		set_error(err, RPC_ERR_PROTO, "malformed %s response: empty",
		    name);
		goto fail;
	}
	if (msg_type_has_list((unsigned)type)) {
		/*
		 * The strings must outlive the caller's response buffer:
		 * copy it once and parse the copy, which the list keeps.
		 */
		if (list != NULL) {
			buf_append(&list->storage, resp.p, resp.len);
			resp = (struct span){ list->storage.data,
			    list->storage.len };
		}
		in = resp;
		if (get_strlist(&in, &v, &n) == -1) {
			set_error(err, RPC_ERR_PROTO, "malformed %s response: "
			    "the list runs past the end (%zu bytes)", name,
			    resp.len);
			goto fail;
		}
	} else
		in = resp;
	if (in.len == 0 && !strict) {
		/* Results intact, error string forgotten: a success. */
		err->sloppy = RPC_NO_ERROR_STRING;
	} else if (get_str(&in, &errstr) == -1) {
		set_error(err, RPC_ERR_PROTO, "malformed %s response: %s",
		    name, in.len == 0 ? "no error string" :
		    "the error string runs past the end");
		goto fail;
	}
	if (in.len > 0) {
		if (strict) {
			set_error(err, RPC_ERR_PROTO, "malformed %s response: "
			    "%zu bytes left over", name, in.len);
			goto fail;
		}
		err->sloppy = RPC_EXTRA_BYTES;
		err->extra = in.len;
	}
	if (errstr.len > 0) {
		rpc_error_set_server(err, errstr);
		goto fail;
	}
	if (list != NULL) {
		list->v = v;
		list->n = n;
	} else
		free(v);
	rpc_error_clear(err);
	return 0;
fail:
	free(v);
	if (list != NULL)
		rpc_strlist_free(list);
	return -1;
}

void
rpc_describe_sloppy(const struct rpc_error *err, struct buf *out)
{
	const char *name = msg_type_name(err->sloppy_type);

	switch (err->sloppy) {
	case RPC_TIDY:
		break;
	case RPC_NO_ERROR_STRING:
		buf_appendf(out, "this server's %s responses end without an "
		    "error string; taking them as successful", name);
		break;
	case RPC_EXTRA_BYTES:
		buf_appendf(out, "this server's %s responses carry %zu extra "
		    "byte%s after the error string; ignoring them", name,
		    err->extra, err->extra == 1 ? "" : "s");
		break;
	}
}

/* Consumes one string list without keeping it; -1 if it does not parse. */
static int
skip_strlist(struct span *in)
{
	struct span s;
	uint16_t n;

	if (get_u16(in, &n) == -1)
		return -1;
	while (n-- > 0)
		if (get_str(in, &s) == -1)
			return -1;
	return 0;
}

int
rpc_looks_framed(enum msg_type type, struct span resp)
{
	struct span body = resp, shaped, s;
	uint16_t len;

	if (get_u16(&body, &len) == -1 || len != body.len || len == 0)
		return 0;
	/* A bare error string: how a server answers a request it refused. */
	shaped = body;
	if (get_str(&shaped, &s) == 0 && shaped.len == 0)
		return 1;
	shaped = body;
	if (msg_type_has_list((unsigned)type) && skip_strlist(&shaped) == -1)
		return 0;
	return get_str(&shaped, &s) == 0 && shaped.len == 0;
}

int
rpc_read_response(const struct rpc_target *srv, enum msg_type type,
    struct span resp, struct rpc_strlist *list, struct rpc_error *err)
{
	/* Never a frame's length bytes shown as if they were text. */
	if (srv->wire == WIRE_UNFRAMED && rpc_looks_framed(type, resp)) {
		set_error(err, RPC_ERR_PROTO, "the server answered in the "
		    "framed generation of the protocol, not the unframed one: "
		    "use --wire framed, or leave --wire out to detect it");
		return -1;
	}
	return rpc_parse_response(type, resp, srv->strict, list, err);
}

/* Sends a request built by the caller and parses the answer. */
static int
call(const struct rpc_target *srv, enum msg_type type, struct buf *req,
    struct rpc_strlist *list, struct rpc_error *err)
{
	struct buf resp = BUF_INIT;
	int rc = -1;

	if (rpc_send_and_receive(srv, req, &resp, err) == 0)
		rc = rpc_read_response(srv, type, (struct span){ resp.data,
		    resp.len }, list, err);
	buf_free(&resp);
	buf_free(req);
	return rc;
}

int
rpc_request(struct buf *req, enum msg_type type, const struct span *args,
    size_t nargs, struct rpc_error *err)
{
	size_t i;

	buf_init(req);
	put_u16(req, type);
	for (i = 0; i < nargs; i++) {
		if (put_str(req, args[i]) == -1) {
			set_error(err, RPC_ERR_PROTO, "%s: argument too long "
			    "(%zu bytes)", msg_type_name(type), args[i].len);
			buf_free(req);
			return -1;
		}
	}
	return 0;
}

static int
call_args(const struct rpc_target *srv, enum msg_type type,
    const struct span *args, size_t nargs, struct rpc_strlist *list,
    struct rpc_error *err)
{
	struct buf req;

	if (rpc_request(&req, type, args, nargs, err) == -1)
		return -1;
	return call(srv, type, &req, list, err);
}

int
rpc_register(const struct rpc_target *srv, struct span user,
    struct rpc_error *err)
{
	return call_args(srv, MSG_REGISTER, &user, 1, NULL, err);
}

int
rpc_list(const struct rpc_target *srv, struct rpc_strlist *users,
    struct rpc_error *err)
{
	return call_args(srv, MSG_LIST, NULL, 0, users, err);
}

int
rpc_check_messages(const struct rpc_target *srv, struct span user,
    struct rpc_strlist *messages, struct rpc_error *err)
{
	return call_args(srv, MSG_CHECK_MESSAGES, &user, 1, messages, err);
}

int
rpc_tell(const struct rpc_target *srv, struct span user, struct span target,
    struct span message, struct rpc_error *err)
{
	struct span args[3] = { user, target, message };

	return call_args(srv, MSG_TELL, args, 3, NULL, err);
}

int
rpc_say(const struct rpc_target *srv, struct span user, struct span message,
    struct rpc_error *err)
{
	struct span args[2] = { user, message };

	return call_args(srv, MSG_SAY, args, 2, NULL, err);
}

int
rpc_quit(const struct rpc_target *srv, struct span user,
    struct rpc_error *err)
{
	return call_args(srv, MSG_QUIT, &user, 1, NULL, err);
}

int
rpc_shutdown(const struct rpc_target *srv, struct rpc_error *err)
{
	return call_args(srv, MSG_SHUTDOWN, NULL, 0, NULL, err);
}
