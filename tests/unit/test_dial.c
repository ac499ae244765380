/*
 * test_dial.c - the order addresses are tried in (RFC 8305 §4), a dial
 * that goes past a refused address to one that listens, and a lookup in
 * its thread, finished and abandoned.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "anet.h"
#include "clock.h"
#include "dial.h"
#include "resolve.h"

/* An addrinfo chain from "4:1.2.3.4" / "6:::1" entries, port 1. */
static struct addrinfo *
chain(const char *const *spec, size_t n, struct sockaddr_storage *ss,
    struct addrinfo *ai)
{
	size_t i;

	memset(ai, 0, n * sizeof *ai);
	memset(ss, 0, n * sizeof *ss);
	for (i = 0; i < n; i++) {
		if (spec[i][0] == '4') {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss[i];

			s4->sin_family = AF_INET;
			s4->sin_port = htons(1);
			assert_int_equal(inet_pton(AF_INET, spec[i] + 2,
			    &s4->sin_addr), 1);
			ai[i].ai_addrlen = sizeof *s4;
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss[i];

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(1);
			assert_int_equal(inet_pton(AF_INET6, spec[i] + 2,
			    &s6->sin6_addr), 1);
			ai[i].ai_addrlen = sizeof *s6;
		}
		ai[i].ai_family = ss[i].ss_family;
		ai[i].ai_addr = (struct sockaddr *)&ss[i];
		ai[i].ai_next = i + 1 < n ? &ai[i + 1] : NULL;
	}
	return ai;
}

static void
assert_order(const struct dial_addr *got, size_t n, const char *const *want)
{
	char shown[ANET_ADDR_LEN], expect[ANET_ADDR_LEN];
	size_t i;

	for (i = 0; i < n; i++) {
		anet_format_addr(&got[i].ss, shown, sizeof shown);
		if (want[i][0] == '4')
			snprintf(expect, sizeof expect, "%s:1", want[i] + 2);
		else
			snprintf(expect, sizeof expect, "[%s]:1", want[i] + 2);
		assert_string_equal(shown, expect);
	}
}

static void
test_order_alternates_families(void **state)
{
	static const char *const in[] = { "6:2001:db8::1", "6:2001:db8::2",
	    "6:2001:db8::3", "4:192.0.2.1", "4:192.0.2.2" };
	static const char *const want[] = { "6:2001:db8::1", "4:192.0.2.1",
	    "6:2001:db8::2", "4:192.0.2.2", "6:2001:db8::3" };
	static const char *const in4[] = { "4:192.0.2.1", "6:2001:db8::1",
	    "4:192.0.2.2" };
	struct sockaddr_storage ss[5];
	struct addrinfo ai[5];
	struct dial_addr out[DIAL_ADDRS_MAX];

	assert_int_equal(dial_order(chain(in, 5, ss, ai), out), 5);
	assert_order(out, 5, want);
	/* The first address's family goes first, whichever it is. */
	assert_int_equal(dial_order(chain(in4, 3, ss, ai), out), 3);
	assert_order(out, 3, in4);
}

static void
test_order_is_bounded(void **state)
{
	const char *in[DIAL_ADDRS_MAX + 4];
	struct sockaddr_storage ss[DIAL_ADDRS_MAX + 4];
	struct addrinfo ai[DIAL_ADDRS_MAX + 4];
	struct dial_addr out[DIAL_ADDRS_MAX];
	size_t i;

	for (i = 0; i < DIAL_ADDRS_MAX + 4; i++)
		in[i] = "4:192.0.2.7";
	assert_int_equal(dial_order(chain(in, DIAL_ADDRS_MAX + 4, ss, ai),
	    out), DIAL_ADDRS_MAX);
}

/* A loopback listener (port in *port) and a port nobody listens on. */
static int
listener(struct sockaddr_in *at)
{
	socklen_t len = sizeof *at;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(at, 0, sizeof *at);
	at->sin_family = AF_INET;
	at->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)at, sizeof *at), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)at, &len), 0);
	return fd;
}

static void
test_dial_goes_past_a_refusal(void **state)
{
	struct sockaddr_in live, dead;
	struct dial_addr addrs[2];
	struct pollfd pfd[DIAL_MAX];
	struct dial d;
	long long deadline;
	size_t n;
	int lfd, dfd, r = 0;

	lfd = listener(&live);
	dfd = listener(&dead);
	close(dfd);			/* refused from now on */
	memset(addrs, 0, sizeof addrs);
	memcpy(&addrs[0].ss, &dead, sizeof dead);
	addrs[0].len = sizeof dead;
	memcpy(&addrs[1].ss, &live, sizeof live);
	addrs[1].len = sizeof live;

	dial_start(&d, addrs, 2);
	deadline = clock_ms() + 5000;
	r = dial_step(&d, NULL, 0);
	while (r == 0 && clock_ms() < deadline) {
		n = dial_pollfds(&d, pfd, DIAL_MAX);
		assert_true(poll(pfd, n, 100) >= 0);
		r = dial_step(&d, pfd, n);
	}
	assert_int_equal(r, 1);
	assert_int_equal(d.won, 1);
	assert_true(d.fd >= 0);
	close(d.fd);
	close(lfd);
}

static void
test_dial_all_refused(void **state)
{
	struct sockaddr_in dead;
	struct dial_addr addr;
	struct pollfd pfd[DIAL_MAX];
	struct dial d;
	long long deadline;
	size_t n;
	int r;

	close(listener(&dead));
	memset(&addr, 0, sizeof addr);
	memcpy(&addr.ss, &dead, sizeof dead);
	addr.len = sizeof dead;
	dial_start(&d, &addr, 1);
	deadline = clock_ms() + 5000;
	r = dial_step(&d, NULL, 0);
	while (r == 0 && clock_ms() < deadline) {
		n = dial_pollfds(&d, pfd, DIAL_MAX);
		assert_true(poll(pfd, n, 100) >= 0);
		r = dial_step(&d, pfd, n);
	}
	assert_int_equal(r, -1);
	assert_int_equal(d.last_errno, ECONNREFUSED);
	/* Nothing to try at all is a failure too, not a hang. */
	dial_start(&d, NULL, 0);
	assert_int_equal(dial_step(&d, NULL, 0), -1);
}

static void
test_resolve_in_a_thread(void **state)
{
	char err[ANET_ERR_LEN];
	struct addrinfo *res = NULL;
	struct resolve *r;
	struct pollfd pfd;

	r = resolve_start("127.0.0.1", "3410", err);
	assert_non_null(r);
	pfd.fd = resolve_fd(r);
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(resolve_finish(r, &res, err), 0);
	assert_non_null(res);
	assert_int_equal(res->ai_family, AF_INET);
	freeaddrinfo(res);

	/* A lookup that fails (without asking DNS): the reason names it. */
	r = resolve_start("127.0.0.1", "no-such-service", err);
	assert_non_null(r);
	pfd.fd = resolve_fd(r);
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(resolve_finish(r, &res, err), -1);
	assert_null(res);
	assert_non_null(strstr(err, "127.0.0.1"));

	/* Given up at once: the thread cleans up after itself. */
	r = resolve_start("localhost", "3410", err);
	assert_non_null(r);
	resolve_abandon(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_alternates_families),
		cmocka_unit_test(test_order_is_bounded),
		cmocka_unit_test(test_dial_goes_past_a_refusal),
		cmocka_unit_test(test_dial_all_refused),
		cmocka_unit_test(test_resolve_in_a_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
