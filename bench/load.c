/*
 * load.c - the load generator's engine (see bench.h).
 *
 * A call's life on one slot: socket, non-blocking connect, write the
 * request (at once when loopback connects synchronously), one epoll
 * registration, edge-triggered, for the response, read it, close.  The
 * server closes first (PROTOCOL.md §2.2), so TIME_WAIT lands on its side and
 * the bench does not run out of ephemeral ports; EPOLLRDHUP tells us the FIN
 * has arrived so the last read that would return 0 is skipped.  A response
 * complete before the FIN is closed with SO_LINGER 0 (counted as no_eof) so
 * that a server that never closes cannot fill TIME_WAIT here.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "buf.h"
#include "codec.h"
#include "xmalloc.h"

enum slot_state {
	SLOT_IDLE,
	SLOT_CONNECTING,
	SLOT_WRITING,
	SLOT_READING,
	SLOT_RETIRED
};

struct worker;

struct slot {
	struct worker	*w;
	int		 fd;
	enum slot_state	 state;
	unsigned	 type;
	uint32_t	 user;
	int		 rdhup;
	int		 user_done;	/* collect: the server says no more */
	int		 user_calls;	/* collect: calls for this user so far */
	uint64_t	 t0;
	uint64_t	 deadline;
	size_t		 woff;
	struct buf	 req;
	struct buf	 resp;
};

struct shared {
	const struct bench_cfg	*cfg;
	_Atomic uint64_t	 tickets;	/* calls issued, or next user */
	_Atomic uint32_t	 say_seq;
	uint64_t		 start_ns;
	uint64_t		 end_ns;	/* duration mode */
	struct collect_stats	*cs;
};

struct worker {
	pthread_t		 tid;
	struct shared		*sh;
	const struct bench_cfg	*cfg;
	int			 epfd;
	struct slot		*slots;
	int			 nslots;
	int			 active;
	uint64_t		 rng;
	uint64_t		 last_ns;
	struct bench_stats	 st;
	struct collect_stats	 cs;	/* totals only; per user is shared */
	char			 msg[65536];
};

/* A Say or Tell message of the configured size never exceeds this. */
#define MSG_MAX		60000
/*
 * A queue holds at most --queue-limit messages (10,000 by default), so a
 * server still answering after this many calls for one user never drains.
 */
#define COLLECT_MAX_CALLS	100000
/* What one read asks for; a framed response is at most 2 + 65535. */
#define READ_CHUNK	(2 + 65535)

static const char *err_names[BERR_NKINDS] = {
	[BERR_REFUSED] = "refused",
	[BERR_RESET] = "reset",
	[BERR_TIMEOUT] = "timeout",
	[BERR_CONNECT] = "connect",
	[BERR_SHORT] = "short",
	[BERR_MALFORMED] = "malformed",
	[BERR_SERVER] = "server",
};

const char *
bench_err_name(enum bench_err e)
{
	return e < BERR_NKINDS ? err_names[e] : "?";
}

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

size_t
bench_user_name(const struct bench_cfg *cfg, uint32_t i, char *out,
    size_t outlen)
{
	static const char digits[] =
	    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char tmp[8];
	size_t n = 0, plen = strlen(cfg->prefix), k;

	do {
		tmp[n++] = digits[i % 62];
		i /= 62;
	} while (i > 0);
	if (plen + n + 1 > outlen)
		return 0;
	memcpy(out, cfg->prefix, plen);
	for (k = 0; k < n; k++)
		out[plen + k] = tmp[n - 1 - k];
	out[plen + n] = '\0';
	return plen + n;
}

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void
note_error(struct worker *w, enum bench_err kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
note_error(struct worker *w, enum bench_err kind, const char *fmt, ...)
{
	va_list ap;

	if (w->st.errors[kind]++ == 0) {
		va_start(ap, fmt);
		vsnprintf(w->st.err_sample[kind], BENCH_ERR_SAMPLE, fmt, ap);
		va_end(ap);
	}
}

static enum bench_err
errno_kind(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return BERR_REFUSED;
	case ECONNRESET:
	case EPIPE:
		return BERR_RESET;
	case ETIMEDOUT:
		return BERR_TIMEOUT;
	default:
		return BERR_CONNECT;
	}
}

