/*
 * test_chat.c - the chat state: every text, the order of arrival and each
 * limit of PROTOCOL.md §4 at its exact boundary, with the invariants checked
 * after every step; then a random walk compared with a naive model that
 * keeps one plain queue per user, as the reference server does.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "chat.h"
#include "chunk.h"
#include "codec.h"
#include "proto.h"
#include "unit.h"

static void
inv(const struct chat *c)
{
	const char *broken;

	if ((broken = chat_check_invariants(c)) != NULL)
		fail_msg("invariant broken: %s", broken);
}

static struct chat *
mk(size_t max_users, size_t queue_limit, int64_t idle_ms)
{
	struct chat_limits lim = { max_users, queue_limit, idle_ms, 0 };
	struct chat *c;

	c = chat_new(&lim);
	assert_non_null(c);
	inv(c);
	return c;
}

static struct span
S(const char *s)
{
	return span_cstr(s);
}

/* A string of n copies of ch, owned by the caller. */
static char *
rep(int ch, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

static void
reg_at(struct chat *c, const char *name, int64_t now)
{
	struct buf err = BUF_INIT;

	if (chat_register(c, S(name), now, &err) != 0)
		fail_msg("Register %s: %.*s", name, (int)err.len, err.data);
	assert_int_equal(err.len, 0);
	buf_free(&err);
	inv(c);
}

static void
reg(struct chat *c, const char *name)
{
	reg_at(c, name, 0);
}

/* Calls that must fail with exactly this error and change nothing. */
static void
expect_err(int rc, struct buf *err, const char *want)
{
	assert_int_equal(rc, -1);
	if (err->len != strlen(want) || memcmp(err->data, want, err->len) != 0)
		fail_msg("error \"%.*s\", want \"%s\"",
		    (int)(err->len > 200 ? 200 : err->len), err->data, want);
	buf_clear(err);
}

static void
reg_fails(struct chat *c, struct span name, const char *want)
{
	struct buf err = BUF_INIT;
	size_t n = chat_nusers(c);

	expect_err(chat_register(c, name, 0, &err), &err, want);
	assert_int_equal(chat_nusers(c), n);
	buf_free(&err);
	inv(c);
}

static void
say(struct chat *c, const char *user, struct span msg)
{
	struct buf err = BUF_INIT;

	if (chat_say(c, S(user), msg, &err) != 0)
		fail_msg("Say %s: %.*s", user, (int)err.len, err.data);
	buf_free(&err);
	inv(c);
}

static void
tell(struct chat *c, const char *user, struct span target, struct span msg)
{
	struct buf err = BUF_INIT;

	if (chat_tell(c, S(user), target, msg, &err) != 0)
		fail_msg("Tell %s: %.*s", user, (int)err.len, err.data);
	buf_free(&err);
	inv(c);
}

static void
quit(struct chat *c, const char *user)
{
	struct buf err = BUF_INIT;

	if (chat_quit(c, S(user), &err) != 0)
		fail_msg("Quit %s: %.*s", user, (int)err.len, err.data);
	buf_free(&err);
	inv(c);
}

/* A CheckMessages response body as the server would send it. */
struct got {
	struct buf	 out;
	struct span	*v;
	size_t		 n;
	size_t		 response;	/* bytes of list + empty error */
};

static void
got_free(struct got *g)
{
	free(g->v);
	buf_free(&g->out);
}

/* CheckMessages without the invariants, which cost O(users x log). */
static void
check_quiet(struct chat *c, struct span name, int64_t now, struct got *g)
{
	struct buf err = BUF_INIT;
	struct span in;

	memset(g, 0, sizeof *g);
	if (chat_check_messages(c, name, now, &g->out, &err) != 0)
		fail_msg("CheckMessages: %.*s", (int)err.len, err.data);
	assert_int_equal(err.len, 0);
	in = (struct span){ g->out.data, g->out.len };
	assert_int_equal(get_strlist(&in, &g->v, &g->n), 0);
	assert_int_equal(in.len, 0);
	g->response = g->out.len + 2;
	assert_true(g->response <= FRAME_MAX);
	buf_free(&err);
}

static void
check_raw(struct chat *c, struct span name, int64_t now, struct got *g)
{
	check_quiet(c, name, now, g);
	inv(c);
}

static void
expect_msgs_at(struct chat *c, const char *name, int64_t now,
    const char **want, size_t nwant)
{
	struct got g;
	size_t i;

	check_raw(c, S(name), now, &g);
	for (i = 0; i < g.n && i < nwant; i++) {
		if (!span_eq(g.v[i], S(want[i])))
			fail_msg("%s message %zu: \"%.*s\", want \"%s\"", name,
			    i, (int)(g.v[i].len > 200 ? 200 : g.v[i].len),
			    g.v[i].p, want[i]);
	}
	if (g.n != nwant)
		fail_msg("%s: %zu messages, want %zu", name, g.n, nwant);
	got_free(&g);
}

#define EXPECT(c, name, ...) do {					\
	const char *want_[] = { __VA_ARGS__ };				\
	expect_msgs_at((c), (name), 0, want_,				\
	    sizeof want_ / sizeof want_[0]);				\
} while (0)
#define EXPECT_NONE(c, name)	expect_msgs_at((c), (name), 0, NULL, 0)

/* The List response's names are these, in this order. */
static void
expect_list(struct chat *c, const char **want, size_t nwant)
{
	struct buf out = BUF_INIT;
	struct span in, *v;
	size_t i, n;

	chat_list(c, &out);
	in = (struct span){ out.data, out.len };
	assert_int_equal(get_strlist(&in, &v, &n), 0);
	assert_int_equal(in.len, 0);
	assert_int_equal(n, nwant);
	for (i = 0; i < n; i++)
		if (!span_eq(v[i], S(want[i])))
			fail_msg("name %zu: \"%.*s\", want \"%s\"", i,
			    (int)v[i].len, v[i].p, want[i]);
	free(v);
	buf_free(&out);
}

/* ---- texts and order ------------------------------------------------ */

static void
test_list_bytes(void **state)
{
	static const char want[] = "\x00\x02\x00\x05" "alice" "\x00\x03" "bob";
	struct chat *c = mk(0, 0, 0);
	struct buf out = BUF_INIT;

	chat_list(c, &out);
	assert_int_equal(out.len, 2);
	assert_memory_equal(out.data, "\x00\x00", 2);
	buf_clear(&out);

	reg(c, "bob");
	reg(c, "alice");
	chat_list(c, &out);
	/* PROTOCOL.md §2.4: the list part of the List response. */
	assert_int_equal(out.len, sizeof want - 1);
	assert_memory_equal(out.data, want, sizeof want - 1);
	assert_int_equal(chat_nusers(c), 2);
	buf_free(&out);
	chat_free(c);
}

static void
test_list_sorted_by_bytes(void **state)
{
	static const char *names[] = { "b", "B", "ab", "a", "A1", "é", "Zz",
	    "z", "aa", "a0" };
	static const char *sorted[] = { "A1", "B", "Zz", "a", "a0", "aa",
	    "ab", "b", "z", "é" };
	struct chat *c = mk(0, 0, 0);
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		reg(c, names[i]);
	expect_list(c, sorted, sizeof sorted / sizeof sorted[0]);
	chat_free(c);
}

/*
 * Names are found by their first 8 bytes, then by the whole name: names
 * that share a prefix, are prefixes of each other or differ only past
 * byte 8 must each be found, and only themselves.
 */
static void
test_names_sharing_a_prefix(void **state)
{
	static const char *names[] = { "abcdefgh2", "abcdefgh", "abcdefgh10",
	    "abc", "abcdefgh1", "abcdefghijklmnopqrst", "abcdefgi", "b" };
	static const char *sorted[] = { "abc", "abcdefgh", "abcdefgh1",
	    "abcdefgh10", "abcdefgh2", "abcdefghijklmnopqrst", "abcdefgi",
	    "b" };
	static const char *absent[] = { "abcdefgh3", "abcdefg", "ab",
	    "abcdefghijklmnopqrsu", "abcdefgh0" };
	struct chat *c = mk(0, 0, 0);
	struct buf err = BUF_INIT;
	struct got g;
	char tagged[48];
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		reg(c, names[i]);
	expect_list(c, sorted, sizeof sorted / sizeof sorted[0]);
	/* Each gets its own message, so each lookup found its own user. */
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		check_raw(c, S(names[i]), 0, &g);	/* the login notices */
		got_free(&g);
	}
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(tagged, sizeof tagged, "to %s", names[i]);
		tell(c, "b", S(names[i]), S(tagged));
	}
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(tagged, sizeof tagged, "b tells you to %s", names[i]);
		if (strcmp(names[i], "b") == 0)
			continue;
		EXPECT(c, names[i], tagged);
	}
	for (i = 0; i < sizeof absent / sizeof absent[0]; i++) {
		snprintf(tagged, sizeof tagged, "Say: user %s is not logged in",
		    absent[i]);
		expect_err(chat_say(c, S(absent[i]), S("x"), &err), &err,
		    tagged);
	}
	/* A NUL after a name's bytes is not the name. */
	assert_int_equal(chat_say(c, (struct span){ "abc\0", 4 }, S("x"),
	    &err), -1);
	buf_clear(&err);
	quit(c, "abcdefgh1");
	quit(c, "abc");
	expect_err(chat_say(c, S("abcdefgh1"), S("x"), &err), &err,
	    "Say: user abcdefgh1 is not logged in");
	say(c, "abcdefgh10", S("still here"));
	buf_free(&err);
	chat_free(c);
}

