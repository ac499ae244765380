/*
 * username.h - who may log in (SPEC §3.2).
 *
 * A name is 1-20 bytes, and every character, UTF-8 decoded, is a Unicode
 * letter (category L) or decimal digit (Nd): Go's unicode.IsLetter and
 * unicode.IsDigit, which the reference server uses.
 */
#ifndef RPCCHAT_USERNAME_H
#define RPCCHAT_USERNAME_H

#include "codec.h"

enum username_status {
	USERNAME_OK,
	USERNAME_BAD_LENGTH,	/* not 1-20 bytes; checked first */
	USERNAME_BAD_CHAR	/* a character that is neither */
};

enum username_status	username_check(struct span name);

#endif