/*
 * Picks the next call for the slot: 1 with s->type and s->user set, 0
 * when the slot has no more work.
 */
static int
next_call(struct worker *w, struct slot *s)
{
	const struct bench_cfg *cfg = w->cfg;
	struct shared *sh = w->sh;
	uint64_t t, r;
	unsigned i;

	switch (cfg->mode) {
	case MODE_REGISTER:
		t = atomic_fetch_add(&sh->tickets, 1);
		if (t >= cfg->users)
			return 0;
		s->type = MSG_REGISTER;
		s->user = (uint32_t)t;
		return 1;
	case MODE_COLLECT:
		/* s->user stays while its queue is not empty. */
		if (s->user != UINT32_MAX && ++s->user_calls > COLLECT_MAX_CALLS) {
			note_error(w, BERR_MALFORMED, "the queue of user %u "
			    "did not drain in %d calls", s->user,
			    COLLECT_MAX_CALLS);
			s->user = UINT32_MAX;
		}
		if (s->user == UINT32_MAX) {
			t = atomic_fetch_add(&sh->tickets, 1);
			if (t >= cfg->users)
				return 0;
			s->user = (uint32_t)t;
			s->user_calls = 0;
		}
		s->type = MSG_CHECK_MESSAGES;
		return 1;
	case MODE_MIX:
		break;
	}
	if (cfg->duration > 0) {
		if (w->last_ns >= sh->end_ns)
			return 0;
	} else if (atomic_fetch_add(&sh->tickets, 1) >= cfg->ncalls)
		return 0;
	r = rng_next(&w->rng);
	s->user = cfg->users > 0 ? (uint32_t)(r % cfg->users) : 0;
	r = (r >> 32) % cfg->mix_total;
	for (i = 0; i < MSG_NTYPES; i++) {
		if (r < cfg->mix[i])
			break;
		r -= cfg->mix[i];
	}
	s->type = i;
	return 1;
}

/* Message text of the configured size; a Say carries #nonce.seq first. */
static struct span
make_message(struct worker *w, int say)
{
	const struct bench_cfg *cfg = w->cfg;
	size_t n = 0, size = cfg->size;
	int k;

	if (size > MSG_MAX)
		size = MSG_MAX;
	if (say) {
		k = snprintf(w->msg, sizeof w->msg, "#%u.%u|", cfg->nonce,
		    atomic_fetch_add(&w->sh->say_seq, 1) + 1);
		if (k > 0)
			n = (size_t)k;
	}
	if (n < size) {
		memset(w->msg + n, 'x', size - n);
		n = size;
	}
	return (struct span){ w->msg, n };
}

static void
build_request(struct worker *w, struct slot *s)
{
	const struct bench_cfg *cfg = w->cfg;
	char user[64], target[64];
	struct span u, t, m;
	size_t ulen, tlen;
	uint32_t ti;

	buf_clear(&s->req);
	if (cfg->wire == WIRE_FRAMED)
		put_u16(&s->req, 0);
	put_u16(&s->req, s->type);
	ulen = bench_user_name(cfg, s->user, user, sizeof user);
	u = (struct span){ user, ulen };
	switch (s->type) {
	case MSG_REGISTER:
	case MSG_CHECK_MESSAGES:
	case MSG_QUIT:
		put_str(&s->req, u);
		break;
	case MSG_SAY:
		put_str(&s->req, u);
		put_str(&s->req, make_message(w, 1));
		break;
	case MSG_TELL:
		ti = cfg->users > 1 ?
		    (uint32_t)(rng_next(&w->rng) % cfg->users) : s->user;
		tlen = bench_user_name(cfg, ti, target, sizeof target);
		t = (struct span){ target, tlen };
		m = make_message(w, 0);
		put_str(&s->req, u);
		put_str(&s->req, t);
		put_str(&s->req, m);
		break;
	default:
		break;
	}
	if (cfg->wire == WIRE_FRAMED) {
		/* The message is at most 2 + 3 * (2 + 60000) bytes: it fits. */
		s->req.data[0] = (char)((s->req.len - 2) >> 8);
		s->req.data[1] = (char)((s->req.len - 2) & 0xff);
	}
}

