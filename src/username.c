/* username.c - the Register name rules (see username.h). */
#include <stdlib.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "proto.h"
#include "text.h"
#include "username.h"

/*
 * The offset of the first character that is neither a letter nor a digit
 * (its length in *n, 0 for bytes that are not UTF-8), or name.len.
 */
static size_t
first_bad(struct span name, ucs4_t *uc, int *n)
{
	const uint8_t *p = (const uint8_t *)name.p;
	size_t off = 0;

	while (off < name.len) {
		/* u8_mbtouc_unsafe-free: a malformed sequence is refused. */
		*n = u8_mbtoucr(uc, p + off, name.len - off);
		if (*n <= 0) {
			*n = 0;
			return off;
		}
		if (!uc_is_general_category(*uc, UC_CATEGORY_L) &&
		    !uc_is_general_category(*uc, UC_CATEGORY_Nd))
			return off;
		off += (size_t)*n;
	}
	return off;
}

enum username_status
username_check(struct span name)
{
	ucs4_t uc;
	int n;

	if (name.len < 1 || name.len > USER_MAX)
		return USERNAME_BAD_LENGTH;
	return first_bad(name, &uc, &n) == name.len ? USERNAME_OK :
	    USERNAME_BAD_CHAR;
}

enum username_status
username_prepare(struct span typed, struct buf *out, int *normalised)
{
	enum username_status st = username_check(typed);
	uint8_t *nfc;
	size_t len = 0;

	*normalised = 0;
	/* Anything longer cannot shrink to a name (NFC shrinks by far less). */
	if (st != USERNAME_OK && typed.len > 0 && typed.len <= 4 * USER_MAX &&
	    u8_check((const uint8_t *)typed.p, typed.len) == NULL &&
	    (nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)typed.p,
	    typed.len, NULL, &len)) != NULL) {
		if (username_check((struct span){ (char *)nfc, len }) ==
		    USERNAME_OK) {
			buf_append(out, nfc, len);
			*normalised = 1;
			free(nfc);
			return USERNAME_OK;
		}
		free(nfc);
	}
	buf_append(out, typed.p, typed.len);
	return st;
}

void
username_explain(struct span name, enum username_status st, struct buf *out)
{
	ucs4_t uc;
	size_t off;
	int n;

	switch (st) {
	case USERNAME_OK:
		break;
	case USERNAME_BAD_LENGTH:
		if (name.len == 0) {
			buf_appendf(out, "the name is empty; it must be 1 to "
			    "%d bytes of letters and digits", USER_MAX);
			break;
		}
		buf_appendf(out, "names are counted in bytes (UTF-8) and may "
		    "have at most %d; this one has %zu bytes", USER_MAX, name.len);
		if (u8_check((const uint8_t *)name.p, name.len) == NULL &&
		    u8_mbsnlen((const uint8_t *)name.p, name.len) != name.len)
			buf_appendf(out, " in %zu characters (a letter beyond "
			    "ASCII takes 2 to 4 bytes)",
			    u8_mbsnlen((const uint8_t *)name.p, name.len));
		break;
	case USERNAME_BAD_CHAR:
		off = first_bad(name, &uc, &n);
		if (off >= name.len)
			break;
		if (n == 0) {
			buf_appendf(out, "byte %zu (0x%02x) is not UTF-8 text",
			    off + 1, (unsigned char)name.p[off]);
			break;
		}
		buf_append(out, "'", 1);
		text_escape(out, (struct span){ name.p + off, (size_t)n });
		buf_appendf(out, "' (U+%04X) is neither a letter nor a digit; "
		    "names are letters and digits only", (unsigned)uc);
		break;
	}
}

/* The code points of s, at most max of them (s is a name: short). */
static size_t
code_points(struct span s, ucs4_t *v, size_t max)
{
	size_t off = 0, n = 0;
	int len;

	while (off < s.len && n < max) {
		len = u8_mbtoucr(&v[n], (const uint8_t *)s.p + off, s.len - off);
		if (len <= 0) {
			v[n] = 0xfffd;
			len = 1;
		}
		off += (size_t)len;
		n++;
	}
	return n;
}

static void
list_code_points(const ucs4_t *v, size_t n, struct buf *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf_appendf(out, "%sU+%04X", i > 0 ? " " : "", (unsigned)v[i]);
}

void
username_nfc_changes(struct span typed, struct span nfc, struct buf *out)
{
	/* A name that NFC can shrink to 20 bytes has at most 80 bytes. */
	ucs4_t a[4 * USER_MAX], b[4 * USER_MAX];
	size_t na, nb, pre = 0, suf = 0;

	na = code_points(typed, a, sizeof a / sizeof a[0]);
	nb = code_points(nfc, b, sizeof b / sizeof b[0]);
	while (pre < na && pre < nb && a[pre] == b[pre])
		pre++;
	while (suf < na - pre && suf < nb - pre &&
	    a[na - 1 - suf] == b[nb - 1 - suf])
		suf++;
	list_code_points(a + pre, na - pre - suf, out);
	buf_appendf(out, " became ");
	list_code_points(b + pre, nb - pre - suf, out);
}
