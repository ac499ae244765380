/*
 * store_redis.h - the contract between store_redis.c and the functions of
 * store_redis.lua: the library's name, the calls of a batch, the status
 * each call answers with, the codes of the errors the functions raise,
 * and the one key read without them.  The Lua spells the same names (its
 * ST and NARGS tables, its error_reply calls, its keys);
 * tests/unit/test_store_redis.c reads the Lua and checks that both agree.
 *
 * FCALL rpcchat_batch 0 TYPE ARG... TYPE ARG... runs calls in order, as
 * one atomic step, and answers an array of strings that, joined, are
 * the answers one after the other (a few strings rather than one cost
 * Redis's Lua less to make): each a status byte, and for a CheckMessages
 * answering RSTORE_DONE or RSTORE_TAKEN the response's string list after
 * it, with a byte more: a u16 count, the size of a header that comes
 * before each string (as it is stored: the function copies it as a
 * whole), and the strings (PROTOCOL.md §2.1).
 */
#ifndef RPCCHAT_STORE_REDIS_H
#define RPCCHAT_STORE_REDIS_H

#include <stddef.h>

/* FUNCTION LOAD's "#!lua name=", and what FUNCTION LIST looks for. */
#define RSTORE_LIBRARY		"rpcchat"

/* A call of a batch: its type and how many arguments follow it. */
struct rstore_call {
	char		 type;
	int		 nargs;
};
/* Register, CheckMessages, Say, Tell, Quit, then { 0, 0 }. */
extern const struct rstore_call	 rstore_calls[];

/* A call's answer in a batch. */
enum rstore_status {
	RSTORE_DONE = 0,
	RSTORE_NOT_LOGGED_IN = 1,	/* the calling user is not */
	RSTORE_TOO_LONG = 2,		/* the message is too long */
	RSTORE_TOO_MANY_USERS = 3,	/* Register: no room for one more */
	RSTORE_REPLACED = 4,		/* Register: the name was logged in */
	RSTORE_TAKEN = 5		/* CheckMessages changed the queue */
};

/* List is answered from this ZSET of the names, without a function. */
#define RSTORE_KEY_USERS	"{rpcchat}:users"

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