/* Parses a "#nonce.seq|" Say out of a delivered "user says ..." line. */
static void
collect_line(struct worker *w, struct slot *s, struct span line)
{
	struct collect_user *cu = &w->sh->cs->user[s->user];
	const char *p, *end = line.p + line.len;
	unsigned long nonce, seq;
	char tmp[32];
	size_t n;

	if (line.len >= 25 && memcmp(line.p, "*** You are not logged in", 25)
	    == 0) {
		w->cs.not_logged_in++;
		s->user_done = 1;
		return;
	}
	if (line.len >= 4 && memcmp(line.p, "*** ", 4) == 0) {
		/* Login notices come by the million: no sscanf for them. */
		if (line.len < 22 || memcmp(line.p + line.len - 22,
		    " messages were dropped", 22) != 0) {
			w->cs.notices++;
			return;
		}
		n = line.len < sizeof tmp - 1 ? line.len : sizeof tmp - 1;
		memcpy(tmp, line.p, n);
		tmp[n] = '\0';
		if (sscanf(tmp, "*** %lu messages were dropped", &seq) == 1) {
			w->cs.drop_notices++;
			w->cs.dropped += seq;
		} else
			w->cs.notices++;
		return;
	}
	p = memmem(line.p, line.len, " says #", 7);
	if (p == NULL) {
		if (memmem(line.p, line.len, " tells you ", 11) != NULL)
			w->cs.tells++;
		else
			w->cs.other++;
		return;
	}
	p += 7;
	n = (size_t)(end - p) < sizeof tmp - 1 ? (size_t)(end - p) :
	    sizeof tmp - 1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (sscanf(tmp, "%lu.%lu|", &nonce, &seq) != 2 ||
	    nonce != w->cfg->nonce) {
		w->cs.other++;
		return;
	}
	w->cs.says++;
	cu->says++;
	if (seq <= cu->last_seq)
		cu->misordered++;
	else
		cu->last_seq = (uint32_t)seq;
}

