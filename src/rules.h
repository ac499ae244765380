/*
 * rules.h - the chat rules that need no state (PROTOCOL.md §3.2-3.3, §4.1):
 * name checks, message sizes and the texts of the errors and notices built from
 * a request alone.  Every store applies them through these functions, so the
 * memory and the Redis store answer byte for byte alike.
 */
#ifndef RPCCHAT_RULES_H
#define RPCCHAT_RULES_H

#include "buf.h"
#include "span.h"

/* Register's name rules; -1 with its exact error appended to err. */
int	rules_register_name(struct span user, struct buf *err);
/* Whether the name could ever be logged in (it passes Register's rules). */
int	rules_valid_name(struct span user);
/* "<call>: user <user> is not logged in", elided to fit; returns -1. */
int	rules_not_logged_in(const char *call, struct span user,
	    struct buf *err);
/* Appends "message too long"; returns -1. */
int	rules_too_long(struct buf *err);
/* Appends "Register: too many users"; returns -1. */
int	rules_too_many_users(struct buf *err);
/* Appends "CheckMessages: invalid user name"; returns -1. */
int	rules_invalid_check(struct buf *err);
/*
 * Whether "<user><infix><message>" would be longer than one message may
 * be (PROTOCOL.md §4.1); the infix is " says " or " tells you ".
 */
int	rules_message_too_long(struct span user, struct span infix,
	    struct span message);
/* The texts delivered by Say and Tell. */
void	rules_say_text(struct span user, struct span message, struct buf *out);
void	rules_tell_text(struct span user, struct span message,
	    struct buf *out);
/* "*** No such user: <target>", elided to one message. */
void	rules_no_such_user(struct span target, struct buf *out);
/* CheckMessages of a valid name not logged in: the whole string list. */
void	rules_not_logged_in_list(struct span user, struct buf *out);

#define RULES_SAY_INFIX		SPAN_LIT(" says ")
#define RULES_TELL_INFIX	SPAN_LIT(" tells you ")
/*
 * The error of a call the store could not take (PROTOCOL.md §7): the
 * server answers it, and both clients know it apart from other errors.
 */
#define STORE_UNAVAILABLE	"store unavailable"

#endif
