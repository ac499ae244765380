/*
 * redis_url.h - the Redis a --store URL names (PROTOCOL.md §7):
 *
 *	redis://HOST[:PORT][/DB]				(port 6379)
 *	redis-sentinel://HOST[:PORT][,HOST[:PORT]...][/DB]#MASTER	(port 26379)
 *
 * the second the URL form of the Lettuce client: the Sentinels to ask
 * where the master named MASTER is.  A HOST may be a name, an IPv4
 * address or an [IPv6] address.
 */
#ifndef RPCCHAT_REDIS_URL_H
#define RPCCHAT_REDIS_URL_H

#include <stddef.h>

#define REDIS_URL_SCHEME		"redis://"
#define REDIS_SENTINEL_URL_SCHEME	"redis-sentinel://"
#define REDIS_DEFAULT_PORT		6379
#define REDIS_SENTINEL_DEFAULT_PORT	26379
#define REDIS_URL_HOSTS			16
#define REDIS_HOST_MAX			256
#define REDIS_MASTER_MAX		128
/* "[" HOST "]:" PORT and its NUL. */
#define REDIS_ADDR_STR			(REDIS_HOST_MAX + 8)

struct redis_addr {
	char	host[REDIS_HOST_MAX];	/* without the brackets */
	int	port;
};

struct redis_url {
	/* The server, or the Sentinels to ask. */
	struct redis_addr	hosts[REDIS_URL_HOSTS];
	int			nhosts;
	int			db;
	char			master[REDIS_MASTER_MAX]; /* "": no Sentinel */
};

/* Whether url has one of the two schemes (then it is parsed or refused). */
int	redis_url_is(const char *url);
/* Parses url; -1 with what is wrong in err. */
int	redis_url_parse(const char *url, struct redis_url *, char *err,
	    size_t errlen);
/* "HOST:PORT", "[HOST]:PORT" for an IPv6 address, in out. */
const char *redis_addr_str(const struct redis_addr *, char *out,
	    size_t outlen);
int	redis_addr_eq(const struct redis_addr *, const struct redis_addr *);

#endif
