/*
 * web_http.c - the page's HTTP side: libmicrohttpd, run from our loop.
 *
 * libmicrohttpd runs without a thread of its own: its epoll descriptor is
 * watched on the loop, and MHD_run is called when it is readable or its
 * own timeout is due; it never blocks.  It parses each request, bounds
 * its headers (HTTP_MEMORY), the connections in all and per address, and
 * hands over the socket of an accepted WebSocket handshake (web_page.c).
 *
 * Every response closes its connection ("Connection: close"), so each
 * connection carries one request, which must be complete within the read
 * timeout of its accept: a slow or silent client is cut off then, as the
 * RPC server does (libmicrohttpd's own timeout only counts idleness).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include "anet.h"
#include "clock.h"
#include "log.h"
#include "web_internal.h"
#include "web_msg.h"
#include "xmalloc.h"

/* The page, embedded at build time (scripts/embed). */
extern const char web_index_html[], web_chat_css[], web_chat_js[];
extern const size_t web_index_html_len, web_chat_css_len, web_chat_js_len;

/* Bytes of HTTP request (headers) a connection may hold. */
#define HTTP_MEMORY		(8 * 1024)

static const char csp[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"img-src 'self'; connect-src 'self'; base-uri 'none'; "
	"form-action 'none'; frame-ancestors 'none'";


static void
http_move(struct web *w, struct http *h, struct http_list *to)
{
	(void)w;
	TAILQ_REMOVE(h->list, h, entry);
	h->list = to;
	TAILQ_INSERT_TAIL(to, h, entry);
}

static void
secure_headers(struct MHD_Response *r, const char *type)
{
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy",
	    "same-origin");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
}

static struct MHD_Response *
static_response(const char *data, size_t len, const char *type)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return NULL;
	secure_headers(r, type);
	MHD_add_response_header(r, "Connection", "close");
	return r;
}

enum { ERR_400, ERR_403, ERR_404, ERR_405, ERR_503 };
static const struct {
	unsigned	 code;
	const char	*text;
} errors[] = {
	{ MHD_HTTP_BAD_REQUEST, "400 not a WebSocket handshake\n" },
	{ MHD_HTTP_FORBIDDEN, "403 this origin may not open the chat\n" },
	{ MHD_HTTP_NOT_FOUND, "404 not found\n" },
	{ MHD_HTTP_METHOD_NOT_ALLOWED, "405 only GET\n" },
	{ MHD_HTTP_SERVICE_UNAVAILABLE, "503 too busy; try again later\n" },
};

static enum MHD_Result
answer_error(struct web *w, struct MHD_Connection *conn, int which)
{
	return MHD_queue_response(conn, errors[which].code,
	    w->errors[which]);
}

static struct span
header(struct MHD_Connection *conn, const char *name)
{
	const char *v = NULL;
	size_t len = 0;

	if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, name,
	    strlen(name), &v, &len) != MHD_YES || v == NULL)
		return (struct span){ "", 0 };
	return (struct span){ v, len };
}

static void
log_refused(struct web *w, struct MHD_Connection *conn, const char *why)
{
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_storage ss;
	char peer[ANET_ADDR_LEN] = "?";

	memset(&ss, 0, sizeof ss);
	if ((ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS)) != NULL &&
	    ci->client_addr != NULL) {
		memcpy(&ss, ci->client_addr,
		    ci->client_addr->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		anet_format_addr(&ss, peer, sizeof peer);
	}
	(void)w;
	log_client("web: refused a WebSocket from %s: %s", peer, why);
}

/* libmicrohttpd has sent the 101: the socket is the page's now. */
static void
upgraded(void *cls, struct MHD_Connection *conn, void *con_cls,
    const char *extra, size_t extra_len, MHD_socket fd,
    struct MHD_UpgradeResponseHandle *urh)
{
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_storage from;

	(void)con_cls;
	memset(&from, 0, sizeof from);
	if ((ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS)) != NULL &&
	    ci->client_addr != NULL)
		memcpy(&from, ci->client_addr,
		    ci->client_addr->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	web_page_open(cls, fd, urh, extra, extra_len, &from);
}

