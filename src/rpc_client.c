/*
 * rpc_client.c - the client stubs (see rpc_client.h).
 *
 * A call is one connection with one deadline for all of it: connect,
 * write the request, read the response.  The socket is non-blocking and
 * every wait is a poll() bounded by what is left of the deadline, so a
 * server that accepts and then says nothing costs at most the timeout.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "anet.h"
#include "rpc_client.h"
#include "text.h"

void
rpc_error_init(struct rpc_error *err)
{
	memset(err, 0, sizeof *err);
	buf_init(&err->msg);
}

void
rpc_error_free(struct rpc_error *err)
{
	buf_free(&err->msg);
	err->status = RPC_OK;
}

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

/* Keeps msg NUL-terminated, whatever was appended to it. */
static void
terminate(struct buf *b)
{
	buf_reserve(b, 1);
	b->data[b->len] = '\0';
}

static void
set_error(struct rpc_error *err, enum rpc_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_error(struct rpc_error *err, enum rpc_status status, const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	err->status = status;
	buf_clear(&err->msg);
	buf_append(&err->msg, line, strlen(line));
	terminate(&err->msg);
}

/* "host:port", with an IPv6 address in brackets, for messages. */
static void
format_server(const struct rpc_server *srv, char *out, size_t size)
{
	const char *host = srv->host != NULL ? srv->host : "localhost";

	if (strchr(host, ':') != NULL)
		snprintf(out, size, "[%s]:%s", host, srv->port);
	else
		snprintf(out, size, "%s:%s", host, srv->port);
}

static void
format_timeout(int ms, char *out, size_t size)
{
	if (ms % 1000 == 0)
		snprintf(out, size, "%d s", ms / 1000);
	else
		snprintf(out, size, "%.1f s", ms / 1000.0);
}

/*
 * Waits until fd is ready for events or the deadline passes.  1 when
 * ready, 0 on timeout, -1 with errno.
 */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left;
	int rc;

	for (;;) {
		left = deadline - anet_now_ms();
		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			return -1;
		if (rc > 0)
			return 1;
	}
}

enum io_result { IO_OK, IO_TIMEOUT, IO_EOF, IO_ERROR, IO_TOO_BIG };

static enum io_result
write_all(int fd, const char *p, size_t len, long long deadline)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = wait_fd(fd, POLLOUT, deadline)) == 0)
				return IO_TIMEOUT;
			if (rc == -1)
				return IO_ERROR;
			continue;
		}
		return IO_ERROR;
	}
	return IO_OK;
}

/*
 * Appends to b until it holds want bytes (want == 0: until EOF, at most
 * max).  IO_EOF when the peer closes before want bytes arrived.
 */
static enum io_result
read_into(int fd, struct buf *b, size_t want, size_t max, long long deadline)
{
	size_t room;
	ssize_t n;
	int rc;

	for (;;) {
		if (want > 0 && b->len >= want)
			return IO_OK;
		room = want > 0 ? want - b->len : 65536;
		n = recv(fd, buf_reserve(b, room), room, 0);
		if (n > 0) {
			b->len += (size_t)n;
			if (want == 0 && b->len > max)
				return IO_TOO_BIG;
			continue;
		}
		if (n == 0)
			return want == 0 ? IO_OK : IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((rc = wait_fd(fd, POLLIN, deadline)) == 0)
				return IO_TIMEOUT;
			if (rc == -1)
				return IO_ERROR;
			continue;
		}
		return IO_ERROR;
	}
}

static void
io_error(struct rpc_error *err, enum io_result r, const char *what,
    const char *server, int timeout_ms, int saved_errno)
{
	char t[32];

	switch (r) {
	case IO_TIMEOUT:
		format_timeout(timeout_ms, t, sizeof t);
		set_error(err, RPC_ERR_NET,
		    "timed out after %s waiting for %s", t, server);
		break;
	case IO_EOF:
		set_error(err, RPC_ERR_NET,
		    "%s closed the connection before the whole response",
		    server);
		break;
	case IO_TOO_BIG:
		set_error(err, RPC_ERR_PROTO,
		    "malformed response: more than %u bytes from %s",
		    UNFRAMED_RESPONSE_MAX, server);
		break;
	default:
		set_error(err, RPC_ERR_NET, "%s %s: %s", what, server,
		    strerror(saved_errno));
		break;
	}
}

int
rpc_send_and_receive(const struct rpc_server *srv, const struct buf *req,
    struct buf *resp, struct rpc_error *err)
{
	char server[ANET_ADDR_LEN + 16], anerr[ANET_ERR_LEN], t[32];
	struct buf out = BUF_INIT;
	struct span hdr;
	enum io_result r;
	long long deadline;
	uint16_t len;
	int fd, rc = -1, timeout_ms = srv->timeout_ms;

	if (timeout_ms <= 0)
		timeout_ms = RPC_DEFAULT_TIMEOUT_MS;
	format_server(srv, server, sizeof server);
	buf_clear(resp);
	/* Refused here rather than sent with a length that has wrapped. */
	if (req->len > (srv->wire == WIRE_FRAMED ? FRAME_MAX :
	    UNFRAMED_REQUEST_MAX)) {
		set_error(err, RPC_ERR_PROTO, "request too large (%zu bytes)",
		    req->len);
		return -1;
	}
	deadline = anet_now_ms() + timeout_ms;
	fd = anet_connect(srv->host, srv->port, deadline, anerr);
	if (fd == -1) {
		if (errno == ETIMEDOUT) {
			format_timeout(timeout_ms, t, sizeof t);
			set_error(err, RPC_ERR_NET,
			    "connect to %s: timed out after %s", server, t);
		} else
			set_error(err, RPC_ERR_NET, "%s", anerr);
		return -1;
	}

