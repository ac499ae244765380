/*
 * store_redis.h - the contract between store_redis.c and the functions of
 * store_redis.lua: the library's name, the status a function answers
 * with, and the codes of the errors the functions raise.  The Lua spells
 * the same names (its ST table and its error_reply calls);
 * tests/unit/test_store_redis.c reads the Lua and checks that both agree.
 */
#ifndef RPCCHAT_STORE_REDIS_H
#define RPCCHAT_STORE_REDIS_H

#include <stddef.h>

/* FUNCTION LOAD's "#!lua name=", and what FUNCTION LIST looks for. */
#define RSTORE_LIBRARY		"rpcchat"

/* A function's answer: alone, or first in the array it returns. */
enum rstore_status {
	RSTORE_DONE = 0,
	RSTORE_NOT_LOGGED_IN = 1,	/* the calling user is not */
	RSTORE_TOO_LONG = 2,		/* the message is too long */
	RSTORE_TOO_MANY_USERS = 3,	/* Register: no room for one more */
	RSTORE_REPLACED = 4,		/* Register: the name was logged in */
	RSTORE_TAKEN = 5		/* CheckMessages changed the queue */
};

/* Error codes, the first word of an error reply. */
#define RSTORE_ERR_NOCONFIG	"NOCONFIG"	/* no configuration stored */
#define RSTORE_ERR_MISMATCH	"MISMATCH"	/* other limits stored */

struct rstore_name {
	const char	*name;		/* as the Lua's ST table has it */
	int		 value;
};
/* Every status, then { NULL, 0 }. */
extern const struct rstore_name	 rstore_statuses[];
/* Every error code, then NULL. */
extern const char *const	 rstore_errors[];

/* store_redis.lua, embedded by the Makefile. */
extern const char		 store_redis_lua[];
extern const size_t		 store_redis_lua_len;

#endif