/* A server's bytes made printable for the report, cut to fit. */
static void
escape(char *out, size_t outlen, struct span in)
{
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < in.len && o + 5 < outlen; i++) {
		c = (unsigned char)in.p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

/*
 * Checks a whole response message (frame removed) against the shape of
 * the call.  Returns -1 (error noted) if it is not a valid one.
 */
static int
parse_response(struct worker *w, struct slot *s, struct span in)
{
	struct span str, err;
	uint16_t count = 0, i;
	int has_list = msg_type_has_list(s->type);
	char esc[120] = "";

	if (has_list) {
		if (get_u16(&in, &count) == -1)
			goto bad;
		for (i = 0; i < count; i++) {
			if (get_str(&in, &str) == -1)
				goto bad;
			if (w->cfg->mode == MODE_COLLECT)
				collect_line(w, s, str);
		}
	}
	if (get_str(&in, &err) == -1)
		goto bad;
	if (in.len != 0) {
		note_error(w, BERR_MALFORMED, "%s: %zu bytes left over",
		    msg_type_name(s->type), in.len);
		return -1;
	}
	w->st.by_type[s->type]++;
	if (s->type == MSG_CHECK_MESSAGES)
		w->st.messages += count;
	if (w->cfg->mode == MODE_COLLECT && err.len != 0)
		s->user = UINT32_MAX;
	if (err.len != 0) {
		if (w->st.errors[BERR_SERVER] == 0)
			escape(esc, sizeof esc, err);
		note_error(w, BERR_SERVER, "%s: %s", msg_type_name(s->type),
		    esc);
		return -1;
	}
	if (w->cfg->mode == MODE_COLLECT) {
		w->cs.calls++;
		/* An empty answer means the queue is drained: next user. */
		if (count == 0 || s->user_done)
			s->user = UINT32_MAX;
	}
	w->st.ok++;
	return 0;
bad:
	note_error(w, BERR_MALFORMED, "%s: response does not parse (%zu bytes)",
	    msg_type_name(s->type), s->resp.len);
	return -1;
}

static void	start_call(struct worker *, struct slot *);

/*
 * Ends the call on the slot: records it, closes the socket and starts
 * the next call.  complete: a whole response arrived (already counted).
 */
static void
end_call(struct worker *w, struct slot *s, int complete, int linger0)
{
	struct linger lg = { 1, 0 };

	if (complete)
		hist_add(&w->st.lat, w->last_ns - s->t0);
	if (s->fd != -1) {
		if (linger0)
			setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(s->fd);
		s->fd = -1;
	}
	s->state = SLOT_IDLE;
	/* A collector that failed on a user moves on rather than spin. */
	if (!complete && w->cfg->mode == MODE_COLLECT)
		s->user = UINT32_MAX;
	start_call(w, s);
}

static void
fail_call(struct worker *w, struct slot *s, enum bench_err kind, int e)
{
	note_error(w, kind, "%s: %s", msg_type_name(s->type), strerror(e));
	end_call(w, s, 0, 1);
}

/* The response is complete in s->resp: parse it and end the call. */
static void
finish_response(struct worker *w, struct slot *s, int eof)
{
	struct span body = { s->resp.data, s->resp.len };

	if (w->cfg->wire == WIRE_FRAMED) {
		body.p += 2;
		body.len -= 2;
	}
	w->st.bytes_in += s->resp.len;
	if (!eof)
		w->st.no_eof++;
	parse_response(w, s, body);
	end_call(w, s, 1, !eof);
}

static size_t
frame_need(const struct slot *s)
{
	const unsigned char *p = (const unsigned char *)s->resp.data;

	if (s->resp.len < 2)
		return SIZE_MAX;
	return 2 + ((size_t)p[0] << 8 | p[1]);
}

static void
do_read(struct worker *w, struct slot *s)
{
	const struct bench_cfg *cfg = w->cfg;
	char *p;
	ssize_t n;
	size_t want;

	for (;;) {
		p = buf_reserve(&s->resp, READ_CHUNK);
		want = s->resp.cap - s->resp.len;
		n = read(s->fd, p, want);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			fail_call(w, s, errno_kind(errno), errno);
			return;
		}
		if (n == 0) {
			if (cfg->wire == WIRE_UNFRAMED)
				finish_response(w, s, 1);
			else {
				note_error(w, BERR_SHORT, "%s: EOF after %zu "
				    "bytes", msg_type_name(s->type),
				    s->resp.len);
				end_call(w, s, 0, 0);
			}
			return;
		}
		s->resp.len += (size_t)n;
		if (cfg->wire == WIRE_FRAMED) {
			if (s->resp.len < frame_need(s))
				continue;
			if (s->resp.len > frame_need(s)) {
				w->st.bytes_in += s->resp.len;
				note_error(w, BERR_MALFORMED, "%s: %zu bytes "
				    "after the frame", msg_type_name(s->type),
				    s->resp.len - frame_need(s));
				end_call(w, s, 0, 1);
				return;
			}
			/* Whole frame: the FIN, if here, follows nothing. */
			finish_response(w, s, s->rdhup);
			return;
		}
		if (s->resp.len > UNFRAMED_RESPONSE_MAX) {
			note_error(w, BERR_MALFORMED, "%s: response over %u "
			    "bytes", msg_type_name(s->type),
			    UNFRAMED_RESPONSE_MAX);
			end_call(w, s, 0, 1);
			return;
		}
		/* FIN seen and the queue drained by a short read: that's EOF.
		 */
		if (s->rdhup && (size_t)n < want) {
			finish_response(w, s, 1);
			return;
		}
	}
}

/* Writes what is left of the request: 0, or -1 with errno. */
static int
do_write(struct slot *s)
{
	ssize_t n;

	while (s->woff < s->req.len) {
		n = write(s->fd, s->req.data + s->woff, s->req.len - s->woff);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		s->woff += (size_t)n;
	}
	s->state = SLOT_READING;
	return 0;
}