static void
test_register_errors(void **state)
{
	struct chat *c = mk(0, 0, 0);
	char *s21 = rep('a', 21), *s20 = rep('a', 20);

	reg_fails(c, S(""), "Register: user must be between 1 and 20 letters");
	reg_fails(c, S(s21), "Register: user must be between 1 and 20 letters");
	/* Length is checked before the characters. */
	memset(s21, '!', 21);
	reg_fails(c, S(s21),
	    "Register: user must be between 1 and 20 letters");
	memset(s21, 'a', 21);
	reg_fails(c, S("a b"),
	    "Register: user must only contain letters and digits");
	reg_fails(c, S("bob!"),
	    "Register: user must only contain letters and digits");
	reg_fails(c, (struct span){ "a\0b", 3 },
	    "Register: user must only contain letters and digits");
	reg_fails(c, S("\xff"),
	    "Register: user must only contain letters and digits");
	reg(c, s20);
	reg(c, "a");
	reg(c, "\xc3\xa9t\xc3\xa9");
	reg(c, "42");
	assert_int_equal(chat_nusers(c), 4);
	free(s21);
	free(s20);
	chat_free(c);
}

static void
test_login_notices(void **state)
{
	struct chat *c = mk(0, 0, 0);

	reg(c, "alice");
	EXPECT_NONE(c, "alice");
	reg(c, "bob");
	/* The others are told; the new user does not see its own notice. */
	EXPECT(c, "alice", "*** bob has logged in");
	EXPECT_NONE(c, "bob");
	EXPECT_NONE(c, "alice");
	assert_int_equal(chat_pending(c, S("alice")), 0);
	chat_free(c);
}

static void
test_say_and_tell(void **state)
{
	struct chat *c = mk(0, 0, 0);

	reg(c, "alice");
	reg(c, "bob");
	EXPECT(c, "alice", "*** bob has logged in");

	say(c, "alice", S("hello, world"));
	assert_int_equal(chat_pending(c, S("alice")), 1);
	assert_int_equal(chat_pending(c, S("bob")), 1);
	EXPECT(c, "alice", "alice says hello, world");
	EXPECT(c, "bob", "alice says hello, world");

	tell(c, "bob", S("alice"), S("psst"));
	EXPECT_NONE(c, "bob");
	EXPECT(c, "alice", "bob tells you psst");

	/* To oneself is fine. */
	tell(c, "alice", S("alice"), S("note to self"));
	EXPECT(c, "alice", "alice tells you note to self");

	/* Unknown target: the sender is told, the call succeeds. */
	tell(c, "alice", S("carol"), S("hi"));
	EXPECT(c, "alice", "*** No such user: carol");
	EXPECT_NONE(c, "bob");

	/* Empty messages and NUL bytes pass through untouched. */
	say(c, "bob", S(""));
	tell(c, "bob", S("alice"), (struct span){ "a\0b", 3 });
	{
		struct got g;

		check_raw(c, S("alice"), 0, &g);
		assert_int_equal(g.n, 2);
		assert_true(span_eq(g.v[0], S("bob says ")));
		assert_true(span_eq(g.v[1],
		    (struct span){ "bob tells you a\0b", 17 }));
		got_free(&g);
	}
	EXPECT(c, "bob", "bob says ");
	chat_free(c);
}

static void
test_arrival_order(void **state)
{
	struct chat *c = mk(0, 0, 0);

	reg(c, "alice");
	reg(c, "bob");
	reg(c, "carol");
	EXPECT(c, "alice", "*** bob has logged in", "*** carol has logged in");
	EXPECT(c, "bob", "*** carol has logged in");
	EXPECT_NONE(c, "carol");

	tell(c, "bob", S("alice"), S("0"));
	say(c, "alice", S("1"));
	tell(c, "bob", S("alice"), S("2"));
	tell(c, "carol", S("alice"), S("2b"));
	reg(c, "dave");
	tell(c, "alice", S("alice"), S("3"));
	say(c, "bob", S("4"));
	quit(c, "carol");
	tell(c, "alice", S("zed"), S("5"));
	say(c, "dave", S("6"));
	tell(c, "dave", S("alice"), S("7"));

	EXPECT(c, "alice",
	    "bob tells you 0",
	    "alice says 1",
	    "bob tells you 2",
	    "carol tells you 2b",
	    "*** dave has logged in",
	    "alice tells you 3",
	    "bob says 4",
	    "*** carol has logged out",
	    "*** No such user: zed",
	    "dave says 6",
	    "dave tells you 7");
	EXPECT(c, "bob",
	    "alice says 1",
	    "*** dave has logged in",
	    "bob says 4",
	    "*** carol has logged out",
	    "dave says 6");
	EXPECT(c, "dave",
	    "bob says 4",
	    "*** carol has logged out",
	    "dave says 6");
	chat_free(c);
}

static void
test_quit(void **state)
{
	struct chat *c = mk(0, 0, 0);

	reg(c, "alice");
	reg(c, "bob");
	reg(c, "carol");
	say(c, "alice", S("unread"));
	quit(c, "bob");
	assert_int_equal(chat_nusers(c), 2);
	assert_int_equal(chat_pending(c, S("bob")), 0);
	EXPECT(c, "alice", "*** bob has logged in", "*** carol has logged in",
	    "alice says unread", "*** bob has logged out");
	EXPECT(c, "carol", "alice says unread", "*** bob has logged out");
	EXPECT(c, "bob", "*** You are not logged in, bob");

	/* The last one out tells nobody. */
	quit(c, "alice");
	quit(c, "carol");
	assert_int_equal(chat_nusers(c), 0);
	reg(c, "alice");
	EXPECT_NONE(c, "alice");
	chat_free(c);
}

static void
test_not_logged_in(void **state)
{
	struct chat *c = mk(0, 0, 0);
	struct buf err = BUF_INIT;

	reg(c, "alice");
	expect_err(chat_say(c, S("bob"), S("hi"), &err), &err,
	    "Say: user bob is not logged in");
	expect_err(chat_tell(c, S("bob"), S("alice"), S("hi"), &err), &err,
	    "Tell: user bob is not logged in");
	expect_err(chat_quit(c, S("bob"), &err), &err,
	    "Quit: user bob is not logged in");
	expect_err(chat_say(c, S(""), S("hi"), &err), &err,
	    "Say: user  is not logged in");
	expect_err(chat_quit(c, S("bad name!"), &err), &err,
	    "Quit: user bad name! is not logged in");
	/* Nothing changed: no fake notice, no message from a non-member. */
	assert_int_equal(chat_nusers(c), 1);
	assert_int_equal(chat_pending(c, S("alice")), 0);
	EXPECT_NONE(c, "alice");
	inv(c);

	/* Not logged in is checked before the length. */
	{
		char *big = rep('x', 70000);

		expect_err(chat_say(c, S("bob"), S(big), &err), &err,
		    "Say: user bob is not logged in");
		free(big);
	}
	buf_free(&err);
	chat_free(c);
}

static void
test_check_messages_not_logged_in(void **state)
{
	struct chat *c = mk(0, 0, 0);
	struct buf out = BUF_INIT, err = BUF_INIT;
	char *s21 = rep('a', 21);

	EXPECT(c, "alice", "*** You are not logged in, alice");
	EXPECT(c, "\xe6\x97\xa5\xe6\x9c\xac", "*** You are not logged in, "
	    "\xe6\x97\xa5\xe6\x9c\xac");

	/* An invalid name: empty list, and the error. */
	expect_err(chat_check_messages(c, S("no way"), 0, &out, &err), &err,
	    "CheckMessages: invalid user name");
	assert_int_equal(out.len, 2);
	assert_memory_equal(out.data, "\x00\x00", 2);
	buf_clear(&out);
	expect_err(chat_check_messages(c, S(""), 0, &out, &err), &err,
	    "CheckMessages: invalid user name");
	buf_clear(&out);
	expect_err(chat_check_messages(c, S(s21), 0, &out, &err), &err,
	    "CheckMessages: invalid user name");
	assert_int_equal(out.len, 2);
	inv(c);

	/* PROTOCOL.md §2.4: nothing queued is an empty list. */
	reg(c, "bob");
	buf_clear(&out);
	assert_int_equal(chat_check_messages(c, S("bob"), 0, &out, &err), 0);
	assert_int_equal(out.len, 2);
	assert_memory_equal(out.data, "\x00\x00", 2);
	assert_int_equal(err.len, 0);

	/* The list is appended after what the buffer already holds. */
	buf_clear(&out);
	buf_append(&out, "xy", 2);
	say(c, "bob", S("z"));
	assert_int_equal(chat_check_messages(c, S("bob"), 0, &out, &err), 0);
	assert_int_equal(out.len, 2 + 2 + 2 + 10);
	assert_memory_equal(out.data, "xy\x00\x01\x00\x0a" "bob says z", 16);

	free(s21);
	buf_free(&out);
	buf_free(&err);
	chat_free(c);
}

static void
test_reregister_resets_queue(void **state)
{
	struct chat *c = mk(0, 2, 0);

	reg(c, "alice");
	reg(c, "bob");
	say(c, "bob", S("1"));
	say(c, "bob", S("2"));
	tell(c, "bob", S("alice"), S("3"));
	/* Two in the log (bob's login notice dropped), one private. */
	assert_int_equal(chat_pending(c, S("alice")), 3);

	/* Fresh queue (drop count included); the others hear of it. */
	reg(c, "alice");
	assert_int_equal(chat_nusers(c), 2);
	assert_int_equal(chat_pending(c, S("alice")), 0);
	EXPECT_NONE(c, "alice");
	EXPECT(c, "bob", "*** 1 messages were dropped", "bob says 2",
	    "*** alice has logged in");

	/* Re-registering alone: nobody to tell, nothing for oneself. */
	quit(c, "bob");
	reg(c, "alice");
	EXPECT_NONE(c, "alice");
	chat_free(c);
}