	/* The request goes out in one write, prefix and all. */
	if (srv->wire == WIRE_FRAMED)
		put_u16(&out, req->len);
	buf_append(&out, req->data, req->len);
	if ((r = write_all(fd, out.data, out.len, deadline)) != IO_OK) {
		io_error(err, r, "write to", server, timeout_ms, errno);
		goto done;
	}
	/* A probe: a server reading a longer request sees it end here. */
	if (srv->half_close && shutdown(fd, SHUT_WR) == -1) {
		set_error(err, RPC_ERR_NET, "shutdown to %s: %s", server,
		    strerror(errno));
		goto done;
	}

	if (srv->wire == WIRE_UNFRAMED) {
		r = read_into(fd, resp, 0, UNFRAMED_RESPONSE_MAX, deadline);
		if (r != IO_OK) {
			io_error(err, r, "read from", server, timeout_ms,
			    errno);
			goto done;
		}
		if (resp->len == 0) {
			set_error(err, RPC_ERR_NET,
			    "%s closed the connection without a response",
			    server);
			goto done;
		}
		rc = 0;
		goto done;
	}

	r = read_into(fd, resp, 2, 0, deadline);
	if (r == IO_EOF && resp->len == 0) {
		set_error(err, RPC_ERR_NET,
		    "%s closed the connection without a response", server);
		goto done;
	}
	if (r != IO_OK) {
		io_error(err, r, "read from", server, timeout_ms, errno);
		goto done;
	}
	hdr = (struct span){ resp->data, 2 };
	get_u16(&hdr, &len);
	buf_clear(resp);
	if (len > 0 &&
	    (r = read_into(fd, resp, len, 0, deadline)) != IO_OK) {
		io_error(err, r, "read from", server, timeout_ms, errno);
		goto done;
	}
	rc = 0;
done:
	close(fd);
	buf_free(&out);
	if (rc == -1)
		buf_clear(resp);
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
		err->status = RPC_ERR_SERVER;
		buf_clear(&err->msg);
		text_escape(&err->msg, errstr);
		terminate(&err->msg);
		goto fail;
	}
	if (list != NULL) {
		list->v = v;
		list->n = n;
	} else
		free(v);
	err->status = RPC_OK;
	buf_clear(&err->msg);
	terminate(&err->msg);
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

/* Sends a request built by the caller and parses the answer. */
static int
call(const struct rpc_server *srv, enum msg_type type, struct buf *req,
    struct rpc_strlist *list, struct rpc_error *err)
{
	struct buf resp = BUF_INIT;
	struct span got;
	int rc = -1;

	if (rpc_send_and_receive(srv, req, &resp, err) == 0) {
		got = (struct span){ resp.data, resp.len };
		/* Never a frame's length bytes shown as if they were text. */
		if (srv->wire == WIRE_UNFRAMED && rpc_looks_framed(type, got))
			set_error(err, RPC_ERR_PROTO, "the server answered in "
			    "the framed generation of the protocol, not the "
			    "unframed one: use --wire framed, or leave --wire "
			    "out to detect it");
		else
			rc = rpc_parse_response(type, got, srv->strict, list,
			    err);
	}
	buf_free(&resp);
	buf_free(req);
	return rc;
}

/* Builds type + string arguments; -1 when one is longer than a u16. */
static int
build(struct buf *req, enum msg_type type, const struct span *args,
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
call_args(const struct rpc_server *srv, enum msg_type type,
    const struct span *args, size_t nargs, struct rpc_strlist *list,
    struct rpc_error *err)
{
	struct buf req;

	if (build(&req, type, args, nargs, err) == -1)
		return -1;
	return call(srv, type, &req, list, err);
}

int
rpc_register(const struct rpc_server *srv, struct span user,
    struct rpc_error *err)
{
	return call_args(srv, MSG_REGISTER, &user, 1, NULL, err);
}

int
rpc_list(const struct rpc_server *srv, struct rpc_strlist *users,
    struct rpc_error *err)
{
	return call_args(srv, MSG_LIST, NULL, 0, users, err);
}

int
rpc_check_messages(const struct rpc_server *srv, struct span user,
    struct rpc_strlist *messages, struct rpc_error *err)
{
	return call_args(srv, MSG_CHECK_MESSAGES, &user, 1, messages, err);
}

int
rpc_tell(const struct rpc_server *srv, struct span user, struct span target,
    struct span message, struct rpc_error *err)
{
	struct span args[3] = { user, target, message };

	return call_args(srv, MSG_TELL, args, 3, NULL, err);
}

int
rpc_say(const struct rpc_server *srv, struct span user, struct span message,
    struct rpc_error *err)
{
	struct span args[2] = { user, message };

	return call_args(srv, MSG_SAY, args, 2, NULL, err);
}

int
rpc_quit(const struct rpc_server *srv, struct span user,
    struct rpc_error *err)
{
	return call_args(srv, MSG_QUIT, &user, 1, NULL, err);
}

int
rpc_shutdown(const struct rpc_server *srv, struct rpc_error *err)
{
	return call_args(srv, MSG_SHUTDOWN, NULL, 0, NULL, err);
}
