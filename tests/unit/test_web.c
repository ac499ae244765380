/*
 * test_web.c - the web front end's pure parts: what it makes of a
 * browser's header values and messages (web_msg.c), the lines it keeps
 * for a page (web_log.c) and its deadlines (timers.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "timers.h"
#include "web_log.h"
#include "web_msg.h"

static struct span
s(const char *c)
{
	return span_cstr(c);
}

static void
test_tokens(void **state)
{
	(void)state;
	assert_true(web_has_token(s("keep-alive, Upgrade"), "upgrade"));
	assert_true(web_has_token(s("UPGRADE"), "upgrade"));
	assert_true(web_has_token(s(" websocket "), "websocket"));
	assert_false(web_has_token(s("upgraded"), "upgrade"));
	assert_false(web_has_token(s(""), "upgrade"));
	assert_false(web_has_token(s(",,"), "upgrade"));
}

static void
test_origin(void **state)
{
	(void)state;
	assert_true(web_origin_ok(s("http://127.0.0.1:8080"),
	    s("127.0.0.1:8080"), NULL));
	assert_true(web_origin_ok(s("HTTPS://Chat.Example"),
	    s("chat.example"), NULL));
	assert_false(web_origin_ok(s("http://evil.example"),
	    s("127.0.0.1:8080"), NULL));
	/* A prefix or a suffix of the host is not the host. */
	assert_false(web_origin_ok(s("http://127.0.0.1:80"),
	    s("127.0.0.1:8080"), NULL));
	assert_false(web_origin_ok(s("http://127.0.0.1:80800"),
	    s("127.0.0.1:8080"), NULL));
	assert_false(web_origin_ok(s(""), s(""), NULL));
	assert_false(web_origin_ok(s("null"), s("null"), "null"));
	assert_false(web_origin_ok(s("http://"), s(""), NULL));
	assert_true(web_origin_ok(s("https://b.example"), s("x:1"),
	    "https://a.example, https://b.example"));
	assert_false(web_origin_ok(s("https://b.example.evil"), s("x:1"),
	    "https://a.example, https://b.example"));
}