/* ---- PROTOCOL.md §4.1 message size ------------------------------------------
 */

static void
test_message_too_long(void **state)
{
	struct chat *c = mk(0, 0, 0);
	struct buf err = BUF_INIT;
	struct got g;
	char *m;
	size_t say_max = TEXT_MAX - strlen("alice says ");
	size_t tell_max = TEXT_MAX - strlen("alice tells you ");

	assert_int_equal(TEXT_MAX, 65529);
	reg(c, "alice");
	reg(c, "bob");
	EXPECT(c, "alice", "*** bob has logged in");

	m = rep('m', say_max + 1);
	expect_err(chat_say(c, S("alice"), (struct span){ m, say_max + 1 },
	    &err), &err, "message too long");
	assert_int_equal(chat_pending(c, S("bob")), 0);
	say(c, "alice", (struct span){ m, say_max });
	check_raw(c, S("bob"), 0, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.v[0].len, 65529);
	/* Alone, it fills the frame exactly. */
	assert_int_equal(g.response, FRAME_MAX);
	got_free(&g);
	check_raw(c, S("alice"), 0, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.v[0].len, 65529);
	got_free(&g);

	expect_err(chat_tell(c, S("alice"), S("bob"),
	    (struct span){ m, tell_max + 1 }, &err), &err, "message too long");
	/* Even to an unknown target: nothing queued. */
	expect_err(chat_tell(c, S("alice"), S("nobody"),
	    (struct span){ m, tell_max + 1 }, &err), &err, "message too long");
	assert_int_equal(chat_pending(c, S("alice")), 0);
	assert_int_equal(chat_pending(c, S("bob")), 0);
	tell(c, "alice", S("bob"), (struct span){ m, tell_max });
	check_raw(c, S("bob"), 0, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.v[0].len, 65529);
	assert_memory_equal(g.v[0].p, "alice tells you mmm", 19);
	got_free(&g);

	/* Wire-sized and absurd lengths are refused without overflow. */
	expect_err(chat_say(c, S("alice"), (struct span){ m, SIZE_MAX },
	    &err), &err, "message too long");
	expect_err(chat_tell(c, S("alice"), S("bob"),
	    (struct span){ m, SIZE_MAX - 3 }, &err), &err,
	    "message too long");
	inv(c);
	free(m);
	buf_free(&err);
	chat_free(c);
}

/* ---- names too long for an error or a notice ------------------------ */

static void
test_elided_names(void **state)
{
	struct chat *c = mk(0, 0, 0);
	struct buf err = BUF_INIT;
	struct got g;
	char *name = rep('n', 65535);
	size_t fit = 65533 - strlen("Say: user  is not logged in");

	reg(c, "alice");

	/* Exactly fits: not elided. */
	assert_int_equal(chat_say(c, (struct span){ name, fit }, S("x"), &err),
	    -1);
	assert_int_equal(err.len, 65533);
	assert_memory_equal(err.data, "Say: user nnn", 13);
	assert_memory_equal(err.data + err.len - 20, "nnn is not logged in",
	    20);
	buf_clear(&err);

	/* One more: cut, with "..." where the rest of the name was. */
	assert_int_equal(chat_say(c, (struct span){ name, fit + 1 }, S("x"),
	    &err), -1);
	assert_int_equal(err.len, 65533);
	assert_memory_equal(err.data + err.len - 23,
	    "nnn... is not logged in", 23);
	buf_clear(&err);

	assert_int_equal(chat_tell(c, (struct span){ name, 65535 }, S("alice"),
	    S("x"), &err), -1);
	assert_int_equal(err.len, 65533);
	assert_memory_equal(err.data, "Tell: user nnn", 14);
	assert_memory_equal(err.data + err.len - 23,
	    "nnn... is not logged in", 23);
	buf_clear(&err);
	assert_int_equal(chat_quit(c, (struct span){ name, 65535 }, &err), -1);
	assert_int_equal(err.len, 65533);
	assert_memory_equal(err.data, "Quit: user nnn", 14);
	buf_clear(&err);
	assert_int_equal(chat_nusers(c), 1);

	/* "*** No such user: %s" stays within one message. */
	fit = TEXT_MAX - strlen("*** No such user: ");
	tell(c, "alice", (struct span){ name, fit }, S("x"));
	check_raw(c, S("alice"), 0, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.v[0].len, TEXT_MAX);
	assert_memory_equal(g.v[0].p, "*** No such user: nnn", 21);
	assert_memory_equal(g.v[0].p + TEXT_MAX - 3, "nnn", 3);
	assert_int_equal(g.response, FRAME_MAX);
	got_free(&g);

	tell(c, "alice", (struct span){ name, 65535 }, S("x"));
	check_raw(c, S("alice"), 0, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.v[0].len, TEXT_MAX);
	assert_memory_equal(g.v[0].p + TEXT_MAX - 6, "nnn...", 6);
	got_free(&g);

	free(name);
	buf_free(&err);
	chat_free(c);
}

/* ---- PROTOCOL.md §4.3 List within one frame, --max-users
 * --------------------- */

/* A distinct 20-letter name for every i. */
static void
name20(char out[21], size_t i)
{
	int k;

	for (k = 19; k >= 0; k--) {
		out[k] = (char)('a' + i % 26);
		i /= 26;
	}
	out[20] = '\0';
}

static void
test_list_frame_limit(void **state)
{
	struct chat *c = mk(0, 0, 0);
	struct buf out = BUF_INIT, err = BUF_INIT;
	char name[21];
	size_t i, full;

	/* count(2) + n x (2 + 20) + error(2) <= 65535 */
	full = (FRAME_MAX - 4) / 22;
	assert_int_equal(full, 2978);
	/* Invariants once at the end: checking them is O(users x log). */
	for (i = 0; i < full; i++) {
		name20(name, i);
		assert_int_equal(chat_register(c, S(name), 0, &err), 0);
	}
	inv(c);
	/* 15 bytes are left: a 13-byte name takes them exactly. */
	reg_fails(c, S("abcdefghijklmn"), "Register: too many users");
	reg(c, "abcdefghijklm");
	chat_list(c, &out);
	assert_int_equal(out.len + 2, FRAME_MAX);
	reg_fails(c, S("x"), "Register: too many users");
	/* A name already logged in adds nothing: still fine. */
	name20(name, 7);
	reg(c, name);
	reg(c, "abcdefghijklm");
	assert_int_equal(chat_nusers(c), full + 1);

	quit(c, "abcdefghijklm");
	reg(c, "x");		/* 3 of the 15 bytes: 12 left */
	reg(c, "abcdefghij");
	reg_fails(c, S("y"), "Register: too many users");
	buf_clear(&out);
	chat_list(c, &out);
	assert_int_equal(out.len + 2, FRAME_MAX);
	buf_free(&out);
	buf_free(&err);
	chat_free(c);
}

static void
test_max_users(void **state)
{
	struct chat *c = mk(3, 0, 0);

	reg(c, "a");
	reg(c, "b");
	reg(c, "c");
	reg_fails(c, S("d"), "Register: too many users");
	/* Validity is checked before the count. */
	reg_fails(c, S("d d"),
	    "Register: user must only contain letters and digits");
	reg(c, "b");
	quit(c, "a");
	reg(c, "d");
	reg_fails(c, S("a"), "Register: too many users");
	assert_int_equal(chat_nusers(c), 3);
	chat_free(c);
}

/* ---- PROTOCOL.md §4.4 queue limit and the drop notice
 * -------------------------- */

/* The log and each private queue hold queue_limit each: twice that waits. */
static void
test_queue_limit(void **state)
{
	struct chat *c = mk(0, 3, 0);

	reg(c, "alice");
	reg(c, "bob");
	say(c, "bob", S("1"));
	say(c, "bob", S("2"));
	/* The log is full: bob's oldest, his login notice, goes. */
	say(c, "bob", S("3"));
	tell(c, "bob", S("alice"), S("t1"));
	tell(c, "bob", S("alice"), S("t2"));
	tell(c, "bob", S("alice"), S("t3"));
	/* Alice's queue is full: bob's oldest Tell goes. */
	tell(c, "bob", S("alice"), S("t4"));
	assert_int_equal(chat_pending(c, S("alice")), 6);
	assert_int_equal(chat_pending(c, S("bob")), 3);
	EXPECT(c, "alice", "*** 2 messages were dropped", "bob says 1",
	    "bob says 2", "bob says 3", "bob tells you t2", "bob tells you t3",
	    "bob tells you t4");
	EXPECT(c, "bob", "bob says 1", "bob says 2", "bob says 3");
	/* Counted since the last notice, not in total. */
	EXPECT_NONE(c, "alice");
	say(c, "bob", S("4"));
	say(c, "bob", S("5"));
	say(c, "bob", S("6"));
	EXPECT(c, "alice", "bob says 4", "bob says 5", "bob says 6");
	say(c, "bob", S("7"));
	EXPECT(c, "alice", "bob says 7");
	/* bob had 4, 5, 6 and 7: the oldest went for the newest. */
	EXPECT(c, "bob", "*** 1 messages were dropped", "bob says 5",
	    "bob says 6", "bob says 7");
	chat_free(c);
}

/*
 * A flooder, by count, loses its own messages: alice's, sent before the
 * flood, stay in the log and in bob's queue, and the drop notices count
 * only the flood (PROTOCOL.md §4.4).
 */