static void
start_call(struct worker *w, struct slot *s)
{
	const struct bench_cfg *cfg = w->cfg;
	struct epoll_event ev;
	int fd, connected;

	while (next_call(w, s)) {
		build_request(w, s);
		s->woff = 0;
		s->rdhup = 0;
		s->user_done = 0;
		buf_clear(&s->resp);
		s->t0 = bench_now_ns();
		s->deadline = s->t0 + (uint64_t)cfg->timeout_ms * 1000000ull;
		fd = socket(cfg->addr.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			note_error(w, BERR_CONNECT, "socket: %s",
			    strerror(errno));
			continue;
		}
		s->fd = fd;
		connected = connect(fd, (const struct sockaddr *)&cfg->addr,
		    cfg->addrlen) == 0;
		if (!connected && errno != EINPROGRESS) {
			w->last_ns = bench_now_ns();
			note_error(w, errno_kind(errno), "connect: %s",
			    strerror(errno));
			close(fd);
			s->fd = -1;
			if (cfg->mode == MODE_COLLECT)
				s->user = UINT32_MAX;
			continue;
		}
		/*
		 * On loopback the handshake is done by the time connect()
		 * returns, though it says EINPROGRESS: write at once and
		 * wait for the answer only, one epoll_ctl and no EPOLLOUT
		 * wake-up.  A write that finds the socket still connecting
		 * gets EAGAIN and we wait for EPOLLOUT as usual.
		 */
		s->state = connected ? SLOT_WRITING : SLOT_CONNECTING;
		if (do_write(s) == -1) {
			if (!connected && errno == ENOTCONN)
				s->state = SLOT_CONNECTING;
			else {
				w->last_ns = bench_now_ns();
				note_error(w, errno_kind(errno), "%s: %s",
				    msg_type_name(s->type), strerror(errno));
				close(fd);
				s->fd = -1;
				if (cfg->mode == MODE_COLLECT)
					s->user = UINT32_MAX;
				continue;
			}
		}
		ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
		if (s->state != SLOT_READING)
			ev.events |= EPOLLOUT;
		ev.data.ptr = s;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
			note_error(w, BERR_CONNECT, "epoll_ctl: %s",
			    strerror(errno));
			close(fd);
			s->fd = -1;
			continue;
		}
		return;
	}
	s->state = SLOT_RETIRED;
	w->active--;
}

