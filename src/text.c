/* text.c - escaping and trimming (see text.h). */
#include "text.h"

void
text_escape(struct buf *b, struct span s)
{
	size_t i, start = 0;
	unsigned char c;
	char caret[2];

	for (i = 0; i < s.len; i++) {
		c = (unsigned char)s.p[i];
		if (c >= 0x20 && c != 0x7f)
			continue;
		buf_append(b, s.p + start, i - start);
		caret[0] = '^';
		caret[1] = c == 0x7f ? '?' : (char)(c + '@');
		buf_append(b, caret, 2);
		start = i + 1;
	}
	buf_append(b, s.p + start, s.len - start);
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
