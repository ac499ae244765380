/*
 * web.c - the web mode of rpcchat-bench: many browser tabs on one
 * `rpcchat --web` front end (PROTOCOL.md §9), measured from outside.
 *
 * N WebSockets are opened to the page's port and each logs in; once all
 * are live and have settled, the front end's resident memory (from
 * /proc/PID/status, given --web-pid) is read again: the growth divided by
 * N is the memory of a session.  Then an idle window in which the
 * sessions only poll: the front end's CPU time (utime + stime from
 * /proc/PID/stat) over it, divided by N and by its seconds, is the CPU of
 * a session per second of polling.  Then a window of Says, sent by the
 * tabs in turn at a steady rate, each carrying its send time: every tab
 * that shows it adds the delay from send to display to a histogram (p50,
 * p99), which the one-second poll bounds.
 *
 * Frames are wslay's, as in the front end; of the handshake's answer only
 * the status line is looked at (the server is our own).  One thread, one
 * epoll loop, every wait bounded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nettle/base64.h>
#include <wslay/wslay.h>

#include "bench.h"
#include "xmalloc.h"

#define CONNECT_TIMEOUT_S	60
#define SETTLE_MS		3000

enum { WS_CONNECTING, WS_HANDSHAKE, WS_LOGIN, WS_LIVE, WS_DEAD };

struct tab {
	int			 fd;
	int			 state;
	int			 idx;
	wslay_event_context_ptr	 ws;
	char			 head[1024];
	size_t			 headlen;
	char			*extra;
	size_t			 extra_len;
	struct web_run		*run;
};

struct web_run {
	const struct web_bench_cfg *cfg;
	struct tab		*tabs;
	int			 epfd;
	int			 live;
	int			 dead;
	int			 measuring;	/* Says are timed */
	struct hist		 delay;		/* ns, send to display */
	uint64_t		 shown;
	uint32_t		 nonce;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Resident kilobytes of pid, or -1. */
static long
rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* CPU seconds (user + system) of pid, or -1. */
static double
cpu_s(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command's closing parenthesis: fields 3 on. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static ssize_t
tab_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *data)
{
	struct tab *t = data;
	ssize_t r;

	(void)flags;
	if (t->extra_len > 0) {
		r = (ssize_t)(t->extra_len < len ? t->extra_len : len);
		memcpy(buf, t->extra, (size_t)r);
		memmove(t->extra, t->extra + r, t->extra_len - (size_t)r);
		t->extra_len -= (size_t)r;
		return r;
	}
	r = recv(t->fd, buf, len, 0);
	if (r == -1 && (errno == EAGAIN || errno == EINTR)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (r <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return r;
}

static ssize_t
tab_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct tab *t = arg;
	ssize_t r;

	(void)flags;
	r = send(t->fd, data, len, MSG_NOSIGNAL);
	if (r == -1 && (errno == EAGAIN || errno == EINTR)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (r == -1) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return r;
}

static int
tab_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg)
{
	(void)ctx;
	(void)arg;
	return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -1;
}

static void
tab_send_text(struct tab *t, const char *text)
{
	struct wslay_event_msg m = { WSLAY_TEXT_FRAME, (const uint8_t *)text,
	    strlen(text) };

	wslay_event_queue_msg(t->ws, &m);
}

/* "says m NONCE SENT_NS": a timed Say of this run, shown. */
static void
tab_message(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *arg, void *data)
{
	struct tab *t = data;
	struct web_run *r = t->run;
	char text[256], *p;
	unsigned long long sent;
	unsigned nonce;
	size_t n;

	(void)ctx;
	if (arg->opcode != WSLAY_TEXT_FRAME)
		return;
	n = arg->msg_length < sizeof text - 1 ? arg->msg_length :
	    sizeof text - 1;
	memcpy(text, arg->msg, n);
	text[n] = '\0';
	if (t->state == WS_LOGIN && strstr(text, "\"t\":\"session\"") != NULL) {
		t->state = WS_LIVE;
		r->live++;
		return;
	}
	if (strstr(text, "\"t\":\"refused\"") != NULL) {
		fprintf(stderr, "rpcchat-bench: tab %d refused: %s\n", t->idx,
		    text);
		t->state = WS_DEAD;
		r->dead++;
		return;
	}
	if (r->measuring && (p = strstr(text, " says m ")) != NULL &&
	    sscanf(p, " says m %u %llu", &nonce, &sent) == 2 &&
	    nonce == r->nonce) {
		hist_add(&r->delay, now_ns() - sent);
		r->shown++;
	}
}

static const struct wslay_event_callbacks tab_callbacks = {
	.recv_callback = tab_recv,
	.send_callback = tab_send,
	.genmask_callback = tab_genmask,
	.on_msg_recv_callback = tab_message,
};

static void
tab_watch(struct web_run *r, struct tab *t, int op)
{
	struct epoll_event ev = { 0 };

	ev.data.ptr = t;
	if (t->state == WS_CONNECTING)
		ev.events = EPOLLOUT;
	else if (t->state == WS_HANDSHAKE)
		ev.events = EPOLLIN;
	else
		ev.events = EPOLLIN | (wslay_event_want_write(t->ws) ?
		    EPOLLOUT : 0);
	epoll_ctl(r->epfd, op, t->fd, &ev);
}

static void
tab_fail(struct web_run *r, struct tab *t, const char *why)
{
	if (t->state == WS_DEAD)
		return;
	if (t->state == WS_LIVE)
		r->live--;
	fprintf(stderr, "rpcchat-bench: tab %d: %s\n", t->idx, why);
	t->state = WS_DEAD;
	r->dead++;
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, t->fd, NULL);
}

