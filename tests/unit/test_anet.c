/*
 * test_anet.c - who counts as a local peer (anet_is_loopback) and who may
 * call Shutdown under each --allow-shutdown policy (PROTOCOL.md §3.5), for
 * every kind of address a peer can have; and how peers are named in the log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "anet.h"
#include "server.h"

/* A peer address from its text form, as accept() would store it. */
static struct sockaddr_storage
peer(const char *addr, unsigned short port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
	} else
		fail_msg("bad test address %s", addr);
	return ss;
}

static const struct {
	const char	*addr;
	int		 loopback;
} addrs[] = {
	{ "127.0.0.1", 1 },
	{ "127.255.0.1", 1 },
	{ "127.0.0.0", 1 },
	{ "127.255.255.255", 1 },
	{ "126.255.255.255", 0 },
	{ "128.0.0.1", 0 },
	{ "10.0.0.1", 0 },
	{ "0.0.0.0", 0 },
	{ "255.255.255.255", 0 },
	{ "::1", 1 },
	{ "::ffff:127.0.0.1", 1 },
	{ "::ffff:127.1.2.3", 1 },
	{ "::ffff:10.0.0.1", 0 },
	{ "::ffff:126.0.0.1", 0 },
	{ "::ffff:128.0.0.1", 0 },
	{ "::", 0 },
	{ "::2", 0 },
	{ "::127.0.0.1", 0 },		/* IPv4-compatible: obsolete, not local */
	{ "2001:db8::1", 0 },
	{ "fe80::1", 0 },
	{ "fd00::1", 0 },
	{ "1::1", 0 },
	{ "ff02::1", 0 },
	{ "::1:0:0:1", 0 },
};

#define NADDRS	(sizeof addrs / sizeof addrs[0])

static void
test_is_loopback(void **state)
{
	struct sockaddr_storage ss;
	size_t i;

	for (i = 0; i < NADDRS; i++) {
		ss = peer(addrs[i].addr, 4242);
		if (anet_is_loopback(&ss) != addrs[i].loopback)
			fail_msg("anet_is_loopback(%s) should be %d",
			    addrs[i].addr, addrs[i].loopback);
	}
}

/* Other address families are never local: a policy must not trust them. */
static void
test_is_loopback_other_families(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *su = (struct sockaddr_un *)&ss;

	memset(&ss, 0, sizeof ss);
	ss.ss_family = AF_UNSPEC;
	assert_false(anet_is_loopback(&ss));
	memset(&ss, 0, sizeof ss);
	su->sun_family = AF_UNIX;
	strcpy(su->sun_path, "/tmp/x");
	assert_false(anet_is_loopback(&ss));
	/* 127 in the bytes of a family that is not IPv4 means nothing. */
	memset(&ss, 127, sizeof ss);
	ss.ss_family = AF_UNSPEC;
	assert_false(anet_is_loopback(&ss));
}

static void
test_shutdown_policy(void **state)
{
	struct sockaddr_storage ss;
	size_t i;

	for (i = 0; i < NADDRS; i++) {
		ss = peer(addrs[i].addr, 4242);
		if (!server_shutdown_allowed(SHUTDOWN_ANY, &ss))
			fail_msg("any: %s refused", addrs[i].addr);
		if (server_shutdown_allowed(SHUTDOWN_LOCAL, &ss) !=
		    addrs[i].loopback)
			fail_msg("local: %s should be %s", addrs[i].addr,
			    addrs[i].loopback ? "allowed" : "refused");
		if (server_shutdown_allowed(SHUTDOWN_NONE, &ss))
			fail_msg("none: %s allowed", addrs[i].addr);
	}
	memset(&ss, 0, sizeof ss);
	ss.ss_family = AF_UNIX;
	assert_false(server_shutdown_allowed(SHUTDOWN_LOCAL, &ss));
	assert_false(server_shutdown_allowed(SHUTDOWN_NONE, &ss));
}

static void
test_format_addr(void **state)
{
	static const struct {
		const char	*addr;
		unsigned short	 port;
		const char	*want;
	} cases[] = {
		{ "127.0.0.1", 3410, "127.0.0.1:3410" },
		{ "10.0.0.1", 1, "10.0.0.1:1" },
		{ "::1", 65535, "[::1]:65535" },
		{ "2001:db8::1", 80, "[2001:db8::1]:80" },
		{ "::ffff:10.0.0.1", 5, "10.0.0.1:5" },
		{ "::ffff:127.0.0.1", 0, "127.0.0.1:0" },
	};
	struct sockaddr_storage ss;
	char out[ANET_ADDR_LEN];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ss = peer(cases[i].addr, cases[i].port);
		anet_format_addr(&ss, out, sizeof out);
		assert_string_equal(out, cases[i].want);
	}
	/* The longest IPv6 address with the largest port fits. */
	ss = peer("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535);
	anet_format_addr(&ss, out, sizeof out);
	assert_string_equal(out, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535");
}

/* A lingering close discards input, waits when none is there, ends at EOF. */
static void
test_linger_drain(void **state)
{
	char junk[1000];
	size_t budget = sizeof junk + 10;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	memset(junk, 7, sizeof junk);
	assert_int_equal(write(sv[1], junk, sizeof junk), sizeof junk);
	assert_int_equal(anet_linger_start(sv[0]), 0);
	assert_int_equal(anet_linger_drain(sv[0], &budget), ANET_DRAIN_WAIT);
	assert_int_equal(budget, 10);
	/* Our FIN is out: the peer reads end of file. */
	assert_int_equal(read(sv[1], junk, sizeof junk), 0);
	close(sv[1]);
	assert_int_equal(anet_linger_drain(sv[0], &budget), ANET_DRAIN_EOF);
	close(sv[0]);
}

/* Past its byte budget the drain gives up. */
static void
test_linger_drain_budget(void **state)
{
	char junk[100];
	size_t budget = 99;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	memset(junk, 7, sizeof junk);
	assert_int_equal(write(sv[1], junk, sizeof junk), sizeof junk);
	assert_int_equal(anet_linger_drain(sv[0], &budget), ANET_DRAIN_STOP);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_loopback),
		cmocka_unit_test(test_is_loopback_other_families),
		cmocka_unit_test(test_shutdown_policy),
		cmocka_unit_test(test_format_addr),
		cmocka_unit_test(test_linger_drain),
		cmocka_unit_test(test_linger_drain_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