static void
on_event(struct worker *w, struct slot *s, uint32_t events)
{
	socklen_t len;
	int err;

	if (events & EPOLLRDHUP)
		s->rdhup = 1;
	if (s->state == SLOT_CONNECTING) {
		if (events & (EPOLLERR | EPOLLHUP)) {
			err = 0;
			len = sizeof err;
			if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err,
			    &len) == -1)
				err = errno;
			fail_call(w, s, errno_kind(err ? err : ECONNRESET),
			    err ? err : ECONNRESET);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		s->state = SLOT_WRITING;
	}
	if (s->state == SLOT_WRITING) {
		if (do_write(s) == -1) {
			fail_call(w, s, errno_kind(errno), errno);
			return;
		}
		if (s->state != SLOT_READING)
			return;
	}
	if (s->state == SLOT_READING &&
	    (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		do_read(w, s);
}

static void
check_timeouts(struct worker *w)
{
	struct slot *s;
	int i;

	for (i = 0; i < w->nslots; i++) {
		s = &w->slots[i];
		if (s->fd == -1 || s->state == SLOT_IDLE ||
		    s->state == SLOT_RETIRED || w->last_ns < s->deadline)
			continue;
		note_error(w, BERR_TIMEOUT, "%s: no response in %d ms",
		    msg_type_name(s->type), w->cfg->timeout_ms);
		end_call(w, s, 0, 1);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	uint64_t next_scan, wait_ns;
	int i, n, timeout;

	w->last_ns = bench_now_ns();
	next_scan = w->last_ns + 50000000ull;
	for (i = 0; i < w->nslots; i++) {
		w->active++;
		start_call(w, &w->slots[i]);
	}
	while (w->active > 0) {
		wait_ns = next_scan > w->last_ns ? next_scan - w->last_ns : 0;
		timeout = (int)(wait_ns / 1000000ull) + 1;
		n = epoll_wait(w->epfd, evs, 256, timeout);
		if (n == -1 && errno != EINTR) {
			fprintf(stderr, "rpcchat-bench: epoll_wait: %s\n",
			    strerror(errno));
			break;
		}
		w->last_ns = bench_now_ns();
		for (i = 0; i < n; i++)
			on_event(w, evs[i].data.ptr, evs[i].events);
		if (w->last_ns >= next_scan) {
			check_timeouts(w);
			next_scan = w->last_ns + 50000000ull;
		}
	}
	w->st.elapsed = (double)(bench_now_ns() - w->sh->start_ns) / 1e9;
	return NULL;
}

static void
raise_nofile(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur >= (rlim_t)want + 64 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static void
merge_stats(struct bench_stats *st, const struct bench_stats *o)
{
	int k;

	st->ok += o->ok;
	for (k = 0; k < BERR_NKINDS; k++) {
		if (st->errors[k] == 0 && o->errors[k] != 0)
			memcpy(st->err_sample[k], o->err_sample[k],
			    BENCH_ERR_SAMPLE);
		st->errors[k] += o->errors[k];
	}
	for (k = 0; k < MSG_NTYPES; k++)
		st->by_type[k] += o->by_type[k];
	st->messages += o->messages;
	st->bytes_in += o->bytes_in;
	st->no_eof += o->no_eof;
	hist_merge(&st->lat, &o->lat);
	if (o->elapsed > st->elapsed)
		st->elapsed = o->elapsed;
}

int
bench_run(const struct bench_cfg *cfg, struct bench_stats *st,
    struct collect_stats *cs)
{
	struct shared sh;
	struct worker *ws;
	struct rusage ru0, ru1;
	int t, i, nthreads, per, extra, k;

	memset(st, 0, sizeof *st);
	hist_init(&st->lat);
	memset(&sh, 0, sizeof sh);
	sh.cfg = cfg;
	sh.cs = cs;
	nthreads = cfg->threads;
	if (nthreads > cfg->concurrency)
		nthreads = cfg->concurrency;
	raise_nofile(cfg->concurrency);
	ws = xcalloc((size_t)nthreads, sizeof *ws);
	per = cfg->concurrency / nthreads;
	extra = cfg->concurrency % nthreads;
	for (t = 0; t < nthreads; t++) {
		ws[t].sh = &sh;
		ws[t].cfg = cfg;
		ws[t].nslots = per + (t < extra);
		ws[t].slots = xcalloc((size_t)ws[t].nslots, sizeof *ws[t].slots);
		for (i = 0; i < ws[t].nslots; i++) {
			ws[t].slots[i].w = &ws[t];
			ws[t].slots[i].fd = -1;
			ws[t].slots[i].user = UINT32_MAX;
			buf_init(&ws[t].slots[i].req);
			buf_init(&ws[t].slots[i].resp);
		}
		ws[t].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(t + 1) ^
		    cfg->nonce;
		if (ws[t].rng == 0)
			ws[t].rng = 1;
		hist_init(&ws[t].st.lat);
		if ((ws[t].epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
			fprintf(stderr, "rpcchat-bench: epoll_create1: %s\n",
			    strerror(errno));
			exit(1);
		}
	}
	getrusage(RUSAGE_SELF, &ru0);
	sh.start_ns = bench_now_ns();
	sh.end_ns = sh.start_ns + (uint64_t)(cfg->duration * 1e9);
	for (t = 0; t < nthreads; t++) {
		if ((k = pthread_create(&ws[t].tid, NULL, worker_main,
		    &ws[t])) != 0) {
			fprintf(stderr, "rpcchat-bench: pthread_create: %s\n",
			    strerror(k));
			exit(1);
		}
	}
	for (t = 0; t < nthreads; t++)
		pthread_join(ws[t].tid, NULL);
	getrusage(RUSAGE_SELF, &ru1);
	st->cpu_user = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
	    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6;
	st->cpu_sys = (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	    (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	for (t = 0; t < nthreads; t++) {
		merge_stats(st, &ws[t].st);
		if (cs != NULL) {
			cs->says += ws[t].cs.says;
			cs->tells += ws[t].cs.tells;
			cs->notices += ws[t].cs.notices;
			cs->drop_notices += ws[t].cs.drop_notices;
			cs->dropped += ws[t].cs.dropped;
			cs->other += ws[t].cs.other;
			cs->not_logged_in += ws[t].cs.not_logged_in;
			cs->calls += ws[t].cs.calls;
		}
		for (i = 0; i < ws[t].nslots; i++) {
			buf_free(&ws[t].slots[i].req);
			buf_free(&ws[t].slots[i].resp);
		}
		free(ws[t].slots);
		close(ws[t].epfd);
	}
	free(ws);
	return 0;
}