static enum MHD_Result
answer_websocket(struct web *w, struct MHD_Connection *conn)
{
	struct MHD_Response *r;
	char accept[WEB_ACCEPT_LEN + 1];
	enum MHD_Result ret;
	struct buf origin = BUF_INIT;

	if (!web_has_token(header(conn, "Upgrade"), "websocket") ||
	    !web_has_token(header(conn, "Connection"), "upgrade") ||
	    !span_eq(header(conn, "Sec-WebSocket-Version"), SPAN_LIT("13")) ||
	    web_ws_accept(header(conn, "Sec-WebSocket-Key"), accept) == -1)
		return answer_error(w, conn, ERR_400);
	if (!web_origin_ok(header(conn, "Origin"), header(conn, "Host"),
	    w->opts->origins)) {
		log_refused(w, conn, log_quote(&origin, header(conn, "Origin"),
		    100));
		buf_free(&origin);
		return answer_error(w, conn, ERR_403);
	}
	if (w->stopping)
		return answer_error(w, conn, ERR_503);
	if ((r = MHD_create_response_for_upgrade(upgraded, w)) == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Upgrade", "websocket");
	MHD_add_response_header(r, "Connection", "Upgrade");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
	ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **con_cls)
{
	struct web *w = cls;
	const union MHD_ConnectionInfo *ci;
	struct http *h;

	(void)version;
	(void)upload;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL && (h = ci->socket_context) != NULL &&
	    h->list == &w->waiting)
		http_move(w, h, &w->answered);
	/* A body is never wanted: it is skipped, the answer is an error. */
	if (*upload_len != 0) {
		*upload_len = 0;
		return MHD_YES;
	}
	(void)con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer_error(w, conn, ERR_405);
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
		return MHD_queue_response(conn, MHD_HTTP_OK, w->files[0]);
	if (strcmp(url, "/chat.css") == 0)
		return MHD_queue_response(conn, MHD_HTTP_OK, w->files[1]);
	if (strcmp(url, "/chat.js") == 0)
		return MHD_queue_response(conn, MHD_HTTP_OK, w->files[2]);
	/* No icon: an empty answer rather than a 404 in the console. */
	if (strcmp(url, "/favicon.ico") == 0)
		return MHD_queue_response(conn, MHD_HTTP_NO_CONTENT,
		    w->files[3]);
	if (strcmp(url, "/ws") == 0 && strcmp(method, "GET") == 0)
		return answer_websocket(w, conn);
	return answer_error(w, conn, ERR_404);
}

/* Every connection's count, ours and (server mode) the server's. */
static int
connections(const struct web *w)
{
	return w->nhttp + (w->opts->server_conns != NULL ?
	    *w->opts->server_conns : 0);
}

static enum MHD_Result
accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct web *w = cls;
	long long now;

	(void)addr;
	(void)len;
	if (w->stopping)
		return MHD_NO;
	if (w->opts->server_conns != NULL &&
	    connections(w) >= w->opts->max_connections) {
		now = clock_ms();
		if (now - w->last_refusal_log >= 1000) {
			log_msg("web: refusing connections: %d open "
			    "(--max-connections)", connections(w));
			w->last_refusal_log = now;
		}
		return MHD_NO;
	}
	return MHD_YES;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct web *w = cls;
	const union MHD_ConnectionInfo *ci;
	struct http *h;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		w->nhttp++;
		h = xcalloc(1, sizeof *h);
		h->fd = -1;
		if ((ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD)) != NULL)
			h->fd = ci->connect_fd;
		h->deadline = clock_ms() + w->opts->read_timeout_ms;
		h->list = &w->waiting;
		TAILQ_INSERT_TAIL(h->list, h, entry);
		*ctx = h;
		return;
	}
	w->nhttp--;
	if ((h = *ctx) != NULL) {
		TAILQ_REMOVE(h->list, h, entry);
		free(h);
		*ctx = NULL;
	}
}

/*
 * A request not complete within the read timeout: its socket is shut
 * down, and libmicrohttpd, reading the end of it, closes the connection.
 * Every connection has the same timeout, so the list is in deadline
 * order.
 */
static long long
expire_http(struct web *w, long long now)
{
	struct http *h;

	while ((h = TAILQ_FIRST(&w->waiting)) != NULL && h->deadline <= now) {
		http_move(w, h, &w->answered);
		if (h->fd != -1) {
			shutdown(h->fd, SHUT_RDWR);
			w->mhd_due = 1;
		}
	}
	return h != NULL ? h->deadline : -1;
}

static void
mhd_readable(struct ae_loop *loop, int fd, void *data, int mask)
{
	struct web *w = data;

	(void)loop;
	(void)fd;
	(void)mask;
	w->mhd_due = 1;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	struct buf q = BUF_INIT;
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		n--;
	log_client("web: %s", log_quote(&q, (struct span){ line, n }, 400));
	buf_free(&q);
}

