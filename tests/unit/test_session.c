/*
 * test_session.c - what both chat clients decide alike (session.h): the
 * length rule of a Say and a Tell, the lines they say, the note about a
 * sloppy server, the typed-line queue, and the background poll's
 * outages: said once when they start and once when they end, with the
 * polls backing off meanwhile (PROTOCOL.md §4.1, §5.2-§5.3, §7).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "proto.h"
#include "rpc_call.h"
#include "rpc_client.h"
#include "session.h"
#include "text.h"
#include "unit.h"

/* A list of strings, as a response's results would hold them. */
static void
strlist(struct rpc_strlist *l, struct span *v, size_t n)
{
	rpc_strlist_init(l);
	l->v = v;
	l->n = n;
}

static void
test_too_long(void **state)
{
	struct span user = SPAN_LIT("bob");
	char *m = malloc(TEXT_MAX + 1);
	size_t says = TEXT_MAX - strlen("bob says ");
	size_t tells = TEXT_MAX - strlen("bob tells you ");

	assert_non_null(m);
	memset(m, 'x', TEXT_MAX + 1);
	/* "bob says MSG" fills a message exactly: it fits. */
	assert_false(session_too_long(user, CMD_SAY, (struct span){ m,
	    says }));
	assert_true(session_too_long(user, CMD_SAY, (struct span){ m,
	    says + 1 }));
	assert_false(session_too_long(user, CMD_TELL, (struct span){ m,
	    tells }));
	assert_true(session_too_long(user, CMD_TELL, (struct span){ m,
	    tells + 1 }));
	/* No size arithmetic overflows, whatever the lengths. */
	assert_true(session_too_long(user, CMD_SAY, (struct span){ m,
	    TEXT_MAX + 1 }));
	assert_true(session_too_long(user, CMD_SAY, (struct span){ m,
	    (size_t)-1 }));
	assert_false(session_too_long((struct span){ "", 0 }, CMD_SAY,
	    SPAN_LIT("")));
	free(m);
}

static void
test_unknown(void **state)
{
	struct buf b = BUF_INIT;
	char word[64];

	session_unknown(&b, "", SPAN_LIT("frob"));
	assert_span((struct span){ b.data, b.len }, "unknown command: frob");
	buf_clear(&b);
	session_unknown(&b, "/", SPAN_LIT("frob"));
	assert_span((struct span){ b.data, b.len }, "unknown command: /frob");
	/* Forty bytes are shown whole; one more is cut. */
	memset(word, 'w', sizeof word);
	buf_clear(&b);
	session_unknown(&b, "", (struct span){ word, 40 });
	assert_int_equal(b.len, strlen("unknown command: ") + 40);
	buf_clear(&b);
	session_unknown(&b, "", (struct span){ word, 41 });
	assert_int_equal(b.len, strlen("unknown command: ") + 40 + 3);
	assert_memory_equal(b.data + b.len - 3, "...", 3);
	/* A character across the cut is left out whole ("é" = C3 A9). */
	word[39] = '\xc3';
	word[40] = '\xa9';
	buf_clear(&b);
	session_unknown(&b, "", (struct span){ word, 45 });
	assert_int_equal(b.len, strlen("unknown command: ") + 39 + 3);
	/* The bytes are the caller's to escape: a NUL stays, and counts. */
	buf_clear(&b);
	session_unknown(&b, "", SPAN_LIT("a\0b"));
	assert_int_equal(b.len, strlen("unknown command: ") + 3);
	assert_memory_equal(b.data, "unknown command: a\0b", b.len);
	buf_free(&b);
}

static void
test_users(void **state)
{
	struct span v[] = { SPAN_LIT("alice"), SPAN_LIT("bob") };
	struct rpc_strlist l;
	struct buf b = BUF_INIT;

	strlist(&l, v, 0);
	session_users(&b, &l);
	assert_span((struct span){ b.data, b.len }, "No users logged in");
	buf_clear(&b);
	strlist(&l, v, 1);
	session_users(&b, &l);
	assert_span((struct span){ b.data, b.len },
	    "1 user logged in: alice");
	buf_clear(&b);
	strlist(&l, v, 2);
	session_users(&b, &l);
	assert_span((struct span){ b.data, b.len },
	    "2 users logged in: alice, bob");
	buf_free(&b);
}

