/*
 * test_rpc_client.c - the client side of the RPC layer: every response
 * shape through rpc_parse_response (short input, trailing bytes, server
 * errors), and rpc_send_and_receive against a scripted server in a child
 * process on a loopback port, in both wire generations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "anet.h"
#include "buf.h"
#include "codec.h"
#include "proto.h"
#include "rpc_client.h"
#include "unit.h"

#define SPAN(lit)	((struct span){ (lit), sizeof(lit) - 1 })

static int
parse(enum msg_type type, struct span resp, struct rpc_strlist *list,
    struct rpc_error *err)
{
	return rpc_parse_response(type, resp, 0, list, err);
}

static int
parse_strict(enum msg_type type, struct span resp, struct rpc_strlist *list,
    struct rpc_error *err)
{
	return rpc_parse_response(type, resp, 1, list, err);
}

/* Every call without results, as proto.c's table has them. */
static void
test_plain_success(void **state)
{
	struct rpc_error err;
	unsigned type, n = 0;

	rpc_error_init(&err);
	for (type = 0; type < MSG_NTYPES; type++) {
		if (msg_type_has_list(type))
			continue;
		assert_int_equal(parse(type, SPAN("\x00\x00"), NULL, &err), 0);
		assert_int_equal(err.status, RPC_OK);
		n++;
	}
	assert_true(n >= 5);
	rpc_error_free(&err);
}

static void
test_list_example(void **state)
{
	/* PROTOCOL.md §2.4: List with alice and bob, frame removed. */
	static const char resp[] = "\x00\x02\x00\x05" "alice" "\x00\x03" "bob"
	    "\x00\x00";
	struct rpc_strlist users;
	struct rpc_error err;
	char *copy;

	rpc_strlist_init(&users);
	rpc_error_init(&err);
	/* The strings must not point into the caller's buffer. */
	copy = malloc(sizeof resp - 1);
	memcpy(copy, resp, sizeof resp - 1);
	assert_int_equal(parse(MSG_LIST, (struct span){ copy, sizeof resp - 1 },
	    &users, &err), 0);
	memset(copy, 'x', sizeof resp - 1);
	free(copy);
	assert_int_equal(users.n, 2);
	assert_span(users.v[0], "alice");
	assert_span(users.v[1], "bob");

	/* Reusing the list replaces what it held. */
	assert_int_equal(parse(MSG_LIST, SPAN("\x00\x00\x00\x00"), &users,
	    &err), 0);
	assert_int_equal(users.n, 0);
	rpc_strlist_free(&users);
	rpc_error_free(&err);
}

static void
test_check_messages(void **state)
{
	static const char resp[] = "\x00\x02" "\x00\x0d" "bob says hi\x00!"
	    "\x00\x00" "\x00\x00";
	struct rpc_strlist msgs;
	struct rpc_error err;

	rpc_strlist_init(&msgs);
	rpc_error_init(&err);
	assert_int_equal(parse(MSG_CHECK_MESSAGES, SPAN(resp), &msgs, &err),
	    0);
	assert_int_equal(msgs.n, 2);
	assert_int_equal(msgs.v[0].len, 13);
	assert_memory_equal(msgs.v[0].p, "bob says hi\0!", 13);
	assert_int_equal(msgs.v[1].len, 0);

	/* Nothing queued: PROTOCOL.md §2.4. */
	assert_int_equal(parse(MSG_CHECK_MESSAGES, SPAN("\x00\x00\x00\x00"),
	    &msgs, &err), 0);
	assert_int_equal(msgs.n, 0);

	/* A list response parsed without a list to fill. */
	assert_int_equal(parse(MSG_CHECK_MESSAGES, SPAN(resp), NULL, &err), 0);
	rpc_strlist_free(&msgs);
	rpc_error_free(&err);
}

