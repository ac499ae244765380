/* text.c - escaping and trimming (see text.h). */
#include <stdint.h>
#include <stdio.h>
#include <unistr.h>

#include "text.h"

/* Bidirectional embeddings, overrides and isolates (PROTOCOL.md §5.4). */
static int
is_bidi_control(ucs4_t uc)
{
	return (uc >= 0x202a && uc <= 0x202e) || (uc >= 0x2066 && uc <= 0x2069);
}

/*
 * How the byte or character at p is shown, in shown (at most 10 bytes);
 * its length, or 0 to show it as it is.  *skip is how many input bytes it
 * covers.
 */
static size_t
shown_as(const char *p, size_t n, char shown[16], size_t *skip)
{
	unsigned char c = (unsigned char)p[0];
	ucs4_t uc;
	int len;

	*skip = 1;
	if (c < 0x20 || c == 0x7f) {
		shown[0] = '^';
		shown[1] = c == 0x7f ? '?' : (char)(c + '@');
		return 2;
	}
	if (c < 0x80)
		return 0;
	len = u8_mbtoucr(&uc, (const uint8_t *)p, n);
	if (len < 1) {
		/* Not UTF-8: a raw C1 control (0x9b is CSI) is shown as hex. */
		if (c > 0x9f)
			return 0;
		return (size_t)snprintf(shown, 16, "\\x%02X", c);
	}
	*skip = (size_t)len;
	if (uc <= 0x9f) {
		/* U+0080-U+009F, the C1 controls: M-^X, like cat -v. */
		shown[0] = 'M';
		shown[1] = '-';
		shown[2] = '^';
		shown[3] = (char)(uc - 0x80 + '@');
		return 4;
	}
	if (is_bidi_control(uc))
		return (size_t)snprintf(shown, 16, "<U+%04X>", (unsigned)uc);
	return 0;
}

void
text_escape(struct buf *b, struct span s)
{
	size_t i, start = 0, skip, n;
	char shown[16];

	/* Callers may hand data and len to memchr or fwrite: never NULL. */
	buf_reserve(b, s.len + 1);
	for (i = 0; i < s.len; i += skip) {
		if ((unsigned char)s.p[i] >= 0x20 &&
		    (unsigned char)s.p[i] < 0x7f) {
			skip = 1;
			continue;
		}
		if ((n = shown_as(s.p + i, s.len - i, shown, &skip)) == 0)
			continue;
		buf_append(b, s.p + start, i - start);
		buf_append(b, shown, n);
		start = i + skip;
	}
	buf_append(b, s.p + start, s.len - start);
	/* A NUL after the text, not counted: usable as a C string. */
	*buf_reserve(b, 1) = '\0';
}

int
text_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

struct span
text_trim(struct span s)
{
	while (s.len > 0 && text_is_space(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len > 0 && text_is_space(s.p[s.len - 1]))
		s.len--;
	return s;
}
