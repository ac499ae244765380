/* text.c - escaping and trimming (see text.h). */
#include "text.h"

void
text_escape(struct buf *b, struct span s)
{
	size_t i, start = 0, skip;
	unsigned char c, c1;
	char shown[4];

	for (i = 0; i < s.len; i += skip) {
		c = (unsigned char)s.p[i];
		skip = 1;
		if (c >= 0x20 && c != 0x7f && c != 0xc2)
			continue;
		if (c == 0xc2) {
			/*
			 * U+0080-U+009F are the C1 controls (CSI among them),
			 * which some terminals obey: shown as M-^X, like cat -v.
			 */
			c1 = i + 1 < s.len ? (unsigned char)s.p[i + 1] : 0;
			if (c1 < 0x80 || c1 > 0x9f)
				continue;
			buf_append(b, s.p + start, i - start);
			shown[0] = 'M';
			shown[1] = '-';
			shown[2] = '^';
			shown[3] = (char)(c1 - 0x80 + '@');
			buf_append(b, shown, 4);
			skip = 2;
		} else {
			buf_append(b, s.p + start, i - start);
			shown[0] = '^';
			shown[1] = c == 0x7f ? '?' : (char)(c + '@');
			buf_append(b, shown, 2);
		}
		start = i + skip;
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