/*
 * The terminal escapes the users line whole; the names were escaped one
 * by one before.  The two agree for any names: no escape reaches across
 * the ASCII between them, a cut-off character included.
 */
static void
test_users_escaped_whole_as_one_by_one(void **state)
{
	struct span v[] = { SPAN_LIT("a\x1b[2J"), SPAN_LIT("\xe4\xb8"),
	    SPAN_LIT("\xc2"), SPAN_LIT("\x9b\xe2\x80\xae"),
	    SPAN_LIT("\xc2\x9b"), SPAN_LIT("\xe4\xb8\x80") };
	size_t n = sizeof v / sizeof v[0], i;
	struct rpc_strlist l;
	struct buf line = BUF_INIT, whole = BUF_INIT, each = BUF_INIT;

	strlist(&l, v, n);
	session_users(&line, &l);
	text_escape(&whole, (struct span){ line.data, line.len });
	buf_appendf(&each, "%zu users logged in: ", n);
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_append(&each, ", ", 2);
		text_escape(&each, v[i]);
	}
	assert_int_equal(whole.len, each.len);
	assert_memory_equal(whole.data, each.data, each.len);
	buf_free(&line);
	buf_free(&whole);
	buf_free(&each);
}

static void
describe(struct buf *b, const char *what, enum msg_type type,
    enum rpc_status status, const char *msg)
{
	struct rpc_error err;

	rpc_error_init(&err);
	if (msg != NULL)
		rpc_error_setf(&err, status, "%s", msg);
	else
		err.status = status;
	buf_clear(b);
	session_describe(b, what, type, &err);
	rpc_error_free(&err);
}

static void
test_describe(void **state)
{
	struct buf b = BUF_INIT;

	describe(&b, "say", MSG_SAY, RPC_ERR_NET, "connect to h:1: refused");
	assert_string_equal(b.data, "say: connect to h:1: refused");
	/* The server's words name the call already. */
	describe(&b, "say", MSG_SAY, RPC_ERR_SERVER,
	    "Say: user x is not logged in");
	assert_string_equal(b.data, "Say: user x is not logged in");
	/* Only the server's: a network error is ours. */
	describe(&b, "say", MSG_SAY, RPC_ERR_NET, "Say: x");
	assert_string_equal(b.data, "say: Say: x");
	/* Another call's name, or no colon, is not the call's. */
	describe(&b, "tell", MSG_TELL, RPC_ERR_SERVER, "Say: x");
	assert_string_equal(b.data, "tell: Say: x");
	describe(&b, "say", MSG_SAY, RPC_ERR_SERVER, "Sayonara");
	assert_string_equal(b.data, "say: Sayonara");
	/* No text at all is the server's fault. */
	describe(&b, "list", MSG_LIST, RPC_ERR_SERVER, "");
	assert_string_equal(b.data, "list: failed");
	describe(&b, "list", MSG_LIST, RPC_ERR_PROTO, NULL);
	assert_string_equal(b.data, "list: failed");
	buf_free(&b);
}

