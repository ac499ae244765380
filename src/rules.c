/* rules.c - the chat rules that need no state (see rules.h). */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "proto.h"
#include "rules.h"
#include "username.h"

#define EMPTY_SPAN	((struct span){ "", 0 })

static void
parts_append(struct buf *b, const struct span *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf_append(b, v[i].p, v[i].len);
}

/*
 * Appends prefix, value and suffix, at most max bytes in all: a value too
 * long keeps its first bytes and is followed by "...".  The caller
 * guarantees prefix + suffix + 3 <= max.
 */
static void
elide(struct buf *out, struct span prefix, struct span value,
    struct span suffix, size_t max)
{
	struct span v[4] = { prefix, value, EMPTY_SPAN, suffix };
	size_t fixed = prefix.len + suffix.len;

	if (value.len > max - fixed) {
		v[1].len = max - fixed - 3;
		v[2] = SPAN_LIT("...");
	}
	parts_append(out, v, 4);
}

static int
fail(struct buf *err, const char *text)
{
	buf_append(err, text, strlen(text));
	return -1;
}

int
rules_register_name(struct span name, struct buf *err)
{
	switch (username_check(name)) {
	case USERNAME_OK:
		return 0;
	case USERNAME_BAD_LENGTH:
		return fail(err,
		    "Register: user must be between 1 and 20 letters");
	default:
		return fail(err,
		    "Register: user must only contain letters and digits");
	}
}

int
rules_valid_name(struct span name)
{
	return username_check(name) == USERNAME_OK;
}

/*
 * The name comes off the wire and may be up to 65535 bytes: it is elided
 * so the error still fits in a response (its own 2-byte length included).
 */
int
rules_not_logged_in(const char *call, struct span user, struct buf *err)
{
	char prefix[32];
	int n;

	n = snprintf(prefix, sizeof prefix, "%s: user ", call);
	if (n < 0 || (size_t)n >= sizeof prefix)
		return fail(err, "internal error");
	elide(err, (struct span){ prefix, (size_t)n }, user,
	    SPAN_LIT(" is not logged in"), FRAME_MAX - 2);
	return -1;
}

int
rules_too_long(struct buf *err)
{
	return fail(err, "message too long");
}

int
rules_too_many_users(struct buf *err)
{
	return fail(err, "Register: too many users");
}

int
rules_invalid_check(struct buf *err)
{
	return fail(err, "CheckMessages: invalid user name");
}

int
rules_message_too_long(struct span user, struct span infix,
    struct span message)
{
	/* A logged-in name is at most USER_MAX bytes: no wrap. */
	return user.len + infix.len > TEXT_MAX ||
	    message.len > TEXT_MAX - user.len - infix.len;
}

void
rules_say_text(struct span user, struct span message, struct buf *out)
{
	struct span v[3] = { user, RULES_SAY_INFIX, message };

	parts_append(out, v, 3);
}

void
rules_tell_text(struct span user, struct span message, struct buf *out)
{
	struct span v[3] = { user, RULES_TELL_INFIX, message };

	parts_append(out, v, 3);
}

/*
 * The target may be up to 65535 bytes; a name that long is never a user,
 * so the notice keeps its first bytes and ends in "..." to stay within
 * one message.
 */
void
rules_no_such_user(struct span target, struct buf *out)
{
	elide(out, SPAN_LIT("*** No such user: "), target, EMPTY_SPAN,
	    TEXT_MAX);
}

void
rules_not_logged_in_list(struct span name, struct buf *out)
{
	static const char text[] = "*** You are not logged in, ";

	put_u16(out, 1);
	put_u16(out, sizeof text - 1 + name.len);
	buf_append(out, text, sizeof text - 1);
	buf_append(out, name.p, name.len);
}