static void
tab_handshake_sent(struct web_run *r, struct tab *t)
{
	char req[512], k[BASE64_ENCODE_RAW_LENGTH(16) + 1];
	uint8_t key[16];
	int n;

	if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
		memset(key, 7, sizeof key);
	base64_encode_raw(k, sizeof key, key);
	k[sizeof k - 1] = '\0';
	n = snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: %s\r\n"
	    "Origin: http://%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    r->cfg->hostport, r->cfg->hostport, k);
	if (send(t->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		tab_fail(r, t, "cannot send the handshake");
		return;
	}
	t->state = WS_HANDSHAKE;
	tab_watch(r, t, EPOLL_CTL_MOD);
}

static void
tab_handshake_read(struct web_run *r, struct tab *t)
{
	char login[64], *end;
	ssize_t n;

	n = recv(t->fd, t->head + t->headlen, sizeof t->head - t->headlen - 1,
	    0);
	if (n <= 0) {
		if (n == -1 && errno == EAGAIN)
			return;
		tab_fail(r, t, "closed during the handshake");
		return;
	}
	t->headlen += (size_t)n;
	t->head[t->headlen] = '\0';
	if ((end = strstr(t->head, "\r\n\r\n")) == NULL) {
		if (t->headlen == sizeof t->head - 1)
			tab_fail(r, t, "handshake answer too long");
		return;
	}
	if (strncmp(t->head, "HTTP/1.1 101 ", 13) != 0) {
		tab_fail(r, t, "handshake refused");
		return;
	}
	end += 4;
	t->extra_len = t->headlen - (size_t)(end - t->head);
	if (t->extra_len > 0)
		t->extra = xmemdup(end, t->extra_len);
	if (wslay_event_context_client_init(&t->ws, &tab_callbacks, t) != 0) {
		tab_fail(r, t, "wslay");
		return;
	}
	snprintf(login, sizeof login, "login %s%d", r->cfg->prefix, t->idx);
	tab_send_text(t, login);
	t->state = WS_LOGIN;
	tab_watch(r, t, EPOLL_CTL_MOD);
}

static void
tab_event(struct web_run *r, struct tab *t, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof err;

	switch (t->state) {
	case WS_CONNECTING:
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			tab_fail(r, t, strerror(err != 0 ? err : errno));
			return;
		}
		tab_handshake_sent(r, t);
		return;
	case WS_HANDSHAKE:
		tab_handshake_read(r, t);
		return;
	case WS_DEAD:
		return;
	default:
		break;
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    wslay_event_recv(t->ws) != 0) {
		tab_fail(r, t, "the front end closed the WebSocket");
		return;
	}
	if (wslay_event_want_write(t->ws) && wslay_event_send(t->ws) != 0) {
		tab_fail(r, t, "write failed");
		return;
	}
	if (t->state != WS_DEAD)
		tab_watch(r, t, EPOLL_CTL_MOD);
}

/* Runs the loop for ms, or until done says so. */
static void
spin(struct web_run *r, int ms, int (*done)(struct web_run *))
{
	struct epoll_event ev[256];
	uint64_t until = now_ns() + (uint64_t)ms * 1000000u, now;
	int i, n;

	while ((now = now_ns()) < until && (done == NULL || !done(r))) {
		n = epoll_wait(r->epfd, ev, 256,
		    (int)((until - now) / 1000000u) + 1);
		for (i = 0; i < n; i++)
			tab_event(r, ev[i].data.ptr, ev[i].events);
	}
}

static int
all_in(struct web_run *r)
{
	return r->live + r->dead >= r->cfg->sessions;
}