static void
test_outcome(void **state)
{
	struct rpc_call k;
	struct rpc_strlist l;
	struct rpc_error err;

	rpc_call_init(&k);
	rpc_strlist_init(&l);
	rpc_error_init(&err);
	/* The call failed: its error. */
	k.rc = -1;
	rpc_error_setf(&k.err, RPC_ERR_NET, "read from h:1: timed out");
	assert_int_equal(session_outcome(&k, MSG_SAY, NULL, &err), -1);
	assert_int_equal(err.status, RPC_ERR_NET);
	assert_string_equal(err.msg.data, "read from h:1: timed out");
	/* A response with its error string missing: used, and said sloppy. */
	k.rc = 0;
	buf_append(&k.resp, "\x00\x01\x00\x02hi", 6);
	assert_int_equal(session_outcome(&k, MSG_CHECK_MESSAGES, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_span(l.v[0], "hi");
	assert_int_equal(err.sloppy, RPC_NO_ERROR_STRING);
	assert_int_equal(err.sloppy_type, MSG_CHECK_MESSAGES);
	/* The server's error. */
	buf_clear(&k.resp);
	buf_append(&k.resp, "\x00\x11store unavailable", 19);
	assert_int_equal(session_outcome(&k, MSG_SAY, NULL, &err), -1);
	assert_int_equal(err.status, RPC_ERR_SERVER);
	assert_string_equal(err.msg.data, "store unavailable");
	rpc_error_free(&err);
	rpc_strlist_free(&l);
	rpc_call_free(&k);
}

static void
test_note_sloppy_once(void **state)
{
	unsigned noted[MSG_NTYPES] = { 0 };
	struct rpc_error err;
	struct buf b = BUF_INIT;

	rpc_error_init(&err);
	assert_false(session_note_sloppy(noted, &err, &b));
	err.sloppy = RPC_EXTRA_BYTES;
	err.sloppy_type = MSG_TELL;
	err.extra = 2;
	assert_true(session_note_sloppy(noted, &err, &b));
	assert_string_equal(b.data, "*** note: this server's Tell responses "
	    "carry 2 extra bytes after the error string; ignoring them");
	buf_clear(&b);
	assert_false(session_note_sloppy(noted, &err, &b));
	assert_int_equal(b.len, 0);
	/* Another fault, or the same one of another call, is news. */
	err.sloppy = RPC_NO_ERROR_STRING;
	assert_true(session_note_sloppy(noted, &err, &b));
	buf_clear(&b);
	err.sloppy = RPC_EXTRA_BYTES;
	err.sloppy_type = MSG_SAY;
	assert_true(session_note_sloppy(noted, &err, &b));
	buf_clear(&b);
	/* A call the client does not know is never noted. */
	err.sloppy_type = MSG_NTYPES;
	assert_false(session_note_sloppy(noted, &err, &b));
	rpc_error_free(&err);
	buf_free(&b);
}

static void
test_listed_and_forgotten(void **state)
{
	struct span v[] = { SPAN_LIT("*** You are not logged in, bob"),
	    SPAN_LIT("bob says hi") };
	struct span users[] = { SPAN_LIT("alice"), SPAN_LIT("bob") };
	struct rpc_strlist l;

	strlist(&l, users, 2);
	assert_true(session_listed(&l, SPAN_LIT("bob")));
	assert_false(session_listed(&l, SPAN_LIT("bo")));
	assert_false(session_listed(&l, SPAN_LIT("bobby")));
	strlist(&l, v, 1);
	assert_true(session_forgotten(&l, SPAN_LIT("bob")));
	assert_false(session_forgotten(&l, SPAN_LIT("bo")));
	assert_false(session_forgotten(&l, SPAN_LIT("alice")));
	/* Only the whole answer: a message saying it is not. */
	strlist(&l, v, 2);
	assert_false(session_forgotten(&l, SPAN_LIT("bob")));
	strlist(&l, v + 1, 1);
	assert_false(session_forgotten(&l, SPAN_LIT("bob")));
	strlist(&l, v, 0);
	assert_false(session_forgotten(&l, SPAN_LIT("bob")));
}

static void
test_back_and_again(void **state)
{
	struct buf b = BUF_INIT;

	session_back(&b, "h:1");
	assert_string_equal(b.data, "*** the server at h:1 is back");
	buf_clear(&b);
	session_registered_again(&b, "h:1", "bob", 1);
	assert_string_equal(b.data,
	    "*** the server at h:1 is back; logged in again as bob");
	buf_clear(&b);
	session_registered_again(&b, "h:1", "bob", 0);
	assert_string_equal(b.data,
	    "*** the server had logged us out; logged in again as bob");
	buf_clear(&b);
	session_unframed_note(&b, "h:1");
	assert_string_equal(b.data, "*** note: the server at h:1 speaks the "
	    "older, unframed generation of the protocol (2023); using it");
	buf_free(&b);
}

static void
test_queue_in_order(void **state)
{
	struct session_queue q;
	struct buf line = BUF_INIT;

	memset(&q, 0, sizeof q);
	assert_false(session_queue_pop(&q, &line));
	session_queue_push(&q, SPAN_LIT("say a"));
	session_queue_push(&q, SPAN_LIT(""));
	session_queue_push(&q, SPAN_LIT("say b"));
	assert_int_equal(q.n, 3);
	assert_true(session_queue_pop(&q, &line));
	assert_span((struct span){ line.data, line.len }, "say a");
	assert_true(session_queue_pop(&q, &line));
	assert_int_equal(line.len, 0);
	session_queue_push(&q, SPAN_LIT("say c"));
	assert_true(session_queue_pop(&q, &line));
	assert_span((struct span){ line.data, line.len }, "say b");
	session_queue_clear(&q);
	assert_int_equal(q.n, 0);
	assert_int_equal(q.bytes.len, 0);
	assert_false(session_queue_pop(&q, &line));
	session_queue_free(&q);
	buf_free(&line);
}

/* The call of a poll failed at now: what it says, the line in out. */
static enum session_say
call_fails(struct session_poll *p, const char *what, enum msg_type type,
    enum rpc_status status, const char *msg, long long now, struct buf *out)
{
	struct rpc_error err;
	enum session_say say;

	rpc_error_init(&err);
	rpc_error_setf(&err, status, "%s", msg);
	buf_clear(out);
	say = session_poll_failed(p, "h:1", what, type, &err, now, out);
	rpc_error_free(&err);
	return say;
}

/* A CheckMessages of the poll failed. */
static enum session_say
fails(struct session_poll *p, enum rpc_status status, const char *msg,
    long long now, struct buf *out)
{
	return call_fails(p, "check messages", MSG_CHECK_MESSAGES, status, msg,
	    now, out);
}

static void
test_unreachable_said_once(void **state)
{
	static const long long backoff[] = { 1000, 2000, 4000, 8000, 8000 };
	struct session_poll p;
	struct buf b = BUF_INIT;
	long long now = 100;
	size_t i;

	memset(&p, 0, sizeof p);
	assert_int_equal(fails(&p, RPC_ERR_NET, "connect to h:1: refused", now,
	    &b), SESSION_NOTICE);
	assert_string_equal(b.data, "*** cannot reach the server: connect to "
	    "h:1: refused; retrying");
	assert_int_equal(p.next, now + backoff[0]);
	for (i = 1; i < sizeof backoff / sizeof backoff[0]; i++) {
		now = p.next;
		assert_int_equal(fails(&p, RPC_ERR_NET, "read: timed out", now,
		    &b), SESSION_QUIET);
		assert_int_equal(b.len, 0);
		assert_int_equal(p.next, now + backoff[i]);
	}
	/* Back: said once, the polls at their pace again. */
	assert_true(session_poll_answered(&p, now));
	assert_int_equal(p.next, now + SESSION_POLL_MS);
	assert_false(session_poll_answered(&p, now));
	assert_int_equal(fails(&p, RPC_ERR_NET, "x", now, &b), SESSION_NOTICE);
	assert_int_equal(p.next, now + 1000);
	session_poll_free(&p);
	buf_free(&b);
}

/*
 * One poll of a script: it failed with status and msg, or it was
 * answered (msg NULL); what it must say, and the line said (when not
 * NULL; "" for none).  An answered poll says whether it ends an outage.
 */
struct poll_step {
	enum rpc_status	 status;
	const char	*msg;
	int		 said;
	const char	*line;
};

#define STORE_AWAY	"store unavailable"
#define STORE_NOTICE	"*** the server at h:1 cannot reach its store; retrying"

static void
run_polls(struct session_poll *p, const struct poll_step *steps, size_t n)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++) {
		if (steps[i].msg == NULL) {
			assert_int_equal(session_poll_answered(p, 0),
			    steps[i].said);
			continue;
		}
		assert_int_equal(fails(p, steps[i].status, steps[i].msg, 0,
		    &b), steps[i].said);
		if (steps[i].line != NULL)
			assert_string_equal(b.len > 0 ? b.data : "",
			    steps[i].line);
	}
	buf_free(&b);
}