/*
 * The page's listening socket: every address for "PORT" or ":PORT" (as
 * the server listens), else the first address of HOST that binds.
 */
static int
listen_on(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	char aerr[ANET_ERR_LEN], *host = NULL, *port = NULL;
	int fd = -1, on = 1, rc;

	if (strchr(spec, ':') == NULL) {
		if ((fd = anet_listen(spec, 511, aerr)) == -1)
			snprintf(err, errlen, "--web %s: %s", spec, aerr);
		return fd;
	}
	if (anet_split_hostport(spec, &host, &port, aerr) == -1) {
		snprintf(err, errlen, "--web %s: %s", spec, aerr);
		return -1;
	}
	if (host == NULL) {
		if ((fd = anet_listen(port, 511, aerr)) == -1)
			snprintf(err, errlen, "--web %s: %s", spec, aerr);
		goto out;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "--web %s: %s", spec, gai_strerror(rc));
		goto out;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 511) == 0)
			break;
		snprintf(err, errlen, "--web %s: %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
out:
	free(host);
	free(port);
	return fd;
}

int
web_http_start(struct web *w, char *err, size_t errlen)
{
	const struct web_opts *o = w->opts;
	const union MHD_DaemonInfo *di;
	size_t i;
	int lfd;

	if ((lfd = listen_on(o->listen, err, errlen)) == -1)
		return -1;
	w->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_UPGRADE |
	    MHD_USE_ERROR_LOG, 0, accept_policy, w, on_request, w,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)lfd,
	    MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)(o->max_sessions + HTTP_EXTRA),
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)(o->max_per_address + HTTP_EXTRA / 8),
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)((o->read_timeout_ms + 999) / 1000),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, w,
	    MHD_OPTION_END);
	if (w->mhd == NULL) {
		close(lfd);
		snprintf(err, errlen, "--web %s: the HTTP server would not "
		    "start", o->listen);
		return -1;
	}
	if ((di = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_EPOLL_FD)) ==
	    NULL || ae_watch(w->loop, di->epoll_fd, AE_READABLE, mhd_readable,
	    w) == -1) {
		snprintf(err, errlen, "--web: cannot watch the HTTP server");
		return -1;
	}
	w->mhd_fd = di->epoll_fd;
	w->files[0] = static_response(web_index_html, web_index_html_len,
	    "text/html; charset=utf-8");
	w->files[1] = static_response(web_chat_css, web_chat_css_len,
	    "text/css; charset=utf-8");
	w->files[2] = static_response(web_chat_js, web_chat_js_len,
	    "text/javascript; charset=utf-8");
	for (i = 0; i < sizeof errors / sizeof errors[0]; i++)
		w->errors[i] = static_response(errors[i].text,
		    strlen(errors[i].text), "text/plain; charset=utf-8");
	w->files[3] = static_response("", 0, "image/x-icon");
	for (i = 0; i < 4; i++)
		if (w->files[i] == NULL)
			return -1;
	for (i = 0; i < sizeof errors / sizeof errors[0]; i++)
		if (w->errors[i] == NULL)
			return -1;
	log_msg("Web page at :%d, for the chat at %s", anet_local_port(lfd),
	    o->target);
	return 0;
}

long long
web_http_run(struct web *w, long long now)
{
	MHD_UNSIGNED_LONG_LONG t;
	long long next;
	int i;

	next = expire_http(w, now);
	/* MHD's own deadlines; a run at once while it has work pending. */
	for (i = 0; i < 4; i++) {
		if (!w->mhd_due && !(MHD_get_timeout(w->mhd, &t) == MHD_YES &&
		    t == 0))
			break;
		w->mhd_due = 0;
		MHD_run(w->mhd);
	}
	if (MHD_get_timeout(w->mhd, &t) == MHD_YES) {
		t = t > 60000 ? 60000 : t;
		if (next < 0 || now + (long long)t < next)
			next = now + (long long)t;
	}
	if (w->mhd_due)
		next = now;
	return next;
}

void
web_http_free(struct web *w)
{
	size_t i;

	if (w->mhd_fd != -1)
		ae_unwatch(w->loop, w->mhd_fd, 0);
	if (w->mhd != NULL)
		MHD_stop_daemon(w->mhd);
	for (i = 0; i < 4; i++)
		if (w->files[i] != NULL)
			MHD_destroy_response(w->files[i]);
	for (i = 0; i < sizeof errors / sizeof errors[0]; i++)
		if (w->errors[i] != NULL)
			MHD_destroy_response(w->errors[i]);
}