static void
test_server_error(void **state)
{
	struct rpc_strlist msgs;
	struct rpc_error err;

	rpc_strlist_init(&msgs);
	rpc_error_init(&err);
	assert_int_equal(parse(MSG_SHUTDOWN,
	    SPAN("\x00\x16Shutdown: not allowed!"), NULL, &err), -1);
	assert_int_equal(err.status, RPC_ERR_SERVER);
	assert_string_equal(err.msg.data, "Shutdown: not allowed!");

	/* An error beside a list leaves the list empty. */
	assert_int_equal(parse(MSG_CHECK_MESSAGES,
	    SPAN("\x00\x01\x00\x01x\x00\x20" "CheckMessages: invalid user name"),
	    &msgs, &err), -1);
	assert_int_equal(err.status, RPC_ERR_SERVER);
	assert_string_equal(err.msg.data, "CheckMessages: invalid user name");
	assert_int_equal(msgs.n, 0);
	assert_null(msgs.v);

	/* The server's text cannot reach a terminal raw. */
	assert_int_equal(parse(MSG_SAY, SPAN("\x00\x07\x1b[2J\n\x00z"), NULL,
	    &err), -1);
	assert_int_equal(err.status, RPC_ERR_SERVER);
	assert_string_equal(err.msg.data, "^[[2J^J^@z");
	rpc_strlist_free(&msgs);
	rpc_error_free(&err);
}

static void
test_short_input(void **state)
{
	static const char list_resp[] = "\x00\x02\x00\x05" "alice" "\x00\x03"
	    "bob" "\x00\x00";
	static const char err_resp[] = "\x00\x05" "oops!";
	struct rpc_strlist list;
	struct rpc_error err;
	size_t n;

	rpc_strlist_init(&list);
	rpc_error_init(&err);
	/*
	 * Every proper prefix of a valid response is refused strictly; the
	 * tolerant reading takes the whole list without its error string
	 * (PROTOCOL.md §5.3), and refuses the rest: a cut list, a cut error
	 * string.
	 */
	for (n = 0; n < sizeof list_resp - 1; n++) {
		assert_int_equal(parse_strict(MSG_LIST, (struct span){
		    list_resp, n }, &list, &err), -1);
		assert_int_equal(err.status, RPC_ERR_PROTO);
		assert_non_null(strstr(err.msg.data, "malformed List response"));
		assert_int_equal(list.n, 0);
		if (n == sizeof list_resp - 3) {
			assert_int_equal(parse(MSG_LIST, (struct span){
			    list_resp, n }, &list, &err), 0);
			assert_int_equal(err.sloppy, RPC_NO_ERROR_STRING);
			assert_int_equal(list.n, 2);
			continue;
		}
		assert_int_equal(parse(MSG_LIST, (struct span){ list_resp, n },
		    &list, &err), -1);
		assert_int_equal(err.status, RPC_ERR_PROTO);
		assert_int_equal(list.n, 0);
	}
	for (n = 0; n < sizeof err_resp - 1; n++) {
		assert_int_equal(parse(MSG_REGISTER, (struct span){ err_resp,
		    n }, NULL, &err), -1);
		assert_int_equal(err.status, RPC_ERR_PROTO);
	}
	/* For a call without results, what a dying server sends. */
	assert_int_equal(parse(MSG_REGISTER, SPAN(""), NULL, &err), -1);
	assert_string_equal(err.msg.data, "malformed Register response: empty");
	assert_int_equal(parse(MSG_LIST, SPAN(""), &list, &err), -1);
	assert_int_equal(err.status, RPC_ERR_PROTO);

	/* A count far beyond the bytes that follow. */
	assert_int_equal(parse(MSG_CHECK_MESSAGES, SPAN("\xff\xff\x00\x00"),
	    &list, &err), -1);
	assert_int_equal(err.status, RPC_ERR_PROTO);
	rpc_strlist_free(&list);
	rpc_error_free(&err);
}

static void
test_trailing_bytes(void **state)
{
	struct rpc_strlist list;
	struct rpc_error err;

	rpc_strlist_init(&list);
	rpc_error_init(&err);
	assert_int_equal(parse_strict(MSG_SAY, SPAN("\x00\x00\x00"), NULL,
	    &err), -1);
	assert_int_equal(err.status, RPC_ERR_PROTO);
	assert_string_equal(err.msg.data,
	    "malformed Say response: 1 bytes left over");
	assert_int_equal(parse_strict(MSG_LIST, SPAN("\x00\x00\x00\x00zz"),
	    &list, &err), -1);
	assert_int_equal(err.status, RPC_ERR_PROTO);
	assert_int_equal(list.n, 0);

	/*
	 * Strictly, a Register-shaped answer to a List is refused: the error
	 * string is taken as the list count and nothing follows.
	 */
	assert_int_equal(parse_strict(MSG_LIST, SPAN("\x00\x00"), &list,
	    &err), -1);
	assert_int_equal(err.status, RPC_ERR_PROTO);
	rpc_strlist_free(&list);
	rpc_error_free(&err);
}