static void
test_queue_limit_sender_fair(void **state)
{
	struct chat *c = mk(0, 5, 0);
	char m[16];
	int i;

	reg(c, "bob");
	reg(c, "alice");
	reg(c, "mal");
	say(c, "alice", S("hello bob"));
	for (i = 1; i <= 10; i++) {
		snprintf(m, sizeof m, "m%d", i);
		say(c, "mal", S(m));
	}
	/* mal's login notice and m1..m7 made room for m3..m10. */
	EXPECT(c, "bob", "*** 8 messages were dropped",
	    "*** alice has logged in", "alice says hello bob", "mal says m8",
	    "mal says m9", "mal says m10");
	EXPECT(c, "alice", "*** 8 messages were dropped",
	    "alice says hello bob", "mal says m8", "mal says m9",
	    "mal says m10");
	EXPECT(c, "mal", "*** 7 messages were dropped",
	    "alice says hello bob", "mal says m8", "mal says m9",
	    "mal says m10");

	/* A Say touches no queue; Tells fill bob's, mal's go first. */
	tell(c, "alice", S("bob"), S("psst"));
	for (i = 1; i <= 10; i++) {
		snprintf(m, sizeof m, "t%d", i);
		tell(c, "mal", S("bob"), S(m));
	}
	say(c, "mal", S("after"));
	EXPECT(c, "bob", "*** 6 messages were dropped", "alice tells you psst",
	    "mal tells you t7", "mal tells you t8", "mal tells you t9",
	    "mal tells you t10", "mal says after");
	chat_free(c);
}

/* Ties by count go to the smallest name, then to the older account. */
static void
test_queue_limit_ties(void **state)
{
	struct chat *c = mk(0, 2, 0);

	reg(c, "ann");
	reg(c, "bo");
	EXPECT(c, "ann", "*** bo has logged in");
	say(c, "bo", S("1"));
	say(c, "ann", S("2"));
	/* One each: ann's goes, her name being the smaller. */
	say(c, "bo", S("3"));
	EXPECT(c, "ann", "*** 1 messages were dropped", "bo says 1",
	    "bo says 3");
	EXPECT(c, "bo", "*** 1 messages were dropped", "bo says 1",
	    "bo says 3");

	/* The same in a private queue. */
	reg(c, "cy");
	EXPECT(c, "ann", "*** cy has logged in");
	EXPECT(c, "bo", "*** cy has logged in");
	tell(c, "bo", S("cy"), S("1"));
	tell(c, "ann", S("cy"), S("2"));
	tell(c, "bo", S("cy"), S("3"));
	EXPECT(c, "cy", "*** 1 messages were dropped", "bo tells you 1",
	    "bo tells you 3");

	/* Two accounts of one name: the older one's goes. */
	quit(c, "ann");		/* her logout notice waits for bo and cy */
	reg(c, "ann");		/* a new account, and its login notice */
	say(c, "cy", S("hi"));
	EXPECT(c, "bo", "*** 1 messages were dropped",
	    "*** ann has logged in", "cy says hi");
	chat_free(c);
}

static void
test_queue_limit_one(void **state)
{
	struct chat *c = mk(0, 1, 0);

	reg(c, "alice");
	reg(c, "bob");
	tell(c, "bob", S("alice"), S("a"));
	say(c, "bob", S("b"));
	tell(c, "bob", S("alice"), S("c"));
	EXPECT(c, "alice", "*** 2 messages were dropped", "bob says b",
	    "bob tells you c");
	EXPECT(c, "bob", "bob says b");
	chat_free(c);
}

/*
 * Readers standing at a broadcast that is dropped keep it as a gap until
 * they move on, whatever they do next; each counts what it lost.
 */
static void
test_queue_limit_gaps(void **state)
{
	struct chat *c = mk(0, 2, 0);

	reg(c, "a");
	reg(c, "b");
	reg(c, "c");
	/* One each of b's and c's notices: b's, the smaller name, goes. */
	reg(c, "d");
	EXPECT(c, "a", "*** 1 messages were dropped", "*** c has logged in",
	    "*** d has logged in");
	/* Then c's, under b's feet. */
	say(c, "d", S("1"));
	EXPECT(c, "b", "*** 1 messages were dropped", "*** d has logged in",
	    "d says 1");
	/* d's own, under c's, then under a's and d's, then under b's. */
	say(c, "d", S("2"));
	say(c, "d", S("3"));
	say(c, "d", S("4"));
	/* c leaves a gap; its logout notice and d's 3 tie, c's goes later. */
	quit(c, "c");
	reg(c, "c");
	EXPECT(c, "a", "*** 4 messages were dropped", "d says 4",
	    "*** c has logged in");
	EXPECT(c, "d", "*** 4 messages were dropped", "d says 4",
	    "*** c has logged in");
	EXPECT(c, "b", "*** 3 messages were dropped", "d says 4",
	    "*** c has logged in");
	EXPECT_NONE(c, "c");
	chat_free(c);
}

/* ---- PROTOCOL.md §4.2 CheckMessages larger than a frame ---------------------
 */

/* bob says a message whose delivered text is len bytes, tagged by ch. */
static void
say_len(struct chat *c, int ch, size_t len)
{
	char *m = rep(ch, len - strlen("bob says "));

	say(c, "bob", S(m));
	free(m);
}

static void
tell_len(struct chat *c, int ch, size_t len)
{
	char *m = rep(ch, len - strlen("bob tells you "));

	tell(c, "bob", S("alice"), S(m));
	free(m);
}

static void
expect_lens(struct chat *c, const char *user, const size_t *lens,
    const char *tags, size_t n, size_t response)
{
	struct got g;
	size_t i;

	check_raw(c, S(user), 0, &g);
	if (g.n != n)
		fail_msg("%s: %zu messages, want %zu", user, g.n, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(g.v[i].len, lens[i]);
		if (tags[i] != '*')
			assert_int_equal(g.v[i].p[g.v[i].len - 1], tags[i]);
	}
	if (response != 0)
		assert_int_equal(g.response, response);
	got_free(&g);
}

static void
test_frame_limit(void **state)
{
	struct chat *c = mk(0, 0, 0);
	const size_t a = 32763, b = 65527 - 32763;

	reg(c, "alice");
	reg(c, "bob");
	EXPECT(c, "alice", "*** bob has logged in");

	/* 4 + (2 + a) + (2 + b) == 65535: both fit, exactly. */
	say_len(c, 'a', a);
	tell_len(c, 'b', b);
	say_len(c, 'c', 20);
	expect_lens(c, "alice", (size_t[]){ a, b }, "ab", 2, FRAME_MAX);
	expect_lens(c, "alice", (size_t[]){ 20 }, "c", 1, 26);
	EXPECT_NONE(c, "alice");

	/* One byte more: only the first fits; the rest follow in order. */
	say_len(c, 'a', a);
	tell_len(c, 'b', b + 1);
	say_len(c, 'c', 20);
	expect_lens(c, "alice", (size_t[]){ a }, "a", 1, 0);
	expect_lens(c, "alice", (size_t[]){ b + 1, 20 }, "bc", 2, 0);
	EXPECT_NONE(c, "alice");

	/* Several maximal messages: one per call, none lost. */
	say_len(c, '1', TEXT_MAX);
	tell_len(c, '2', TEXT_MAX);
	say_len(c, '3', TEXT_MAX);
	expect_lens(c, "alice", (size_t[]){ TEXT_MAX }, "1", 1, FRAME_MAX);
	expect_lens(c, "alice", (size_t[]){ TEXT_MAX }, "2", 1, FRAME_MAX);
	expect_lens(c, "alice", (size_t[]){ TEXT_MAX }, "3", 1, FRAME_MAX);
	EXPECT_NONE(c, "alice");
	chat_free(c);
}

static void
test_frame_limit_with_drop_notice(void **state)
{
	struct chat *c = mk(0, 2, 0);
	/* The notice "*** 1 messages were dropped" is 27 bytes. */
	const size_t notice = 27, a = 30000;
	const size_t b = FRAME_MAX - 4 - (2 + notice) - (2 + a) - 2;

	reg(c, "alice");
	reg(c, "bob");		/* alice: one login notice, to be dropped */
	say_len(c, 'a', a);
	tell_len(c, 'b', b);
	say_len(c, 'c', 20);	/* the log is full: bob's oldest goes */
	expect_lens(c, "alice", (size_t[]){ notice, a, b }, "*ab", 3,
	    FRAME_MAX);
	expect_lens(c, "alice", (size_t[]){ 20 }, "c", 1, 0);

	/* One byte more: b no longer fits beside the notice and a. */
	say_len(c, 'z', 20);
	say_len(c, 'a', a);
	tell_len(c, 'b', b + 1);
	say_len(c, 'c', 20);
	expect_lens(c, "alice", (size_t[]){ notice, a }, "*a", 2, 0);
	expect_lens(c, "alice", (size_t[]){ b + 1, 20 }, "bc", 2, 0);

	/* A notice and a maximal message: the message waits. */
	say_len(c, '1', TEXT_MAX);
	say_len(c, '2', TEXT_MAX);
	say_len(c, '3', TEXT_MAX);
	say_len(c, '4', TEXT_MAX);
	/* "*** 2 messages were dropped": 1 and 2. */
	expect_lens(c, "alice", (size_t[]){ notice }, "*", 1, 0);
	expect_lens(c, "alice", (size_t[]){ TEXT_MAX }, "3", 1, FRAME_MAX);
	expect_lens(c, "alice", (size_t[]){ TEXT_MAX }, "4", 1, FRAME_MAX);
	EXPECT_NONE(c, "alice");
	chat_free(c);
}

/* ---- idle timeout ---------------------------------------------------------
 */

