/*
 * fuzz_web.c - what the web front end makes of a browser's bytes once
 * libmicrohttpd and wslay have split them (web_msg.h): the header values
 * of a WebSocket handshake, the page's messages, the lines typed, and the
 * chat text turned into JSON for the page.  The input is cut at NUL
 * bytes into fields; each function gets the fields it takes.  Whatever
 * comes in, nothing may crash, and the JSON text must be valid UTF-8
 * with no raw quote, backslash or control in it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

#include "buf.h"
#include "command.h"
#include "log.h"
#include "web_log.h"
#include "web_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct span
field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *start = *p, *nul;

	nul = memchr(start, 0, (size_t)(end - start));
	if (nul == NULL) {
		*p = end;
		return (struct span){ (const char *)start,
		    (size_t)(end - start) };
	}
	*p = nul + 1;
	return (struct span){ (const char *)start, (size_t)(nul - start) };
}

/* The body of a JSON string: no raw quote, control, or lone backslash. */
static void
check_json(const struct buf *b)
{
	size_t i;

	if (b->len > 0 && u8_check((const uint8_t *)b->data, b->len) != NULL)
		abort();
	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if (c < 0x20 || c == '"')
			abort();
		if (c == '\\') {
			if (i + 1 >= b->len || !strchr("\"\\u", b->data[i + 1]))
				abort();
			i++;
		}
	}
}

/* The log: each byte of ops adds a line (a slice of text), reads one, or
 * replays from a line; every message read back must be valid UTF-8. */
static void
drive_log(struct span ops, struct span text)
{
	struct web_log l;
	struct buf out = BUF_INIT;
	size_t i, off = 0, n;
	unsigned char op;

	web_log_init(&l, 256);
	for (i = 0; i < ops.len; i++) {
		op = (unsigned char)ops.p[i];
		switch (op % 3) {
		case 0:
			n = text.len - off < (size_t)(op >> 2) ?
			    text.len - off : (size_t)(op >> 2);
			web_log_add(&l, (enum web_line_kind)(op % 5), i,
			    (struct span){ text.p + off, n });
			off = text.len > 0 ? (off + n) % text.len : 0;
			break;
		case 1:
			if (web_log_next(&l, 0, &out) && u8_check(
			    (const uint8_t *)out.data, out.len) != NULL)
				abort();
			break;
		default:
			web_log_seen(&l, op >> 2);
			break;
		}
		if (l.buf.len - l.start > 256 && l.first_seq < l.next_seq - 1)
			abort();
	}
	web_log_free(&l);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct span a = field(&p, end), b = field(&p, end), c = field(&p, end);
	char accept[WEB_ACCEPT_LEN + 1], allowed[256];
	struct buf json = BUF_INIT, scratch = BUF_INIT;
	struct command cmd;
	struct web_in in;
	struct span who;
	int join;
	size_t n;

	log_set_output(NULL);
	(void)web_has_token(a, "upgrade");
	n = c.len < sizeof allowed - 1 ? c.len : sizeof allowed - 1;
	memcpy(allowed, c.p, n);
	allowed[n] = '\0';
	(void)web_origin_ok(a, b, allowed);
	if (web_ws_accept(a, accept) == 0 && strlen(accept) != WEB_ACCEPT_LEN)
		abort();

	web_in_parse(a, &in);
	if (in.kind == WEB_IN_LINE || in.kind == WEB_IN_LOGIN ||
	    in.kind == WEB_IN_RESUME) {
		if (in.arg.p < a.p || in.arg.p + in.arg.len > a.p + a.len)
			abort();
	}
	web_line_parse(b, &scratch, &cmd);
	if (cmd.kind == CMD_SHUTDOWN)
		abort();
	(void)web_line_classify(b, &who, &join);
	if (join >= 0 && (who.p < b.p || who.p + who.len > b.p + b.len))
		abort();
	web_json_text(&json, b);
	check_json(&json);
	drive_log(c, b);
	buf_free(&json);
	buf_free(&scratch);
	return 0;
}