/* PROTOCOL.md §5.3: the sloppy shapes other implementations send. */
static void
test_sloppy(void **state)
{
#define MSGS	"\x00\x01\x00\x06" "bob hi"
	struct rpc_strlist list;
	struct rpc_error err;
	struct buf note = BUF_INIT;

	rpc_strlist_init(&list);
	rpc_error_init(&err);
	/* The error string written twice (a 2023 server's Tell). */
	assert_int_equal(parse(MSG_TELL, SPAN("\x00\x00\x00\x00"), NULL,
	    &err), 0);
	assert_int_equal(err.status, RPC_OK);
	assert_int_equal(err.sloppy, RPC_EXTRA_BYTES);
	assert_int_equal(err.extra, 2);
	rpc_describe_sloppy(&err, &note);
	buf_append(&note, "", 1);
	assert_string_equal(note.data, "this server's Tell responses carry 2 "
	    "extra bytes after the error string; ignoring them");

	/* Two stray bytes after a CheckMessages: the messages are kept. */
	assert_int_equal(parse(MSG_CHECK_MESSAGES, SPAN(MSGS "\x00\x00"
	    "\x00\x00"), &list, &err), 0);
	assert_int_equal(err.sloppy, RPC_EXTRA_BYTES);
	assert_int_equal(err.sloppy_type, MSG_CHECK_MESSAGES);
	assert_int_equal(list.n, 1);
	assert_span(list.v[0], "bob hi");

	/* No error string at all after the list. */
	assert_int_equal(parse(MSG_CHECK_MESSAGES, SPAN(MSGS), &list, &err),
	    0);
	assert_int_equal(err.sloppy, RPC_NO_ERROR_STRING);
	assert_int_equal(list.n, 1);
	buf_clear(&note);
	rpc_describe_sloppy(&err, &note);
	buf_append(&note, "", 1);
	assert_string_equal(note.data, "this server's CheckMessages responses "
	    "end without an error string; taking them as successful");
	assert_int_equal(parse(MSG_LIST, SPAN("\x00\x00"), &list, &err), 0);
	assert_int_equal(list.n, 0);

	/* An error followed by extra bytes is still the server's error. */
	assert_int_equal(parse(MSG_SAY, SPAN("\x00\x03" "bad" "zz"), NULL,
	    &err), -1);
	assert_int_equal(err.status, RPC_ERR_SERVER);
	assert_string_equal(err.msg.data, "bad");
	assert_int_equal(err.sloppy, RPC_EXTRA_BYTES);

	/* A clean response says nothing. */
	assert_int_equal(parse(MSG_SAY, SPAN("\x00\x00"), NULL, &err), 0);
	assert_int_equal(err.sloppy, RPC_TIDY);

	/* Still errors: cut-off error string, results that do not parse. */
	assert_int_equal(parse(MSG_SAY, SPAN("\x00\x05" "ab"), NULL, &err),
	    -1);
	assert_int_equal(err.status, RPC_ERR_PROTO);
	assert_int_equal(parse(MSG_LIST, SPAN(MSGS "\x00"), &list, &err), -1);
	assert_int_equal(err.status, RPC_ERR_PROTO);
	assert_int_equal(parse(MSG_LIST, SPAN("\x00\x02\x00\x01" "a"), &list,
	    &err), -1);
	assert_int_equal(err.status, RPC_ERR_PROTO);
	assert_int_equal(list.n, 0);
	buf_free(&note);
	rpc_strlist_free(&list);
	rpc_error_free(&err);
#undef MSGS
}

/* A framed answer read unframed is recognised, not shown as text. */
static void
test_looks_framed(void **state)
{
	/* Our framed server's answer to an unframed Register. */
	assert_true(rpc_looks_framed(MSG_REGISTER,
	    SPAN("\x00\x13\x00\x11" "request too short")));
	assert_true(rpc_looks_framed(MSG_LIST,
	    SPAN("\x00\x04\x00\x00\x00\x00")));
	assert_true(rpc_looks_framed(MSG_SAY, SPAN("\x00\x02\x00\x00")));
	/* Unframed answers are not. */
	assert_false(rpc_looks_framed(MSG_SAY, SPAN("\x00\x00")));
	assert_false(rpc_looks_framed(MSG_LIST, SPAN("\x00\x00\x00\x00")));
	assert_false(rpc_looks_framed(MSG_LIST, SPAN("\x00\x00")));
	assert_false(rpc_looks_framed(MSG_SAY, SPAN("\x00\x05" "hello")));
	assert_false(rpc_looks_framed(MSG_LIST, SPAN("\x00\x01\x00\x05"
	    "alice\x00\x00")));
	assert_false(rpc_looks_framed(MSG_SAY, SPAN("")));
}