struct expired_log {
	char	 names[8][32];
	size_t	 nusers[8];	/* chat_nusers() during the callback */
	size_t	 n;
	struct chat *c;
};

static void
on_expired(void *arg, struct span user)
{
	struct expired_log *log = arg;

	assert_true(log->n < 8);
	assert_true(user.len < 32);
	memcpy(log->names[log->n], user.p, user.len);
	log->names[log->n][user.len] = '\0';
	log->nusers[log->n] = chat_nusers(log->c);
	log->n++;
}

static void
test_idle_timeout(void **state)
{
	struct chat *c = mk(0, 0, 1000);
	struct expired_log log = { .n = 0, .c = c };

	assert_int_equal(chat_next_expiry(c), INT64_MAX);
	assert_int_equal(chat_expire_idle(c, 1000000, on_expired, &log), 0);
	reg_at(c, "alice", 0);
	reg_at(c, "bob", 500);
	reg_at(c, "carol", 500);
	/* The timeout acts up to a step (a tenth of it) late, never early. */
	assert_int_equal(chat_next_expiry(c), 1100);
	assert_int_equal(chat_expire_idle(c, 1099, on_expired, &log), 0);

	/* CheckMessages is activity; Say is not. */
	expect_msgs_at(c, "alice", 600, (const char *[]){
	    "*** bob has logged in", "*** carol has logged in" }, 2);
	/* Within a step of the last, a poll moves nothing. */
	expect_msgs_at(c, "alice", 699, NULL, 0);
	say(c, "bob", S("still here"));
	assert_int_equal(chat_next_expiry(c), 1600);
	expect_msgs_at(c, "carol", 1400, (const char *[]){
	    "bob says still here" }, 1);
	assert_int_equal(chat_expire_idle(c, 1599, on_expired, &log), 0);
	assert_int_equal(chat_expire_idle(c, 1600, on_expired, &log), 1);
	assert_int_equal(log.n, 1);
	assert_string_equal(log.names[0], "bob");
	/* Called before the user is removed. */
	assert_int_equal(log.nusers[0], 3);
	assert_int_equal(chat_nusers(c), 2);
	inv(c);
	assert_int_equal(chat_next_expiry(c), 1700);

	/* Re-registering is activity too. */
	reg_at(c, "alice", 1550);
	assert_int_equal(chat_next_expiry(c), 2500);
	/* Two at once, oldest first; each is told of the other's leaving. */
	assert_int_equal(chat_expire_idle(c, 5000, on_expired, &log), 2);
	assert_int_equal(log.n, 3);
	assert_string_equal(log.names[1], "carol");
	assert_string_equal(log.names[2], "alice");
	assert_int_equal(chat_nusers(c), 0);
	assert_int_equal(chat_next_expiry(c), INT64_MAX);
	inv(c);
	expect_msgs_at(c, "bob", 5000, (const char *[]){
	    "*** You are not logged in, bob" }, 1);

	/* The one left behind gets the notice; a NULL callback is fine. */
	reg_at(c, "dave", 6000);
	reg_at(c, "erin", 6500);
	assert_int_equal(chat_expire_idle(c, 7100, NULL, NULL), 1);
	expect_msgs_at(c, "erin", 7100, (const char *[]){
	    "*** dave has logged out" }, 1);
	chat_free(c);
}

static void
test_idle_timeout_disabled(void **state)
{
	struct chat *c = mk(0, 0, 0);

	reg_at(c, "alice", 0);
	assert_int_equal(chat_next_expiry(c), INT64_MAX);
	assert_int_equal(chat_expire_idle(c, INT64_MAX, NULL, NULL), 0);
	assert_int_equal(chat_nusers(c), 1);
	chat_free(c);

	/* Far in the future, no overflow. */
	c = mk(0, 0, CHAT_DEFAULT_IDLE_TIMEOUT_MS);
	reg_at(c, "alice", INT64_MAX - 10);
	assert_int_equal(chat_next_expiry(c), INT64_MAX);
	assert_int_equal(chat_expire_idle(c, INT64_MAX - 1, NULL, NULL), 0);
	chat_free(c);
}

/* ---- a broadcast costs O(1) in the number of users --------------------- */

/* A distinct name of 3 letters or digits for every i < 62^3. */
static void
name3(char out[4], size_t i)
{
	static const char set[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	int k;

	for (k = 2; k >= 0; k--) {
		out[k] = set[i % 62];
		i /= 62;
	}
	out[3] = '\0';
}

static void
test_big_room(void **state)
{
	enum { NUSERS = 10000, MSGLEN = 1000 };
	struct chat *c = mk(0, 2, 0);
	struct buf err = BUF_INIT;
	struct mallinfo2 before, after;
	char name[4], *m = rep('m', MSGLEN);
	struct got g;
	size_t i, mem;

	for (i = 0; i < NUSERS; i++) {
		name3(name, i);
		assert_int_equal(chat_register(c, S(name), 0, &err), 0);
	}
	assert_int_equal(chat_nusers(c), NUSERS);
	inv(c);

	/*
	 * One Say stores its text once: the chat's memory grows by about
	 * one message, not by one per user, and malloc's not at all (no
	 * timing: count bytes).
	 */
	before = mallinfo2();
	mem = chat_memory(c, NULL);
	name3(name, 0);
	assert_int_equal(chat_say(c, S(name), S(m), &err), 0);
	after = mallinfo2();
	assert_true(chat_memory(c, NULL) < mem + 2 * MSGLEN);
	assert_int_equal(after.uordblks, before.uordblks);
	/* Each has the newest two: a later login notice, then the Say. */
	for (i = 0; i < NUSERS; i++) {
		name3(name, i);
		assert_int_equal(chat_pending(c, S(name)),
		    i == NUSERS - 1 ? 1 : 2);
	}
	inv(c);

	/* Everyone gets it exactly once, last. */
	for (i = 0; i < NUSERS; i++) {
		name3(name, i);
		check_quiet(c, S(name), 0, &g);
		assert_true(g.n >= 1);
		assert_int_equal(g.v[g.n - 1].len, 3 + 6 + MSGLEN);
		got_free(&g);
		assert_int_equal(chat_pending(c, S(name)), 0);
	}
	inv(c);
	buf_free(&err);
	free(m);
	chat_free(c);
}

/* ---- a random walk against a naive model --------------------------------- */

/*
 * The model keeps the same state the plain way: the log and each private
 * queue as arrays, positions as numbers, every count and every choice of
 * what to drop by a scan.
 */
#define MODEL_USERS	6

struct mmsg {
	uint64_t	 seq;		/* log seq, or the log end when queued */
	uint64_t	 acct;		/* who pays */
	int		 who;		/* the payer's name, model_names[who] */
	char		*text;
	size_t		 len;
};

struct mlist {
	struct mmsg	*v;
	size_t		 n, cap;
};

struct muser {
	int		 present;
	int		 stands;	/* has a position in the log */
	uint64_t	 pos;		/* next broadcast not passed */
	uint64_t	 acct;
	struct mlist	 q;
	size_t		 dropped;
	int64_t		 last;
	uint64_t	 stamp;		/* order of activity */
};

struct model {
	struct muser	 u[MODEL_USERS];
	struct mlist	 log;
	uint64_t	 next_seq;
	uint64_t	 next_acct;
	size_t		 limit;
	uint64_t	 stamp;
};

/* In byte order, so a name's index orders it. */
static const char *model_names[MODEL_USERS] = { "al", "bo", "cy", "di",
    "ed", "fu" };

static char *
mtext(const char *a, const char *b, const char *s, size_t slen, size_t *len)
{
	size_t la = strlen(a), lb = strlen(b);
	char *t = malloc(la + lb + slen + 1);

	assert_non_null(t);
	memcpy(t, a, la);
	memcpy(t + la, b, lb);
	if (slen > 0)
		memcpy(t + la + lb, s, slen);
	*len = la + lb + slen;
	return t;
}

static void
ml_push(struct mlist *l, struct mmsg m)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		assert_non_null(l->v);
	}
	l->v[l->n++] = m;
}

static void
ml_remove(struct mlist *l, size_t i)
{
	free(l->v[i].text);
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof *l->v);
	l->n--;
}

static void
ml_clear(struct mlist *l)
{
	while (l->n > 0)
		ml_remove(l, l->n - 1);
}

/*
 * Drops the oldest message of the account with the most in the list;
 * ties to the smallest name, then to the older account.
 */
static void
ml_drop_top(struct mlist *l)
{
	size_t i, j, n, best = 0, bestn = 0;
	const struct mmsg *x, *y;

	for (i = 0; i < l->n; i++) {
		for (n = 0, j = 0; j < l->n; j++)
			n += l->v[j].acct == l->v[i].acct;
		x = &l->v[i];
		y = &l->v[best];
		if (n > bestn || (n == bestn && (x->who < y->who ||
		    (x->who == y->who && x->acct < y->acct)))) {
			best = i;
			bestn = n;
		}
	}
	ml_remove(l, best);
}

/* Frees the broadcasts every user with a position has passed. */
static void
model_collect(struct model *m)
{
	uint64_t min = UINT64_MAX;
	int i;

	for (i = 0; i < MODEL_USERS; i++)
		if (m->u[i].present && m->u[i].stands && m->u[i].pos < min)
			min = m->u[i].pos;
	while (m->log.n > 0 && m->log.v[0].seq < min)
		ml_remove(&m->log, 0);
}

static size_t
model_present(const struct model *m)
{
	size_t i, n = 0;

	for (i = 0; i < MODEL_USERS; i++)
		n += m->u[i].present;
	return n;
}

