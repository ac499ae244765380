/* session.c - what both chat clients decide alike (see session.h). */
#include <string.h>

#include "rules.h"
#include "session.h"

/* How much of an unknown command is shown back, in bytes. */
#define SHOW_WORD_MAX		40

int
session_too_long(struct span user, enum cmd_kind kind, struct span msg)
{
	const char *verb = kind == CMD_TELL ? " tells you " : " says ";
	size_t fixed = user.len + strlen(verb);

	return msg.len > TEXT_MAX || fixed > TEXT_MAX - msg.len;
}

void
session_unknown(struct buf *out, const char *prefix, struct span word)
{
	size_t n = word.len;

	/* Long input is shown cut, at a UTF-8 character boundary. */
	if (n > SHOW_WORD_MAX) {
		n = SHOW_WORD_MAX;
		while (n > 0 && ((unsigned char)word.p[n] & 0xc0) == 0x80)
			n--;
	}
	buf_appendf(out, "unknown command: %s", prefix);
	buf_append(out, word.p, n);
	if (n < word.len)
		buf_append(out, "...", 3);
}

void
session_users(struct buf *out, const struct rpc_strlist *users)
{
	size_t i;

	if (users->n == 0) {
		buf_appendf(out, "No users logged in");
		return;
	}
	buf_appendf(out, "%zu user%s logged in: ", users->n,
	    users->n == 1 ? "" : "s");
	for (i = 0; i < users->n; i++) {
		if (i > 0)
			buf_append(out, ", ", 2);
		buf_append(out, users->v[i].p, users->v[i].len);
	}
}

void
session_describe(struct buf *out, const char *what, enum msg_type type,
    const struct rpc_error *err)
{
	const char *call = msg_type_name(type), *msg = err->msg.data;
	size_t n = strlen(call);

	/* An empty error text would be the server's fault: say so. */
	if (msg == NULL || msg[0] == '\0')
		msg = "failed";
	if (err->status == RPC_ERR_SERVER && strncmp(msg, call, n) == 0 &&
	    msg[n] == ':')
		buf_appendf(out, "%s", msg);
	else
		buf_appendf(out, "%s: %s", what, msg);
}

int
session_outcome(const struct rpc_call *k, enum msg_type type,
    struct rpc_strlist *list, struct rpc_error *err)
{
	if (k->rc == -1) {
		rpc_error_setf(err, k->err.status, "%s", k->err.msg.data);
		return -1;
	}
	return rpc_read_response(&k->srv, type, (struct span){ k->resp.data,
	    k->resp.len }, list, err);
}

int
session_note_sloppy(unsigned noted[MSG_NTYPES], const struct rpc_error *err,
    struct buf *out)
{
	unsigned bit = 1u << err->sloppy;

	if (err->sloppy == RPC_TIDY ||
	    (unsigned)err->sloppy_type >= MSG_NTYPES ||
	    (noted[err->sloppy_type] & bit) != 0)
		return 0;
	noted[err->sloppy_type] |= bit;
	buf_appendf(out, "*** note: ");
	rpc_describe_sloppy(err, out);
	return 1;
}

int
session_listed(const struct rpc_strlist *users, struct span name)
{
	size_t i;

	for (i = 0; i < users->n; i++)
		if (span_eq(users->v[i], name))
			return 1;
	return 0;
}

void
session_unframed_note(struct buf *out, const char *server)
{
	buf_appendf(out, "*** note: the server at %s speaks the older, "
	    "unframed generation of the protocol (2023); using it", server);
}

int
session_forgotten(const struct rpc_strlist *msgs, struct span user)
{
	static const struct span text = SPAN_LIT("*** You are not logged in, ");
	struct span m;

	if (msgs->n != 1)
		return 0;
	m = msgs->v[0];
	return m.len == text.len + user.len &&
	    memcmp(m.p, text.p, text.len) == 0 &&
	    (user.len == 0 || memcmp(m.p + text.len, user.p, user.len) == 0);
}

void
session_back(struct buf *out, const char *server)
{
	buf_appendf(out, "*** the server at %s is back", server);
}

void
session_registered_again(struct buf *out, const char *server,
    const char *name, int after_outage)
{
	if (after_outage)
		buf_appendf(out, "*** the server at %s is back; logged in "
		    "again as %s", server, name);
	else
		buf_appendf(out, "*** the server had logged us out; logged in "
		    "again as %s", name);
}

void
session_queue_push(struct session_queue *q, struct span line)
{
	buf_append(&q->bytes, &line.len, sizeof line.len);
	buf_append(&q->bytes, line.p, line.len);
	q->n++;
}

int
session_queue_pop(struct session_queue *q, struct buf *line)
{
	size_t len;

	buf_clear(line);
	if (q->n == 0)
		return 0;
	memcpy(&len, q->bytes.data, sizeof len);
	buf_append(line, q->bytes.data + sizeof len, len);
	buf_consume(&q->bytes, sizeof len + len);
	q->n--;
	return 1;
}

void
session_queue_clear(struct session_queue *q)
{
	buf_clear(&q->bytes);
	q->n = 0;
}

void
session_queue_free(struct session_queue *q)
{
	buf_free(&q->bytes);
	q->n = 0;
}

void
session_poll_free(struct session_poll *p)
{
	buf_free(&p->failing);
}

/* The error our servers answer while their shared store is away. */
static int
no_store(const struct rpc_error *err)
{
	return err->status == RPC_ERR_SERVER && err->msg.data != NULL &&
	    strcmp(err->msg.data, STORE_UNAVAILABLE) == 0;
}

enum session_say
session_poll_failed(struct session_poll *p, const char *server,
    const char *what, enum msg_type type, const struct rpc_error *err,
    long long now, struct buf *out)
{
	const char *msg = err->msg.data != NULL ? err->msg.data : "";
	enum session_say say = SESSION_QUIET;

	if (err->status == RPC_ERR_NET) {
		if (p->outage == SESSION_UP) {
			buf_appendf(out, "*** cannot reach the server: %s; "
			    "retrying", msg);
			p->outage = SESSION_UNREACHABLE;
			say = SESSION_NOTICE;
		}
	} else if (no_store(err)) {
		if (p->outage != SESSION_NO_STORE) {
			buf_appendf(out, "*** the server at %s cannot reach "
			    "its store; retrying", server);
			p->outage = SESSION_NO_STORE;
			say = SESSION_NOTICE;
		}
	} else if (p->failing.len == 0 || strcmp(p->failing.data, msg) != 0) {
		session_describe(out, what, type, err);
		buf_clear(&p->failing);
		buf_appendf(&p->failing, "%s", msg);
		say = SESSION_FAILURE;
	}
	p->backoff_ms = p->backoff_ms == 0 ? SESSION_POLL_MS :
	    p->backoff_ms * 2;
	if (p->backoff_ms > SESSION_BACKOFF_MAX_MS)
		p->backoff_ms = SESSION_BACKOFF_MAX_MS;
	p->next = now + p->backoff_ms;
	return say;
}

int
session_poll_answered(struct session_poll *p, long long now)
{
	int was_out = p->outage != SESSION_UP;

	p->outage = SESSION_UP;
	p->backoff_ms = 0;
	buf_clear(&p->failing);
	p->next = now + SESSION_POLL_MS;
	return was_out;
}

int
session_poll_more(struct session_poll *p, const struct rpc_strlist *msgs,
    long long now)
{
	if (msgs->storage.len <= FRAME_MAX / 2)
		return 0;
	p->next = now + SESSION_BACKLOG_POLL_MS;
	return 1;
}