static void
test_no_store_said_once(void **state)
{
	static const struct poll_step steps[] = {
		{ RPC_ERR_SERVER, STORE_AWAY, SESSION_NOTICE, STORE_NOTICE },
		{ RPC_ERR_SERVER, STORE_AWAY, SESSION_QUIET, "" },
		{ RPC_ERR_SERVER, STORE_AWAY, SESSION_QUIET, "" },
		{ RPC_ERR_SERVER, STORE_AWAY, SESSION_QUIET, "" },
		{ RPC_ERR_SERVER, STORE_AWAY, SESSION_QUIET, "" },
		/* Past its deadline while the store is away: still away. */
		{ RPC_ERR_NET, "read: timed out", SESSION_QUIET, "" },
		{ RPC_OK, NULL, 1, NULL },
		{ RPC_OK, NULL, 0, NULL },
	};
	struct session_poll p;
	struct buf b = BUF_INIT;

	memset(&p, 0, sizeof p);
	run_polls(&p, steps, 6);
	assert_int_equal(p.backoff_ms, SESSION_BACKOFF_MAX_MS);
	run_polls(&p, steps + 6, 2);
	assert_int_equal(p.backoff_ms, 0);
	/* The Register after a poll is the poll's too. */
	assert_int_equal(call_fails(&p, "register", MSG_REGISTER,
	    RPC_ERR_SERVER, STORE_AWAY, 0, &b), SESSION_NOTICE);
	assert_string_equal(b.data, STORE_NOTICE);
	session_poll_free(&p);
	buf_free(&b);
}