/* A broadcast (owning text) paid by who's account acct. */
static void
model_broadcast(struct model *m, int who, uint64_t acct, char *text,
    size_t len, size_t readers)
{
	if (readers == 0) {
		free(text);
		return;
	}
	if (m->log.n >= m->limit) {
		ml_drop_top(&m->log);
		model_collect(m);
	}
	ml_push(&m->log, (struct mmsg){ m->next_seq++, acct, who, text,
	    len });
	model_collect(m);
}

static void
model_send(struct model *m, int target, int who, char *text, size_t len)
{
	struct muser *t = &m->u[target];

	if (t->q.n >= m->limit) {
		ml_drop_top(&t->q);
		t->dropped++;
	}
	ml_push(&t->q, (struct mmsg){ m->next_seq, m->u[who].acct, who, text,
	    len });
	model_collect(m);
}

static void
model_register(struct model *m, int who, int64_t now)
{
	struct muser *u = &m->u[who];
	char *t;
	size_t len;

	if (u->present) {
		ml_clear(&u->q);
		u->dropped = 0;
		u->stands = 0;
	} else {
		u->present = 1;
		u->acct = m->next_acct++;
	}
	u->last = now;
	u->stamp = ++m->stamp;
	t = mtext("*** ", model_names[who], " has logged in", 14, &len);
	model_broadcast(m, who, u->acct, t, len, model_present(m) - 1);
	u->stands = 1;
	u->pos = m->next_seq;
	model_collect(m);
}

static void
model_logout(struct model *m, int who)
{
	struct muser *u = &m->u[who];
	char *t;
	size_t len;

	ml_clear(&u->q);
	u->dropped = 0;
	u->stands = 0;
	u->present = 0;
	model_collect(m);
	t = mtext("*** ", model_names[who], " has logged out", 15, &len);
	model_broadcast(m, who, u->acct, t, len, model_present(m));
}

static size_t
notice_size(size_t dropped)
{
	char notice[64];

	return dropped == 0 ? 0 : 2 + (size_t)snprintf(notice, sizeof notice,
	    "*** %zu messages were dropped", dropped);
}

/* The response, built as PROTOCOL.md §4.2 and §4.4 say. */
static void
model_check(struct model *m, int who, struct buf *out)
{
	struct muser *u = &m->u[who];
	struct buf msgs = BUF_INIT;
	size_t used, n = 0, k, gap, grow, len;
	uint64_t next;
	char notice[64];
	int priv;

	used = 4 + notice_size(u->dropped);
	for (k = 0; k < m->log.n && m->log.v[k].seq < u->pos; k++)
		continue;
	for (;;) {
		priv = u->q.n > 0 && (k == m->log.n ||
		    u->q.v[0].seq <= m->log.v[k].seq);
		if (priv)
			len = u->q.v[0].len;
		else {
			next = k < m->log.n ? m->log.v[k].seq : m->next_seq;
			if ((gap = (size_t)(next - u->pos)) > 0) {
				grow = notice_size(u->dropped + gap) -
				    notice_size(u->dropped);
				if ((u->dropped == 0 && n >= 65535) ||
				    grow > 65535 - used)
					break;
				used += grow;
				u->dropped += gap;
				u->pos = next;
			}
			if (k == m->log.n)
				break;
			len = m->log.v[k].len;
		}
		if (n + 1 + (u->dropped > 0) > 65535 || 2 + len > 65535 - used)
			break;
		used += 2 + len;
		n++;
		if (priv) {
			put_str(&msgs, (struct span){ u->q.v[0].text, len });
			ml_remove(&u->q, 0);
		} else {
			put_str(&msgs, (struct span){ m->log.v[k].text, len });
			u->pos = m->log.v[k].seq + 1;
			k++;
		}
	}
	put_u16(out, n + (u->dropped > 0));
	if (u->dropped > 0) {
		snprintf(notice, sizeof notice, "*** %zu messages were dropped",
		    u->dropped);
		put_str(out, S(notice));
		u->dropped = 0;
	}
	buf_append(out, msgs.data, msgs.len);
	buf_free(&msgs);
	model_collect(m);
}

static size_t
model_pending(const struct model *m, int who)
{
	const struct muser *u = &m->u[who];
	size_t i, n = u->q.n;

	for (i = 0; i < m->log.n; i++)
		n += m->log.v[i].seq >= u->pos;
	return n;
}

static void
model_free(struct model *m)
{
	int i;

	for (i = 0; i < MODEL_USERS; i++) {
		ml_clear(&m->u[i].q);
		free(m->u[i].q.v);
	}
	ml_clear(&m->log);
	free(m->log.v);
}

struct expired_names {
	int	 who[MODEL_USERS];
	size_t	 n;
};

static void
on_model_expired(void *arg, struct span user)
{
	struct expired_names *e = arg;
	int i;

	for (i = 0; i < MODEL_USERS; i++)
		if (span_eq(user, S(model_names[i])))
			break;
	assert_true(i < MODEL_USERS);
	assert_true(e->n < MODEL_USERS);
	e->who[e->n++] = i;
}

static uint64_t rng_state;

static uint32_t
rng(void)
{
	return unit_rng(&rng_state);
}

static void
random_walk(uint64_t seed, size_t limit, size_t steps)
{
	struct chat *c;
	struct model m;
	struct buf out = BUF_INIT, want = BUF_INIT, err = BUF_INIT;
	struct expired_names ex;
	/* The idle clock moves in steps of a tenth of the timeout. */
	const int64_t timeout = 1000, idle_step = timeout / 10;
	int64_t now = 0;
	char notice[64], *msg, *t;
	size_t step, mlen, i, len;
	int op, a, b, rc, j, k;

	memset(&m, 0, sizeof m);
	m.limit = limit;
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	c = mk(0, limit, timeout);
	msg = rep('x', 40000);

	for (step = 0; step < steps; step++) {
		op = (int)(rng() % 100);
		a = (int)(rng() % MODEL_USERS);
		b = (int)(rng() % MODEL_USERS);
		now += rng() % 60;
		/* Mostly short messages, now and then a huge one. */
		mlen = rng() % 8 == 0 ? 10000 + rng() % 30000 : rng() % 12;
		snprintf(msg, 24, "%zu", step);
		msg[strlen(msg)] = 'x';

		if (op < 15) {
			rc = chat_register(c, S(model_names[a]), now, &err);
			assert_int_equal(rc, 0);
			model_register(&m, a, now);
		} else if (op < 40) {
			rc = chat_say(c, S(model_names[a]),
			    (struct span){ msg, mlen }, &err);
			if (!m.u[a].present) {
				assert_int_equal(rc, -1);
				buf_clear(&err);
			} else {
				assert_int_equal(rc, 0);
				t = mtext(model_names[a], " says ", msg, mlen,
				    &len);
				model_broadcast(&m, a, m.u[a].acct, t, len,
				    model_present(&m));
			}
		} else if (op < 60) {
			rc = chat_tell(c, S(model_names[a]),
			    S(model_names[b]), (struct span){ msg, mlen },
			    &err);
			if (!m.u[a].present) {
				assert_int_equal(rc, -1);
				buf_clear(&err);
			} else {
				assert_int_equal(rc, 0);
				if (m.u[b].present) {
					t = mtext(model_names[a], " tells you ",
					    msg, mlen, &len);
					model_send(&m, b, a, t, len);
				} else {
					t = mtext("*** No such user: ",
					    model_names[b], NULL, 0, &len);
					model_send(&m, a, a, t, len);
				}
			}
		} else if (op < 68) {
			rc = chat_quit(c, S(model_names[a]), &err);
			if (!m.u[a].present) {
				assert_int_equal(rc, -1);
				buf_clear(&err);
			} else {
				assert_int_equal(rc, 0);
				model_logout(&m, a);
			}
		} else if (op < 95) {
			buf_clear(&out);
			buf_clear(&want);
			rc = chat_check_messages(c, S(model_names[a]), now,
			    &out, &err);
			assert_int_equal(rc, 0);
			if (m.u[a].present) {
				model_check(&m, a, &want);
				if (now - m.u[a].last >= idle_step) {
					m.u[a].last = now;
					m.u[a].stamp = ++m.stamp;
				}
			} else {
				put_u16(&want, 1);
				snprintf(notice, sizeof notice,
				    "*** You are not logged in, %s",
				    model_names[a]);
				put_str(&want, S(notice));
			}
			if (out.len != want.len ||
			    memcmp(out.data, want.data, out.len) != 0)
				fail_msg("seed %llu step %zu: CheckMessages "
				    "%s differs from the model (%zu vs %zu "
				    "bytes)", (unsigned long long)seed, step,
				    model_names[a], out.len, want.len);
		} else {
			ex.n = 0;
			chat_expire_idle(c, now, on_model_expired, &ex);
			/* The model: oldest activity first. */
			for (i = 0; i < ex.n; i++) {
				k = -1;
				for (j = 0; j < MODEL_USERS; j++)
					if (m.u[j].present && m.u[j].last +
					    timeout + idle_step <= now &&
					    (k < 0 ||
					    m.u[j].stamp < m.u[k].stamp))
						k = j;
				assert_int_equal(ex.who[i], k);
				model_logout(&m, k);
			}
			for (j = 0; j < MODEL_USERS; j++)
				assert_false(m.u[j].present &&
				    m.u[j].last + timeout + idle_step <= now);
		}
		assert_int_equal(err.len, 0);
		inv(c);
		for (j = 0, i = 0; j < MODEL_USERS; j++) {
			i += m.u[j].present;
			assert_int_equal(chat_pending(c, S(model_names[j])),
			    m.u[j].present ? model_pending(&m, j) : 0);
		}
		assert_int_equal(chat_nusers(c), i);
	}
	free(msg);
	buf_free(&out);
	buf_free(&want);
	buf_free(&err);
	model_free(&m);
	chat_free(c);
}

