/* redis_url.c - the Redis a --store URL names (see redis_url.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"

#define DB_MAX		65535
#define HOST_BYTES	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
			"0123456789.-_"
/* With a zone: [fe80::1%eth0]. */
#define IPV6_BYTES	HOST_BYTES ":%"

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int
redis_url_is(const char *url)
{
	return starts(url, REDIS_URL_SCHEME) ||
	    starts(url, REDIS_SENTINEL_URL_SCHEME);
}

/* A decimal number in [min, max] from *p on; advances *p past it. */
static int
number(const char **p, long min, long max, int *out)
{
	char *end;
	long v;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	v = strtol(*p, &end, 10);
	if (errno != 0 || v < min || v > max)
		return -1;
	*p = end;
	*out = (int)v;
	return 0;
}

/*
 * HOST[:PORT] from *p on, up to one of the bytes in stop; advances *p
 * past it.  A reason in why when it is not one.
 */
static int
host_port(const char **p, const char *stop, int defport,
    struct redis_addr *a, const char **why)
{
	const char *s = *p, *hend, *bytes = HOST_BYTES;
	size_t len;

	if (*s == '[') {
		if ((hend = strchr(s, ']')) == NULL) {
			*why = "an [IPv6 address has no ]";
			return -1;
		}
		s++;
		*p = hend + 1;
		bytes = IPV6_BYTES;
	} else {
		hend = s + strcspn(s, ":");
		len = strcspn(s, stop);
		if (s + len < hend)
			hend = s + len;
		*p = hend;
	}
	len = (size_t)(hend - s);
	if (len == 0 || len >= sizeof a->host) {
		*why = len == 0 ? "a host is empty" : "a host is too long";
		return -1;
	}
	if (strspn(s, bytes) < len) {
		*why = "a host holds a byte no host name or address has";
		return -1;
	}
	memcpy(a->host, s, len);
	a->host[len] = '\0';
	a->port = defport;
	if (**p == ':') {
		(*p)++;
		if (number(p, 1, 65535, &a->port) == -1) {
			*why = "a port is not a number from 1 to 65535";
			return -1;
		}
	}
	if (**p != '\0' && strchr(stop, **p) == NULL) {
		*why = "a host is followed by something else";
		return -1;
	}
	return 0;
}

static int
master_name(const char *s, struct redis_url *u, const char **why)
{
	size_t i, len = strlen(s);

	if (len == 0 || len >= sizeof u->master) {
		*why = len == 0 ? "#MASTER is empty" : "#MASTER is too long";
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (s[i] <= ' ' || s[i] > '~') {
			*why = "#MASTER holds a space or a byte that is not "
			    "printable ASCII";
			return -1;
		}
	}
	memcpy(u->master, s, len + 1);
	return 0;
}

int
redis_url_parse(const char *url, struct redis_url *u, char *err,
    size_t errlen)
{
	const char *p, *why = NULL, *form;
	int sentinel;

	memset(u, 0, sizeof *u);
	sentinel = starts(url, REDIS_SENTINEL_URL_SCHEME);
	form = sentinel ?
	    "redis-sentinel://HOST[:PORT][,HOST[:PORT]...][/DB]#MASTER" :
	    "redis://HOST[:PORT][/DB]";
	if (!sentinel && !starts(url, REDIS_URL_SCHEME)) {
		why = "it is not a redis:// or redis-sentinel:// URL";
		goto bad;
	}
	p = url + strlen(sentinel ? REDIS_SENTINEL_URL_SCHEME :
	    REDIS_URL_SCHEME);
	for (;;) {
		if (u->nhosts == REDIS_URL_HOSTS) {
			why = "it names too many hosts";
			goto bad;
		}
		if (host_port(&p, sentinel ? ",/#" : "/", sentinel ?
		    REDIS_SENTINEL_DEFAULT_PORT : REDIS_DEFAULT_PORT,
		    &u->hosts[u->nhosts++], &why) == -1)
			goto bad;
		if (!sentinel || *p != ',')
			break;
		p++;
	}
	if (*p == '/') {
		p++;
		if (number(&p, 0, DB_MAX, &u->db) == -1) {
			why = "/DB is not a number from 0 to 65535";
			goto bad;
		}
	}
	if (sentinel) {
		if (*p != '#') {
			why = "#MASTER is missing";
			goto bad;
		}
		if (master_name(p + 1, u, &why) == -1)
			goto bad;
	} else if (*p != '\0') {
		why = "it has more after the host, port and /DB";
		goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "--store: '%s' is not %s: %s", url, form, why);
	return -1;
}

const char *
redis_addr_str(const struct redis_addr *a, char *out, size_t outlen)
{
	snprintf(out, outlen, strchr(a->host, ':') != NULL ? "[%s]:%d" :
	    "%s:%d", a->host, a->port);
	return out;
}

int
redis_addr_eq(const struct redis_addr *a, const struct redis_addr *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}
