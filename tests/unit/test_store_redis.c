/*
 * test_store_redis.c - the contract between store_redis.c and
 * store_redis.lua (store_redis.h) read from the Lua the binary carries,
 * and the --store URLs of Redis (redis_url.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "redis_url.h"
#include "store_redis.h"

/* The embedded Lua as a C string (it holds no NUL). */
static char *
lua(void)
{
	char *s = malloc(store_redis_lua_len + 1);

	assert_non_null(s);
	memcpy(s, store_redis_lua, store_redis_lua_len);
	s[store_redis_lua_len] = '\0';
	assert_int_equal(strlen(s), store_redis_lua_len);
	return s;
}

/* The Lua's "NAME = N," lines between "local ST = {" and "}". */
static int
lua_statuses(const char *src, char names[][32], int *values, int max)
{
	const char *p = strstr(src, "\nlocal ST = {\n"), *end;
	int n = 0, len;

	assert_non_null(p);
	end = strstr(p, "\n}\n");
	assert_non_null(end);
	for (p = strchr(p + 1, '\n') + 1; p < end; p = strchr(p, '\n') + 1) {
		assert_true(n < max);
		assert_int_equal(sscanf(p, " %31[A-Z_] = %d,%n", names[n],
		    &values[n], &len), 2);
		n++;
	}
	return n;
}

static void
test_statuses_agree(void **state)
{
	char names[32][32], *src = lua();
	int values[32], n, i, j, found;

	(void)state;
	n = lua_statuses(src, names, values, 32);
	/* Every C status is in the Lua, with its number ... */
	for (i = 0; rstore_statuses[i].name != NULL; i++) {
		for (j = 0, found = 0; j < n; j++) {
			if (strcmp(names[j], rstore_statuses[i].name) != 0)
				continue;
			assert_int_equal(values[j], rstore_statuses[i].value);
			found = 1;
		}
		if (!found)
			fail_msg("ST.%s is not in store_redis.lua",
			    rstore_statuses[i].name);
	}
	/* ... and the Lua has no other. */
	assert_int_equal(n, i);
	free(src);
}

static void
test_no_bare_status(void **state)
{
	char *src = lua();

	(void)state;
	/* A function answers ST.NAME, never a bare number. */
	assert_null(strstr(src, "return 0\n"));
	assert_null(strstr(src, "return { 0"));
	assert_null(strstr(src, "return 1\n"));
	free(src);
}

static void
test_error_codes_and_library(void **state)
{
	char want[64], *src = lua();
	int i;

	(void)state;
	for (i = 0; rstore_errors[i] != NULL; i++) {
		snprintf(want, sizeof want, "error_reply('%s ", rstore_errors[i]);
		if (strstr(src, want) == NULL)
			fail_msg("store_redis.lua raises no %s", rstore_errors[i]);
	}
	snprintf(want, sizeof want, "#!lua name=%s\n", RSTORE_LIBRARY);
	assert_memory_equal(src, want, strlen(want));
	free(src);
}

static void
parses(const char *url, int nhosts, const char *host, int port, int db,
    const char *master)
{
	struct redis_url u;
	char err[512];

	if (redis_url_parse(url, &u, err, sizeof err) == -1)
		fail_msg("%s: %s", url, err);
	assert_int_equal(u.nhosts, nhosts);
	assert_string_equal(u.hosts[0].host, host);
	assert_int_equal(u.hosts[0].port, port);
	assert_int_equal(u.db, db);
	assert_string_equal(u.master, master);
}

static void
test_redis_urls(void **state)
{
	(void)state;
	parses("redis://127.0.0.1:6380", 1, "127.0.0.1", 6380, 0, "");
	/* The port defaults to 6379. */
	parses("redis://localhost", 1, "localhost", 6379, 0, "");
	parses("redis://localhost/3", 1, "localhost", 6379, 3, "");
	parses("redis://[::1]:7000/15", 1, "::1", 7000, 15, "");
	parses("redis://[::1]", 1, "::1", 6379, 0, "");
}

static void
test_sentinel_urls(void **state)
{
	struct redis_url u;
	char err[512];

	(void)state;
	/* Sentinel's port defaults to 26379. */
	parses("redis-sentinel://a#mymaster", 1, "a", 26379, 0, "mymaster");
	parses("redis-sentinel://a:1,b,[::1]:3/2#m.1", 3, "a", 1, 2, "m.1");
	assert_int_equal(redis_url_parse("redis-sentinel://a:1,b,[::1]:3/2#m",
	    &u, err, sizeof err), 0);
	assert_string_equal(u.hosts[1].host, "b");
	assert_int_equal(u.hosts[1].port, 26379);
	assert_string_equal(u.hosts[2].host, "::1");
	assert_int_equal(u.hosts[2].port, 3);
}

static void
refused(const char *url, const char *why)
{
	struct redis_url u;
	char err[512];

	if (redis_url_parse(url, &u, err, sizeof err) == 0)
		fail_msg("%s was taken", url);
	if (strstr(err, why) == NULL)
		fail_msg("%s: '%s' does not say '%s'", url, err, why);
}

static void
test_bad_urls(void **state)
{
	(void)state;
	refused("redis://", "a host is empty");
	refused("redis://:6379", "a host is empty");
	refused("redis://h:0", "port");
	refused("redis://h:65536", "port");
	refused("redis://h:12x", "followed by something else");
	refused("redis://h/x", "/DB");
	refused("redis://h/1/2", "more after");
	refused("redis://h#m", "a host holds a byte");
	refused("redis://user@h", "a host holds a byte");
	refused("redis://[::1", "no ]");
	refused("redis://a,b", "a host holds a byte");
	refused("redis-sentinel://a", "#MASTER is missing");
	refused("redis-sentinel://a#", "#MASTER is empty");
	refused("redis-sentinel://a#my master", "space");
	refused("redis-sentinel://a,#m", "a host is empty");
	refused("redis-sentinel://a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q#m",
	    "too many hosts");
	refused("rediss://h", "not a redis");
	assert_true(redis_url_is("redis://h"));
	assert_true(redis_url_is("redis-sentinel://h#m"));
	assert_false(redis_url_is("memory"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses_agree),
		cmocka_unit_test(test_no_bare_status),
		cmocka_unit_test(test_error_codes_and_library),
		cmocka_unit_test(test_redis_urls),
		cmocka_unit_test(test_sentinel_urls),
		cmocka_unit_test(test_bad_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