static void
test_random_walk(void **state)
{
	static const size_t limits[] = { 1, 2, 3, 5, 8, 10000 };
	uint64_t seed;

	for (seed = 1; seed <= 60; seed++)
		random_walk(seed, limits[seed % 6], 1500);
}

/* The byte budget of PROTOCOL.md §4.4 (chat.c's top states the policy). */

static struct chat *
mk_budget(size_t max_memory)
{
	struct chat_limits lim = { 0, CHAT_DEFAULT_QUEUE_LIMIT, 0, max_memory };
	struct chat *c;

	c = chat_new(&lim);
	assert_non_null(c);
	assert_int_equal(chat_budget(c), max_memory);
	inv(c);
	return c;
}

/*
 * Reads everything the user has, over as many calls as it takes: the
 * messages in *out (a list of spans into bufs kept in *keep), the drop
 * notices summed.
 */
struct drained {
	struct got	*calls;
	size_t		 ncalls;
	struct span	*v;
	size_t		 n;
	size_t		 dropped;
};

static void
drain(struct chat *c, const char *name, struct drained *d)
{
	static const char pre[] = "*** ", post[] = " messages were dropped";
	struct got *g;
	size_t i, got;

	memset(d, 0, sizeof *d);
	for (;;) {
		d->calls = realloc(d->calls, (d->ncalls + 1) * sizeof *d->calls);
		assert_non_null(d->calls);
		g = &d->calls[d->ncalls++];
		check_quiet(c, S(name), 0, g);
		got = 0;
		for (i = 0; i < g->n; i++) {
			if (g->v[i].len > sizeof pre + sizeof post - 2 &&
			    memcmp(g->v[i].p, pre, sizeof pre - 1) == 0 &&
			    memcmp(g->v[i].p + g->v[i].len - (sizeof post - 1),
			    post, sizeof post - 1) == 0) {
				assert_int_equal(i, 0);
				d->dropped += strtoul(g->v[i].p + 4, NULL, 10);
				continue;
			}
			d->v = realloc(d->v, (d->n + 1) * sizeof *d->v);
			assert_non_null(d->v);
			d->v[d->n++] = g->v[i];
			got++;
		}
		if (g->n == 0)
			break;
	}
	inv(c);
}

static void
drained_free(struct drained *d)
{
	size_t i;

	for (i = 0; i < d->ncalls; i++)
		got_free(&d->calls[i]);
	free(d->calls);
	free(d->v);
}

static int
starts(struct span s, const char *prefix)
{
	return s.len >= strlen(prefix) && memcmp(s.p, prefix,
	    strlen(prefix)) == 0;
}

/* The fixed charges, exactly: a shared store must give the same. */
static void
test_budget_charges(void **state)
{
	struct chat *c = mk_budget(CHAT_MIN_MAX_MEMORY);
	const size_t m = CHAT_MSG_CHARGE;

	assert_int_equal(CHAT_MSG_CHARGE, 192);
	assert_int_equal(CHAT_USER_CHARGE, 128);
	reg(c, "alice");
	assert_int_equal(chat_charged(c), 5 + 128);
	reg(c, "bob");			/* + "*** bob has logged in" for alice */
	assert_int_equal(chat_charged(c), 133 + 131 + 21 + m);
	say(c, "alice", S("hi"));	/* "alice says hi", once */
	assert_int_equal(chat_charged(c), 285 + m + 13 + m);
	tell(c, "bob", S("alice"), S("yo"));	/* "bob tells you yo" */
	assert_int_equal(chat_charged(c), 298 + 2 * m + 16 + m);
	tell(c, "alice", S("zed"), S("x"));	/* "*** No such user: zed" */
	assert_int_equal(chat_charged(c), 314 + 3 * m + 21 + m);
	EXPECT(c, "alice", "*** bob has logged in", "alice says hi",
	    "bob tells you yo", "*** No such user: zed");
	/* "alice says hi" waits for bob. */
	assert_int_equal(chat_charged(c), 133 + 131 + 13 + m);
	quit(c, "bob");
	/* bob's account lingers with its logout notice for alice. */
	assert_int_equal(chat_charged(c), 133 + 131 + 22 + m);
	EXPECT(c, "alice", "*** bob has logged out");
	assert_int_equal(chat_charged(c), 133);
	assert_int_equal(chat_evicted(c), 0);
	chat_free(c);
}

/* A Say flood evicts the flooder's own messages, never the others'. */
static void
test_budget_say_flood(void **state)
{
	struct chat *c = mk_budget(CHAT_MIN_MAX_MEMORY);
	struct drained d;
	char *big = rep('m', 60000);
	size_t i, flood = 0, last = 0;
	char tag[16];

	reg(c, "alice");
	reg(c, "bob");
	reg(c, "mal");
	EXPECT(c, "bob", "*** mal has logged in");
	say(c, "alice", S("hi"));
	for (i = 0; i < 200; i++) {
		snprintf(big, sizeof tag, "%05zu", i);
		big[5] = 'm';
		say(c, "mal", (struct span){ big, 60000 });
		assert_true(chat_charged(c) <= chat_budget(c));
	}
	say(c, "bob", S("yo"));
	assert_true(chat_evicted(c) > 100);

	drain(c, "bob", &d);
	assert_true(span_eq(d.v[0], S("alice says hi")));
	assert_true(span_eq(d.v[d.n - 1], S("bob says yo")));
	for (i = 1; i + 1 < d.n; i++) {
		assert_true(starts(d.v[i], "mal says "));
		snprintf(tag, sizeof tag, "%.5s", d.v[i].p + 9);
		if (i > 1)
			assert_true(strtoul(tag, NULL, 10) > last);
		last = strtoul(tag, NULL, 10);
		flood++;
	}
	/* The newest are kept; every lost one is counted. */
	assert_int_equal(last, 199);
	assert_int_equal(flood + d.dropped, 200);
	assert_true(flood > 60);
	drained_free(&d);
	free(big);
	chat_free(c);
}

/* A Tell flood at one user: the other sender's Tell survives. */
static void
test_budget_tell_flood(void **state)
{
	struct chat *c = mk_budget(CHAT_MIN_MAX_MEMORY);
	struct drained d;
	char *big = rep('m', 60000);
	size_t i, flood = 0;

	reg(c, "alice");
	reg(c, "bob");
	reg(c, "mal");
	EXPECT(c, "bob", "*** mal has logged in");
	EXPECT(c, "alice", "*** bob has logged in", "*** mal has logged in");
	for (i = 0; i < 200; i++) {
		if (i == 100)
			tell(c, "alice", S("bob"), S("hi"));
		tell(c, "mal", S("bob"), (struct span){ big, 60000 });
		assert_true(chat_charged(c) <= chat_budget(c));
	}
	drain(c, "bob", &d);
	for (i = 0; i < d.n; i++) {
		if (span_eq(d.v[i], S("alice tells you hi")))
			continue;
		assert_true(starts(d.v[i], "mal tells you mmm"));
		flood++;
	}
	assert_int_equal(flood + 1, d.n);
	assert_int_equal(flood + d.dropped, 200);
	drained_free(&d);
	free(big);
	chat_free(c);
}

/*
 * Ties go to the smaller name: ann and bo are charged the same, the
 * budget is full to 11 bytes, and cy's small Say evicts ann's oldest.
 */
static void
test_budget_tie(void **state)
{
	struct chat *c = mk_budget(CHAT_MIN_MAX_MEMORY);
	struct drained d;
	size_t i, s = 59911, accounts = 132 + 131 + 130 + 130;
	char *big = rep('x', s);

	reg(c, "dora");
	reg(c, "ann");
	reg(c, "bo");
	reg(c, "cy");
	drain(c, "dora", &d);
	drained_free(&d);
	drain(c, "ann", &d);
	drained_free(&d);
	drain(c, "bo", &d);
	drained_free(&d);
	assert_int_equal(chat_charged(c), accounts);
	/* "ann says " + 59710 and "bo says " + 59711 both cost s. */
	for (i = 0; i < 35; i++) {
		say(c, "ann", (struct span){ big, s - CHAT_MSG_CHARGE - 9 });
		say(c, "bo", (struct span){ big, s - CHAT_MSG_CHARGE - 8 });
	}
	assert_int_equal(chat_evicted(c), 0);
	assert_int_equal(chat_budget(c) - chat_charged(c), 11);
	say(c, "cy", S(""));
	assert_int_equal(chat_evicted(c), 1);
	assert_int_equal(chat_charged(c), accounts + 69 * s + 8 +
	    CHAT_MSG_CHARGE);
	drain(c, "dora", &d);
	assert_int_equal(d.dropped, 1);
	assert_true(starts(d.v[0], "bo says "));
	assert_true(starts(d.v[1], "ann says "));
	assert_true(span_eq(d.v[d.n - 1], S("cy says ")));
	drained_free(&d);
	free(big);
	chat_free(c);
}

/* Register evicts like a message; the budget is never exceeded. */
static void
test_budget_register_evicts(void **state)
{
	struct chat *c = mk_budget(CHAT_MIN_MAX_MEMORY);
	char *big = rep('m', 65000);
	size_t i;

	reg(c, "alice");
	reg(c, "mal");
	for (i = 0; i < 70; i++)
		say(c, "mal", (struct span){ big, 65000 });
	assert_true(chat_budget(c) - chat_charged(c) <
	    65000 + CHAT_MSG_CHARGE);
	for (i = 0; i < 600; i++) {
		char name[8];

		snprintf(name, sizeof name, "u%zu", i);
		reg(c, name);
		assert_true(chat_charged(c) <= chat_budget(c));
	}
	assert_true(chat_evicted(c) > 0);
	free(big);
	chat_free(c);
}