static void
test_unreachable_then_no_store(void **state)
{
	static const struct poll_step steps[] = {
		{ RPC_ERR_NET, "refused", SESSION_NOTICE, NULL },
		/* The server answers again, only to say its store is away. */
		{ RPC_ERR_SERVER, STORE_AWAY, SESSION_NOTICE, STORE_NOTICE },
		{ RPC_ERR_NET, "refused", SESSION_QUIET, "" },
		{ RPC_ERR_SERVER, STORE_AWAY, SESSION_QUIET, "" },
		{ RPC_OK, NULL, 1, NULL },
	};
	struct session_poll p;

	memset(&p, 0, sizeof p);
	run_polls(&p, steps, 2);
	/* The back-off goes on across the change. */
	assert_int_equal(p.backoff_ms, 2000);
	run_polls(&p, steps + 2, 3);
	session_poll_free(&p);
}

static void
test_other_failures_said_when_new(void **state)
{
	static const struct poll_step steps[] = {
		{ RPC_ERR_PROTO, "bad response", SESSION_FAILURE,
		    "check messages: bad response" },
		{ RPC_ERR_PROTO, "bad response", SESSION_QUIET, "" },
		/* Not the store's outage: the server's words for another. */
		{ RPC_ERR_SERVER, "CheckMessages: store unavailable",
		    SESSION_FAILURE, "CheckMessages: store unavailable" },
		{ RPC_ERR_PROTO, "bad response", SESSION_FAILURE, NULL },
		/* An answer ends it: the same failure later is said again. */
		{ RPC_OK, NULL, 0, NULL },
		{ RPC_ERR_PROTO, "bad response", SESSION_FAILURE, NULL },
	};
	struct session_poll p;

	memset(&p, 0, sizeof p);
	run_polls(&p, steps, sizeof steps / sizeof steps[0]);
	assert_int_equal(p.outage, SESSION_UP);
	session_poll_free(&p);
}

static void
test_more_waiting(void **state)
{
	struct session_poll p;
	struct rpc_strlist l;

	memset(&p, 0, sizeof p);
	rpc_strlist_init(&l);
	buf_append(&l.storage, "x", 1);
	assert_false(session_poll_more(&p, &l, 50));
	assert_int_equal(p.next, 0);
	buf_reserve(&l.storage, FRAME_MAX);
	l.storage.len = FRAME_MAX / 2 + 1;
	assert_true(session_poll_more(&p, &l, 50));
	assert_int_equal(p.next, 50 + SESSION_BACKLOG_POLL_MS);
	rpc_strlist_free(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_users_escaped_whole_as_one_by_one),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_outcome),
		cmocka_unit_test(test_note_sloppy_once),
		cmocka_unit_test(test_listed_and_forgotten),
		cmocka_unit_test(test_back_and_again),
		cmocka_unit_test(test_queue_in_order),
		cmocka_unit_test(test_unreachable_said_once),
		cmocka_unit_test(test_no_store_said_once),
		cmocka_unit_test(test_unreachable_then_no_store),
		cmocka_unit_test(test_other_failures_said_when_new),
		cmocka_unit_test(test_more_waiting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