int
bench_web(const struct web_bench_cfg *cfg, const struct sockaddr_storage *addr,
    socklen_t addrlen)
{
	struct web_run run;
	struct tab *t;
	long rss0 = -1, rss1 = -1;
	double cpu0, cpu1, idle_s, says_s;
	uint64_t t0, t1, sent = 0, next, gap;
	char line[96];
	int i, status = 0;

	memset(&run, 0, sizeof run);
	run.cfg = cfg;
	hist_init(&run.delay);
	run.nonce = (uint32_t)(time(NULL) % 1000000);
	if ((run.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("rpcchat-bench: epoll");
		return 1;
	}
	if (cfg->pid > 0)
		rss0 = rss_kb(cfg->pid);
	run.tabs = xcalloc((size_t)cfg->sessions, sizeof *run.tabs);
	for (i = 0; i < cfg->sessions; i++) {
		t = &run.tabs[i];
		t->idx = i;
		t->run = &run;
		t->state = WS_CONNECTING;
		t->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (t->fd == -1 || (connect(t->fd, (const struct sockaddr *)addr,
		    addrlen) == -1 && errno != EINPROGRESS)) {
			t->state = WS_DEAD;
			run.dead++;
			fprintf(stderr, "rpcchat-bench: tab %d: %s\n", i,
			    strerror(errno));
			continue;
		}
		tab_watch(&run, t, EPOLL_CTL_ADD);
		/* A few at a time, so the listener's backlog keeps up. */
		if (i % 64 == 63)
			spin(&run, 1, NULL);
	}
	spin(&run, CONNECT_TIMEOUT_S * 1000, all_in);
	if (run.live < cfg->sessions) {
		fprintf(stderr, "rpcchat-bench: %d of %d sessions live\n",
		    run.live, cfg->sessions);
		status = 1;
	}
	spin(&run, SETTLE_MS, NULL);
	if (cfg->pid > 0)
		rss1 = rss_kb(cfg->pid);

	/* Polling alone. */
	cpu0 = cfg->pid > 0 ? cpu_s(cfg->pid) : -1;
	t0 = now_ns();
	spin(&run, (int)(cfg->duration * 1000), NULL);
	t1 = now_ns();
	cpu1 = cfg->pid > 0 ? cpu_s(cfg->pid) : -1;
	idle_s = (double)(t1 - t0) / 1e9;

	/* Says, in turn, at a steady rate; each tab times what it shows. */
	run.measuring = 1;
	gap = (uint64_t)(1e9 / cfg->says_per_s);
	t0 = next = now_ns();
	while ((t1 = now_ns()) < t0 + (uint64_t)(cfg->duration * 1e9)) {
		if (t1 >= next) {
			t = &run.tabs[sent % (uint64_t)cfg->sessions];
			if (t->state == WS_LIVE) {
				snprintf(line, sizeof line, "line m %u %llu",
				    run.nonce, (unsigned long long)now_ns());
				tab_send_text(t, line);
				tab_watch(&run, t, EPOLL_CTL_MOD);
			}
			sent++;
			next += gap;
		}
		spin(&run, (int)((next > t1 ? next - t1 : 0) / 1000000u), NULL);
	}
	/* What is still on its way: two polls' time. */
	spin(&run, 2500, NULL);
	says_s = (double)(now_ns() - t0) / 1e9;

	printf("web sessions: %d live of %d (%d failed)\n", run.live,
	    cfg->sessions, run.dead);
	if (rss0 >= 0 && rss1 >= 0)
		printf("memory: %.1f KiB a session (resident %ld -> %ld KiB)\n",
		    (double)(rss1 - rss0) / cfg->sessions, rss0, rss1);
	if (cpu0 >= 0 && cpu1 >= 0)
		printf("cpu polling: %.1f us a session a second (%.3f s of "
		    "CPU in %.1f s, %d sessions)\n", (cpu1 - cpu0) * 1e6 /
		    ((double)cfg->sessions * idle_s), cpu1 - cpu0, idle_s,
		    cfg->sessions);
	printf("say to display: %llu Says, %llu lines shown in %.1f s; "
	    "p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
	    (unsigned long long)sent, (unsigned long long)run.shown, says_s,
	    hist_quantile(&run.delay, 0.5) / 1e6,
	    hist_quantile(&run.delay, 0.99) / 1e6,
	    (double)run.delay.max / 1e6);
	for (i = 0; i < cfg->sessions; i++) {
		t = &run.tabs[i];
		if (t->ws != NULL)
			wslay_event_context_free(t->ws);
		free(t->extra);
		if (t->fd != -1)
			close(t->fd);
	}
	free(run.tabs);
	close(run.epfd);
	return status;
}