static void
test_accept_key(void **state)
{
	char out[WEB_ACCEPT_LEN + 1];

	(void)state;
	/* RFC 6455 §1.3's example. */
	assert_int_equal(web_ws_accept(s("dGhlIHNhbXBsZSBub25jZQ=="), out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(web_ws_accept(s("dGhlIHNhbXBsZSBub25jZQ="), out), -1);
	assert_int_equal(web_ws_accept(s("dGhlIHNhbXBsZSBub25j!Q=="), out), -1);
	assert_int_equal(web_ws_accept(s(""), out), -1);
}

static void
test_page_messages(void **state)
{
	struct web_in in;

	(void)state;
	web_in_parse(s("login alice"), &in);
	assert_int_equal(in.kind, WEB_IN_LOGIN);
	assert_true(span_eq(in.arg, s("alice")));
	web_in_parse(s("line  two  spaces "), &in);
	assert_int_equal(in.kind, WEB_IN_LINE);
	assert_true(span_eq(in.arg, s(" two  spaces ")));
	web_in_parse(s("resume 0123456789abcdef0123456789abcdef 42"), &in);
	assert_int_equal(in.kind, WEB_IN_RESUME);
	assert_int_equal(in.seq, 42);
	web_in_parse(s("resume 0123456789ABCDEF0123456789abcdef 42"), &in);
	assert_int_equal(in.kind, WEB_IN_BAD);
	web_in_parse(s("resume 0123456789abcdef0123456789abcdef 99999999999999999999"),
	    &in);
	assert_int_equal(in.kind, WEB_IN_BAD);
	web_in_parse(s("login"), &in);
	assert_int_equal(in.kind, WEB_IN_BAD);
	web_in_parse(s("LOGIN x"), &in);
	assert_int_equal(in.kind, WEB_IN_BAD);
}

static void
test_typed_lines(void **state)
{
	struct buf scratch = BUF_INIT;
	struct command cmd;

	(void)state;
	web_line_parse(s("  hello there  "), &scratch, &cmd);
	assert_int_equal(cmd.kind, CMD_SAY);
	assert_true(span_eq(cmd.message, s("hello there")));
	web_line_parse(s("say is just text"), &scratch, &cmd);
	assert_int_equal(cmd.kind, CMD_SAY);
	assert_true(span_eq(cmd.message, s("say is just text")));
	web_line_parse(s("/tell bob  hi  you"), &scratch, &cmd);
	assert_int_equal(cmd.kind, CMD_TELL);
	assert_true(span_eq(cmd.target, s("bob")));
	assert_true(span_eq(cmd.message, s("hi  you")));
	web_line_parse(s("/msg bob hi"), &scratch, &cmd);
	assert_int_equal(cmd.kind, CMD_TELL);
	web_line_parse(s("/msgbob hi"), &scratch, &cmd);
	assert_int_equal(cmd.kind, CMD_UNKNOWN);
	web_line_parse(s("/shutdown"), &scratch, &cmd);
	assert_int_equal(cmd.kind, CMD_UNKNOWN);
	web_line_parse(s("/tell bob"), &scratch, &cmd);
	assert_int_equal(cmd.kind, CMD_USAGE);
	web_line_parse(s("/list"), &scratch, &cmd);
	assert_int_equal(cmd.kind, CMD_LIST);
	web_line_parse(s("   "), &scratch, &cmd);
	assert_int_equal(cmd.kind, CMD_NONE);
	buf_free(&scratch);
}

static void
test_classify(void **state)
{
	struct span who;
	int join;

	(void)state;
	assert_int_equal(web_line_classify(s("*** a b has logged in"), &who,
	    &join), WEB_LINE_NOTICE);
	assert_int_equal(join, 1);
	assert_true(span_eq(who, s("a b")));
	web_line_classify(s("*** bob has logged out"), &who, &join);
	assert_int_equal(join, 0);
	assert_true(span_eq(who, s("bob")));
	/* No name, no one to list. */
	web_line_classify(s("***  has logged in"), &who, &join);
	assert_int_equal(join, -1);
	web_line_classify(s("*** has logged in"), &who, &join);
	assert_int_equal(join, -1);
	assert_int_equal(web_line_classify(s("bob tells you hi"), &who, &join),
	    WEB_LINE_PRIVATE);
	assert_int_equal(web_line_classify(s(" tells you x"), &who, &join),
	    WEB_LINE_MESSAGE);
	assert_int_equal(web_line_classify(s("bob says x tells you y"), &who,
	    &join), WEB_LINE_PRIVATE);
}

static void
assert_json(const char *in, size_t len, const char *want)
{
	struct buf b = BUF_INIT;

	web_json_text(&b, (struct span){ in, len });
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

static void
test_json_text(void **state)
{
	(void)state;
	assert_json("<b>\"hi\"</b>", 11, "<b>\\\"hi\\\"</b>");
	assert_json("a\\b", 3, "a\\\\b");
	assert_json("a\nb\0c", 5, "a^Jb^@c");
	/* Bidi controls visible, as on the terminal. */
	assert_json("x\xe2\x80\xaey", 5, "x<U+202E>y");
	/* Bytes that are not UTF-8, shown; UTF-8 kept. */
	assert_json("\xff\xc3\xa9\xe4", 4, "\\\\xFF\xc3\xa9\\\\xE4");
}

static void
test_log_replays_and_bounds(void **state)
{
	struct web_log l;
	struct buf out = BUF_INIT;
	char text[40];
	int i, n;

	(void)state;
	web_log_init(&l, 200);
	web_log_add(&l, WEB_LINE_MESSAGE, 5, s("a says one"));
	web_log_add(&l, WEB_LINE_NOTICE, 6, s("*** b has logged in"));
	assert_true(web_log_next(&l, 9, &out));
	assert_non_null(strstr(out.data, "\"seq\":1,\"at\":5,\"k\":\"message\","
	    "\"text\":\"a says one\"}"));
	assert_true(web_log_next(&l, 9, &out));
	assert_non_null(strstr(out.data, "\"join\":\"b\""));
	assert_false(web_log_next(&l, 9, &out));
	/* A reload: everything again; a reconnect: what follows seq. */
	web_log_seen(&l, 0);
	assert_true(web_log_next(&l, 9, &out));
	assert_non_null(strstr(out.data, "\"seq\":1"));
	web_log_seen(&l, 1);
	assert_true(web_log_next(&l, 9, &out));
	assert_non_null(strstr(out.data, "\"seq\":2"));
	assert_false(web_log_next(&l, 9, &out));
	/* A page that does not read: old lines go, and it is told. */
	for (i = 0; i < 50; i++) {
		snprintf(text, sizeof text, "c says %d", i);
		web_log_add(&l, WEB_LINE_MESSAGE, 7, s(text));
	}
	assert_true(l.buf.len - l.start <= 200);
	assert_true(web_log_next(&l, 9, &out));
	assert_non_null(strstr(out.data, "came faster than this page"));
	n = 0;
	while (web_log_next(&l, 9, &out))
		n++;
	assert_true(n > 0 && n < 50);
	assert_non_null(strstr(out.data, "c says 49"));
	web_log_free(&l);
	/* A line beyond the cap alone is kept. */
	web_log_init(&l, 10);
	web_log_add(&l, WEB_LINE_MESSAGE, 7, s("a says a line longer than ten"));
	web_log_add(&l, WEB_LINE_MESSAGE, 8, s("a says another one"));
	assert_true(web_log_next(&l, 9, &out));
	assert_non_null(strstr(out.data, "1 line came faster"));
	assert_true(web_log_next(&l, 9, &out));
	assert_non_null(strstr(out.data, "another one"));
	assert_false(web_log_next(&l, 9, &out));
	web_log_free(&l);
	buf_free(&out);
}

static int fired[8];

static void
fire(struct timer *t)
{
	fired[t->at]++;
}

static void
test_timers_in_order(void **state)
{
	struct timers h = { 0 };
	struct timer t[6];
	long long at[6] = { 5, 3, 4, 1, 2, 6 };
	int i;

	(void)state;
	memset(fired, 0, sizeof fired);
	for (i = 0; i < 6; i++) {
		timer_init(&t[i], fire);
		timer_set(&h, &t[i], at[i]);
	}
	timer_cancel(&h, &t[2]);		/* at 4 */
	timer_set(&h, &t[0], 7);		/* 5 moves to 7 */
	assert_int_equal(timers_run(&h, 3), 6);
	assert_int_equal(fired[1] + fired[2] + fired[3], 3);
	assert_false(timer_pending(&t[3]));
	assert_int_equal(timers_run(&h, 6), 7);
	assert_int_equal(fired[4] + fired[5] + fired[6], 1);
	assert_int_equal(timers_run(&h, 7), -1);
	assert_int_equal(fired[7], 1);
	timers_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_page_messages),
		cmocka_unit_test(test_typed_lines),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_json_text),
		cmocka_unit_test(test_log_replays_and_bounds),
		cmocka_unit_test(test_timers_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
