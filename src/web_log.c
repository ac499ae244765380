/* web_log.c - a web session's lines, bounded in bytes (see web_log.h). */
#include <string.h>

#include "web_log.h"

struct line_head {
	uint32_t	len;		/* of the text that follows */
	uint32_t	kind;
	long long	at;
};

void
web_log_init(struct web_log *l, size_t max)
{
	memset(l, 0, sizeof *l);
	l->max = max;
	l->first_seq = l->next_seq = l->send_seq = 1;
}

void
web_log_free(struct web_log *l)
{
	buf_free(&l->buf);
}

static size_t
size_at(const struct web_log *l, size_t off)
{
	struct line_head h;

	memcpy(&h, l->buf.data + off, sizeof h);
	return sizeof h + h.len;
}

static void
drop_oldest(struct web_log *l)
{
	size_t n = size_at(l, l->start);

	if (l->send_seq == l->first_seq) {
		l->missed++;
		l->send_seq++;
		l->send_off += n;
	}
	l->start += n;
	l->first_seq++;
}

/* Keeps the dead head of the buffer from outgrowing what is live. */
static void
compact(struct web_log *l)
{
	if (l->start < 65536 || l->start < l->buf.len / 2)
		return;
	memmove(l->buf.data, l->buf.data + l->start, l->buf.len - l->start);
	l->buf.len -= l->start;
	l->send_off -= l->start;
	l->start = 0;
}

void
web_log_add(struct web_log *l, enum web_line_kind kind, long long at,
    struct span text)
{
	struct line_head h = { (uint32_t)text.len, kind, at };

	buf_append(&l->buf, &h, sizeof h);
	buf_append(&l->buf, text.p, text.len);
	l->next_seq++;
	while (l->buf.len - l->start > l->max &&
	    l->first_seq < l->next_seq - 1)
		drop_oldest(l);
	compact(l);
}

void
web_log_seen(struct web_log *l, uint64_t seq)
{
	l->send_seq = l->first_seq;
	l->send_off = l->start;
	l->missed = 0;
	while (l->send_seq <= seq && l->send_seq < l->next_seq) {
		l->send_off += size_at(l, l->send_off);
		l->send_seq++;
	}
}

static void
append_str(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* Decimal digits without printf: a Say to a thousand tabs is a thousand. */
static void
append_num(struct buf *b, unsigned long long v)
{
	char d[24];
	size_t i = sizeof d;

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	buf_append(b, d + i, sizeof d - i);
}

int
web_log_next(struct web_log *l, long long now, struct buf *out)
{
	struct line_head h;
	struct span text, who;
	int join;

	buf_clear(out);
	if (l->missed > 0) {
		buf_appendf(out, "{\"t\":\"line\",\"seq\":0,\"at\":%lld,"
		    "\"k\":\"info\",\"text\":\"*** %llu line%s came faster "
		    "than this page read them and %s not kept\"}", now,
		    (unsigned long long)l->missed, l->missed == 1 ? "" : "s",
		    l->missed == 1 ? "was" : "were");
		l->missed = 0;
		return 1;
	}
	if (l->send_seq >= l->next_seq)
		return 0;
	memcpy(&h, l->buf.data + l->send_off, sizeof h);
	text = (struct span){ l->buf.data + l->send_off + sizeof h, h.len };
	append_str(out, "{\"t\":\"line\",\"seq\":");
	append_num(out, l->send_seq);
	append_str(out, ",\"at\":");
	append_num(out, h.at > 0 ? (unsigned long long)h.at : 0);
	append_str(out, ",\"k\":\"");
	append_str(out, web_line_kind_name((enum web_line_kind)h.kind));
	append_str(out, "\",\"text\":\"");
	web_json_text(out, text);
	buf_append(out, "\"", 1);
	if (web_line_classify(text, &who, &join) == WEB_LINE_NOTICE &&
	    join >= 0) {
		append_str(out, join ? ",\"join\":\"" : ",\"leave\":\"");
		web_json_text(out, who);
		buf_append(out, "\"", 1);
	}
	buf_append(out, "}", 1);
	l->send_off += sizeof h + h.len;
	l->send_seq++;
	return 1;
}
