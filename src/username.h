/*
 * username.h - who may log in (PROTOCOL.md §3.2), and telling a person why not.
 *
 * A name is 1-20 bytes, and every character, UTF-8 decoded, is a Unicode
 * letter (category L) or decimal digit (Nd): Go's unicode.IsLetter and
 * unicode.IsDigit, which the reference server uses.
 */
#ifndef RPCCHAT_USERNAME_H
#define RPCCHAT_USERNAME_H

#include "buf.h"
#include "span.h"

enum username_status {
	USERNAME_OK,
	USERNAME_BAD_LENGTH,	/* not 1-20 bytes; checked first */
	USERNAME_BAD_CHAR	/* a character that is neither */
};

enum username_status	username_check(struct span name);

/*
 * The name a client sends for the name typed (PROTOCOL.md §5.4): appends to out
 * the name as typed when it passes, else its Unicode NFC form when that
 * passes (and sets *normalised), else the name as typed.  Returns the
 * status of what it appended.  A name that passes is never changed: NFC
 * would turn U+212A KELVIN SIGN, a valid letter, into K.
 */
enum username_status	username_prepare(struct span typed, struct buf *out,
			    int *normalised);

/*
 * Appends, in a person's terms, why the name fails (status from
 * username_check): its size in bytes and characters, or the first
 * character that is neither a letter nor a digit, with its code point.
 * The name itself is not repeated; what is quoted is escaped.
 */
void	username_explain(struct span name, enum username_status,
	    struct buf *out);

/*
 * Appends, for a person, which code points Unicode NFC changed between a
 * name as typed and its NFC form, which look alike on a screen:
 * "U+0065 U+0301 became U+00E9".  Bytes that are not UTF-8 count as
 * U+FFFD.
 */
void	username_nfc_changes(struct span typed, struct span nfc,
	    struct buf *out);

#endif