/*
 * Random calls with big messages against the smallest budget: the
 * invariants (charges add up, within the budget, the heap in order)
 * after every step.
 */
static void
test_budget_random(void **state)
{
	static const char *names[] = { "a", "bb", "ccc", "dddd", "e" };
	struct chat *c = mk_budget(CHAT_MIN_MAX_MEMORY);
	struct buf err = BUF_INIT;
	struct got g;
	char *big = rep('z', 65000);
	size_t step, len;
	int op, a, b;

	rng_state = 12345;
	for (step = 0; step < 3000; step++) {
		op = (int)(rng() % 100);
		a = (int)(rng() % 5);
		b = (int)(rng() % 5);
		len = rng() % 3 == 0 ? rng() % 65000 : rng() % 30;
		if (op < 3 || step < 5)
			(void)chat_register(c, S(names[step < 5 ? (int)step : a]), 0,
			    &err);
		else if (op < 50)
			(void)chat_say(c, S(names[a]),
			    (struct span){ big, len }, &err);
		else if (op < 97)
			(void)chat_tell(c, S(names[a]), S(names[b]),
			    (struct span){ big, len }, &err);
		else if (op < 98)
			(void)chat_quit(c, S(names[a]), &err);
		else {
			check_quiet(c, S(names[a]), 0, &g);
			got_free(&g);
		}
		buf_clear(&err);
		inv(c);
	}
	assert_true(chat_evicted(c) > 0);
	buf_free(&err);
	free(big);
	chat_free(c);
}

/*
 * The count flood of PROTOCOL.md §4.4: 12,000 one-byte Says from one name,
 * then as many Tells, at the default queue limit.  What alice sent before
 * reaches bob in order, and bob's drop notices count only the flood.
 */
static void
test_count_flood(void **state)
{
	struct chat *c = mk(0, 0, 0);
	struct buf err = BUF_INIT;
	struct drained d;
	size_t i;

	reg(c, "bob");
	reg(c, "alice");
	reg(c, "flood");
	say(c, "alice", S("hello bob, are you there?"));
	for (i = 0; i < 12000; i++)
		assert_int_equal(chat_say(c, S("flood"), S("x"), &err), 0);
	inv(c);
	drain(c, "bob", &d);
	/* Its login notice and the first 2,002 Says made room. */
	assert_int_equal(d.dropped, 2003);
	assert_int_equal(d.n, 2 + 9998);
	assert_true(span_eq(d.v[0], S("*** alice has logged in")));
	assert_true(span_eq(d.v[1], S("alice says hello bob, are you there?")));
	for (i = 2; i < d.n; i++)
		assert_true(span_eq(d.v[i], S("flood says x")));
	drained_free(&d);

	tell(c, "alice", S("bob"), S("psst"));
	for (i = 0; i < 12000; i++)
		assert_int_equal(chat_tell(c, S("flood"), S("bob"), S("y"),
		    &err), 0);
	inv(c);
	drain(c, "bob", &d);
	assert_int_equal(d.dropped, 2001);
	assert_int_equal(d.n, 1 + 9999);
	assert_true(span_eq(d.v[0], S("alice tells you psst")));
	for (i = 1; i < d.n; i++)
		assert_true(span_eq(d.v[i], S("flood tells you y")));
	drained_free(&d);
	buf_free(&err);
	chat_free(c);
}

/*
 * What the chat holds against its bound (chat.c's top): the pool's pages
 * stay under 1.25 x the budget plus the users' own chunks, their gaps, the
 * log's end and one page, whatever the pattern of sizes.
 */
static void
check_memory(const struct chat *c, size_t users)
{
	size_t mapped;

	(void)chat_memory(c, &mapped);
	if (4 * mapped > 5 * chat_budget(c) + 4 * ((2 * users + 1) *
	    CHUNK_SIZE + CHUNK_PAGE) * (CHUNK_PER_PAGE + 1) / CHUNK_PER_PAGE)
		fail_msg("%zu bytes mapped for a budget of %zu", mapped,
		    chat_budget(c));
}

static void
send_n(struct chat *c, const char *from, const char *to, size_t len)
{
	static char *big;
	struct buf err = BUF_INIT;
	int rc;

	if (big == NULL)
		big = rep('b', 65535);
	len = len > TEXT_MAX - strlen(from) - 11 ? TEXT_MAX - strlen(from) -
	    11 : len;
	if (to == NULL)
		rc = chat_say(c, S(from), (struct span){ big, len }, &err);
	else
		rc = chat_tell(c, S(from), S(to), (struct span){ big, len },
		    &err);
	assert_int_equal(rc, 0);
	buf_free(&err);
}

/*
 * The fragmentation pattern: 8 KB Tells, each followed by a 1-byte one
 * from another sender, until the budget is full; then 16.5 KB Tells,
 * each evicting two 8 KB ones whose places sit between small ones.
 */
static void
test_memory_fragmentation(void **state)
{
	struct chat *c = mk_budget(CHAT_MIN_MAX_MEMORY);
	size_t i;

	reg(c, "r");
	reg(c, "a");
	reg(c, "p");
	for (i = 0; i < 600; i++) {
		send_n(c, "a", "r", 8192);
		send_n(c, "p", "r", 1);
		check_memory(c, 3);
	}
	for (i = 0; i < 600; i++) {
		send_n(c, "a", "r", 16896);
		if (i % 101 == 0)
			inv(c);
		check_memory(c, 3);
	}
	assert_true(chat_evicted(c) > 300);
	inv(c);
	chat_free(c);
}

/*
 * Class switching, both ways, for the extreme sizes: fill with one size,
 * one message in 64 from a sender who sends little; another sender's
 * messages of the other size then evict all but those, scattered.
 */
static void
test_memory_size_switching(void **state)
{
	static const size_t sizes[][2] = { { 1, TEXT_MAX }, { TEXT_MAX, 1 } };
	struct chat *c;
	size_t i, k, n;

	for (k = 0; k < 2; k++) {
		c = mk_budget(CHAT_MIN_MAX_MEMORY);
		reg(c, "r");
		reg(c, "s");
		reg(c, "keep");
		reg(c, "t");
		n = CHAT_MIN_MAX_MEMORY / (sizes[k][0] + CHAT_MSG_CHARGE);
		for (i = 0; i < n; i++)
			send_n(c, i % 64 == 0 ? "keep" : "s", "r", sizes[k][0]);
		check_memory(c, 4);
		for (i = 0; i < 2 * n; i++) {
			send_n(c, "t", "r", sizes[k][1]);
			check_memory(c, 4);
		}
		inv(c);
		chat_free(c);
	}
}

/* A random mix of sizes from 1 byte to 65 KB, Says and Tells, evicting. */
static void
test_memory_random_mix(void **state)
{
	static const char *names[] = { "a", "b", "c", "d" };
	struct chat *c = mk_budget(CHAT_MIN_MAX_MEMORY);
	struct got g;
	size_t step, len;
	int a;

	rng_state = 99;
	for (a = 0; a < 4; a++)
		reg(c, names[a]);
	for (step = 0; step < 10000; step++) {
		a = (int)(rng() % 4);
		len = rng() % 4 == 0 ? rng() % 65536 : rng() % (1 + rng() %
		    2000);
		if (rng() % 50 == 0) {
			check_quiet(c, S(names[a]), 0, &g);
			got_free(&g);
		} else
			send_n(c, names[a], rng() % 3 ? names[rng() % 4] :
			    NULL, len);
		check_memory(c, 4);
		if (step % 997 == 0)
			inv(c);
	}
	assert_true(chat_evicted(c) > 1000);
	chat_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_bytes),
		cmocka_unit_test(test_list_sorted_by_bytes),
		cmocka_unit_test(test_names_sharing_a_prefix),
		cmocka_unit_test(test_register_errors),
		cmocka_unit_test(test_login_notices),
		cmocka_unit_test(test_say_and_tell),
		cmocka_unit_test(test_arrival_order),
		cmocka_unit_test(test_quit),
		cmocka_unit_test(test_not_logged_in),
		cmocka_unit_test(test_check_messages_not_logged_in),
		cmocka_unit_test(test_reregister_resets_queue),
		cmocka_unit_test(test_message_too_long),
		cmocka_unit_test(test_elided_names),
		cmocka_unit_test(test_list_frame_limit),
		cmocka_unit_test(test_max_users),
		cmocka_unit_test(test_queue_limit),
		cmocka_unit_test(test_queue_limit_sender_fair),
		cmocka_unit_test(test_queue_limit_ties),
		cmocka_unit_test(test_queue_limit_one),
		cmocka_unit_test(test_queue_limit_gaps),
		cmocka_unit_test(test_frame_limit),
		cmocka_unit_test(test_frame_limit_with_drop_notice),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_idle_timeout_disabled),
		cmocka_unit_test(test_big_room),
		cmocka_unit_test(test_random_walk),
		cmocka_unit_test(test_budget_charges),
		cmocka_unit_test(test_budget_say_flood),
		cmocka_unit_test(test_budget_tell_flood),
		cmocka_unit_test(test_budget_tie),
		cmocka_unit_test(test_budget_register_evicts),
		cmocka_unit_test(test_budget_random),
		cmocka_unit_test(test_count_flood),
		cmocka_unit_test(test_memory_fragmentation),
		cmocka_unit_test(test_memory_size_switching),
		cmocka_unit_test(test_memory_random_mix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