static void
test_unknown_type(void **state)
{
	struct rpc_error err;

	rpc_error_init(&err);
	assert_int_equal(parse((enum msg_type)9, SPAN("\x00\x00"), NULL, &err),
	    -1);
	assert_int_equal(err.status, RPC_ERR_PROTO);
	rpc_error_free(&err);
}

/*
 * A scripted server: accepts one connection, reads what the client
 * sends (checking it against want when given), then writes reply and
 * closes, or says nothing and waits when reply is NULL.
 */
struct script {
	const char	*want;
	size_t		 want_len;
	const char	*reply;
	size_t		 reply_len;
};

/* A listener on 127.0.0.1 with its port, as text, in port[16]. */
static int
listen_loopback(char *port)
{
	struct sockaddr_in sin = { 0 };
	socklen_t len = sizeof sin;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(port, 16, "%u", ntohs(sin.sin_port));
	return fd;
}

static pid_t
serve(int lfd, const struct script *s)
{
	char got[256];
	size_t have = 0;
	ssize_t n;
	pid_t pid;
	int fd;

	pid = fork();
	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	alarm(10);
	if ((fd = accept(lfd, NULL, NULL)) == -1)
		_exit(3);
	while (have < s->want_len) {
		n = read(fd, got + have, sizeof got - have);
		if (n <= 0)
			_exit(4);
		have += (size_t)n;
	}
	if (s->want != NULL && memcmp(got, s->want, s->want_len) != 0)
		_exit(5);
	if (s->reply == NULL) {
		pause();
		_exit(0);
	}
	if (s->reply_len > 0 && write(fd, s->reply, s->reply_len) !=
	    (ssize_t)s->reply_len)
		_exit(6);
	close(fd);
	_exit(0);
}

static void
finish(pid_t pid, int expect_ok)
{
	int status;

	if (!expect_ok)
		kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (expect_ok) {
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

static void
test_call_framed(void **state)
{
	static const char want[] = "\x00\x09\x00\x00\x00\x05" "alice";
	static const char reply[] = "\x00\x02\x00\x00";
	struct script s = { want, sizeof want - 1, reply, sizeof reply - 1 };
	struct rpc_target srv = { .host = "127.0.0.1", .port = NULL,
	    .wire = WIRE_FRAMED, .timeout_ms = 3000 };
	struct rpc_error err;
	char port[16];
	int lfd;
	pid_t pid;

	lfd = listen_loopback(port);
	srv.port = port;
	pid = serve(lfd, &s);
	rpc_error_init(&err);
	assert_int_equal(rpc_register(&srv, SPAN("alice"), &err), 0);
	finish(pid, 1);
	close(lfd);
	rpc_error_free(&err);
}

static void
test_call_unframed(void **state)
{
	static const char want[] = "\x00\x01";
	static const char reply[] = "\x00\x02\x00\x05" "alice" "\x00\x03" "bob"
	    "\x00\x00";
	struct script s = { want, sizeof want - 1, reply, sizeof reply - 1 };
	struct rpc_target srv = { .host = "127.0.0.1", .port = NULL,
	    .wire = WIRE_UNFRAMED, .timeout_ms = 3000 };
	struct rpc_strlist users;
	struct rpc_error err;
	char port[16];
	int lfd;
	pid_t pid;

	lfd = listen_loopback(port);
	srv.port = port;
	pid = serve(lfd, &s);
	rpc_error_init(&err);
	rpc_strlist_init(&users);
	assert_int_equal(rpc_list(&srv, &users, &err), 0);
	assert_int_equal(users.n, 2);
	assert_span(users.v[1], "bob");
	finish(pid, 1);
	close(lfd);
	rpc_strlist_free(&users);
	rpc_error_free(&err);
}

static void
test_call_failures(void **state)
{
	static const struct {
		enum wire	 wire;
		const char	*reply;
		size_t		 reply_len;
		enum rpc_status	 status;
		const char	*text;
	} cases[] = {
		/* Closed without a byte. */
		{ WIRE_FRAMED, "", 0, RPC_ERR_NET, "without a response" },
		{ WIRE_UNFRAMED, "", 0, RPC_ERR_NET, "without a response" },
		/* Closed in the middle of the frame. */
		{ WIRE_FRAMED, "\x00\x04\x00", 3, RPC_ERR_NET,
		    "before the whole response" },
		{ WIRE_FRAMED, "\x00", 1, RPC_ERR_NET,
		    "before the whole response" },
		/* A frame that holds no valid response. */
		{ WIRE_FRAMED, "\x00\x01\x00", 3, RPC_ERR_PROTO, "malformed" },
		{ WIRE_FRAMED, "\x00\x00", 2, RPC_ERR_PROTO, "empty" },
		{ WIRE_UNFRAMED, "\x00\x05" "ab", 4, RPC_ERR_PROTO,
		    "runs past the end" },
		/* A framed answer to an unframed call: no length as text. */
		{ WIRE_UNFRAMED, "\x00\x13\x00\x11request too short", 21,
		    RPC_ERR_PROTO, "--wire framed" },
		/* The server's own error. */
		{ WIRE_FRAMED, "\x00\x17\x00\x15Shutdown: not allowed", 25,
		    RPC_ERR_SERVER, "Shutdown: not allowed" },
		/* Silence: the deadline ends the call. */
		{ WIRE_FRAMED, NULL, 0, RPC_ERR_NET, "timed out after 0.3 s" },
		{ WIRE_UNFRAMED, NULL, 0, RPC_ERR_NET, "timed out after 0.3 s" },
	};
	struct rpc_target srv = { .host = "127.0.0.1", .port = NULL,
	    .wire = WIRE_FRAMED, .timeout_ms = 300 };
	struct rpc_error err;
	struct script s;
	char port[16];
	int lfd;
	pid_t pid;
	size_t i;

	rpc_error_init(&err);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		lfd = listen_loopback(port);
		srv.port = port;
		srv.wire = cases[i].wire;
		s = (struct script){ NULL, 2, cases[i].reply,
		    cases[i].reply_len };
		pid = serve(lfd, &s);
		assert_int_equal(rpc_shutdown(&srv, &err), -1);
		assert_int_equal(err.status, cases[i].status);
		if (strstr(err.msg.data, cases[i].text) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg.data,
			    cases[i].text);
		finish(pid, cases[i].reply != NULL);
		close(lfd);
	}
	rpc_error_free(&err);
}

static void
test_connect_refused(void **state)
{
	struct rpc_target srv = { .host = "127.0.0.1", .port = NULL,
	    .wire = WIRE_FRAMED, .timeout_ms = 2000 };
	struct rpc_error err;
	char port[16];
	int lfd;

	/* A port that was just free: nobody listens there now. */
	lfd = listen_loopback(port);
	close(lfd);
	srv.port = port;
	rpc_error_init(&err);
	assert_int_equal(rpc_register(&srv, SPAN("alice"), &err), -1);
	assert_int_equal(err.status, RPC_ERR_NET);
	assert_non_null(strstr(err.msg.data, "Connection refused"));
	assert_non_null(strstr(err.msg.data, port));
	rpc_error_free(&err);
}

static void
test_request_too_large(void **state)
{
	struct rpc_target srv = { .host = "127.0.0.1", .port = "1",
	    .wire = WIRE_FRAMED, .timeout_ms = 2000 };
	struct rpc_error err;
	char *big;

	/* Three strings that each fit, and together do not: no connect. */
	big = calloc(1, 40000);
	rpc_error_init(&err);
	assert_int_equal(rpc_tell(&srv, SPAN("alice"),
	    (struct span){ big, 40000 }, (struct span){ big, 40000 }, &err),
	    -1);
	assert_int_equal(err.status, RPC_ERR_PROTO);
	assert_non_null(strstr(err.msg.data, "too large"));
	free(big);
	rpc_error_free(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_success),
		cmocka_unit_test(test_list_example),
		cmocka_unit_test(test_check_messages),
		cmocka_unit_test(test_server_error),
		cmocka_unit_test(test_short_input),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_sloppy),
		cmocka_unit_test(test_looks_framed),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_call_framed),
		cmocka_unit_test(test_call_unframed),
		cmocka_unit_test(test_call_failures),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_request_too_large),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
