/* web_msg.c - a browser's bytes, read; the page's text, written (web_msg.h). */
#include <stdio.h>
#include <string.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <unistr.h>

#include "text.h"
#include "web_msg.h"

/* RFC 6455 §1.3: the key's answer is SHA-1(key + this), in base64. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const char web_help[] =
	"TEXT                say TEXT to everyone logged in\n"
	"/tell USER TEXT     send TEXT to USER alone (also /msg)\n"
	"/list               show who is logged in\n"
	"/help               show this list\n"
	"/quit               log out\n";

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* ASCII, without regard to case. */
static int
span_caseeq(struct span a, struct span b)
{
	size_t i;

	if (a.len != b.len)
		return 0;
	for (i = 0; i < a.len; i++)
		if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
			return 0;
	return 1;
}

int
web_has_token(struct span value, const char *token)
{
	struct span want = span_cstr(token), item;
	size_t i = 0, start;

	while (i <= value.len) {
		start = i;
		while (i < value.len && value.p[i] != ',')
			i++;
		item = text_trim((struct span){ value.p + start, i - start });
		if (span_caseeq(item, want))
			return 1;
		i++;
	}
	return 0;
}

/* origin is "http://HOST" or "https://HOST". */
static int
same_origin(struct span origin, struct span host)
{
	static const char *const schemes[] = { "http://", "https://" };
	struct span scheme;
	size_t i;

	if (host.len == 0)
		return 0;
	for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		scheme = span_cstr(schemes[i]);
		if (origin.len == scheme.len + host.len &&
		    span_caseeq((struct span){ origin.p, scheme.len }, scheme) &&
		    span_caseeq((struct span){ origin.p + scheme.len,
		    host.len }, host))
			return 1;
	}
	return 0;
}

int
web_origin_ok(struct span origin, struct span host, const char *allowed)
{
	struct span list, item;
	size_t i = 0, start;

	if (origin.len == 0 || span_eq(origin, SPAN_LIT("null")))
		return 0;
	if (same_origin(origin, host))
		return 1;
	if (allowed == NULL)
		return 0;
	list = span_cstr(allowed);
	while (i <= list.len) {
		start = i;
		while (i < list.len && list.p[i] != ',')
			i++;
		item = text_trim((struct span){ list.p + start, i - start });
		/* Origins are compared as the browser serialises them. */
		if (item.len > 0 && span_caseeq(item, origin))
			return 1;
		i++;
	}
	return 0;
}

int
web_ws_accept(struct span key, char out[WEB_ACCEPT_LEN + 1])
{
	struct base64_decode_ctx b64;
	struct sha1_ctx sha;
	uint8_t raw[BASE64_DECODE_LENGTH(24)], digest[SHA1_DIGEST_SIZE];
	size_t n = sizeof raw;

	/* 16 bytes are 24 characters of base64, "==" included. */
	if (key.len != 24)
		return -1;
	base64_decode_init(&b64);
	if (!base64_decode_update(&b64, &n, raw, key.len,
	    (const char *)key.p) || !base64_decode_final(&b64) || n != 16)
		return -1;
	sha1_init(&sha);
	sha1_update(&sha, key.len, (const uint8_t *)key.p);
	sha1_update(&sha, sizeof ws_guid - 1, (const uint8_t *)ws_guid);
	sha1_digest(&sha, sizeof digest, digest);
	base64_encode_raw(out, sizeof digest, digest);
	out[WEB_ACCEPT_LEN] = '\0';
	return 0;
}

/* "WORD " at the start of msg: the rest in *rest. */
static int
starts(struct span msg, const char *word, struct span *rest)
{
	size_t n = strlen(word);

	if (msg.len <= n || memcmp(msg.p, word, n) != 0 || msg.p[n] != ' ')
		return 0;
	*rest = (struct span){ msg.p + n + 1, msg.len - n - 1 };
	return 1;
}

static int
is_hex_token(struct span t)
{
	size_t i;

	if (t.len != WEB_TOKEN_LEN)
		return 0;
	for (i = 0; i < t.len; i++)
		if (!((t.p[i] >= '0' && t.p[i] <= '9') ||
		    (t.p[i] >= 'a' && t.p[i] <= 'f')))
			return 0;
	return 1;
}

/* A decimal number of at most 19 digits (it fits in 63 bits). */
static int
decimal(struct span s, uint64_t *v)
{
	size_t i;

	if (s.len == 0 || s.len > 19)
		return 0;
	*v = 0;
	for (i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return 0;
		*v = *v * 10 + (uint64_t)(s.p[i] - '0');
	}
	return 1;
}

void
web_in_parse(struct span msg, struct web_in *in)
{
	struct span rest;

	memset(in, 0, sizeof *in);
	in->kind = WEB_IN_BAD;
	if (starts(msg, "login", &rest)) {
		in->kind = WEB_IN_LOGIN;
		in->arg = rest;
	} else if (starts(msg, "line", &rest)) {
		in->kind = WEB_IN_LINE;
		in->arg = rest;
	} else if (starts(msg, "resume", &rest)) {
		if (rest.len < WEB_TOKEN_LEN + 2 || rest.p[WEB_TOKEN_LEN] != ' ')
			return;
		in->arg = (struct span){ rest.p, WEB_TOKEN_LEN };
		if (!is_hex_token(in->arg) || !decimal((struct span){
		    rest.p + WEB_TOKEN_LEN + 1, rest.len - WEB_TOKEN_LEN - 1 },
		    &in->seq))
			return;
		in->kind = WEB_IN_RESUME;
	}
}

void
web_line_parse(struct span line, struct buf *scratch, struct command *cmd)
{
	struct span t = text_trim(line);

	buf_clear(scratch);
	if (t.len == 0 || t.p[0] != '/') {
		memset(cmd, 0, sizeof *cmd);
		cmd->kind = t.len == 0 ? CMD_NONE : CMD_SAY;
		cmd->message = t;
		return;
	}
	t.p++;
	t.len--;
	/* "/msg" is "/tell" (the name IRC gave it). */
	if (t.len >= 3 && memcmp(t.p, "msg", 3) == 0 &&
	    (t.len == 3 || text_is_space(t.p[3]))) {
		buf_append(scratch, "tell", 4);
		buf_append(scratch, t.p + 3, t.len - 3);
	} else
		buf_append(scratch, t.p, t.len);
	command_parse((struct span){ scratch->data, scratch->len }, cmd);
	if (cmd->kind == CMD_SHUTDOWN) {
		cmd->kind = CMD_UNKNOWN;
		cmd->word = SPAN_LIT("shutdown");
	}
}

static int
ends_with(struct span s, struct span tail)
{
	return s.len >= tail.len &&
	    memcmp(s.p + s.len - tail.len, tail.p, tail.len) == 0;
}

/* Whether s holds needle after at least one byte. */
static int
holds_after_first(struct span s, struct span needle)
{
	size_t i;

	for (i = 1; i + needle.len <= s.len; i++)
		if (memcmp(s.p + i, needle.p, needle.len) == 0)
			return 1;
	return 0;
}

enum web_line_kind
web_line_classify(struct span text, struct span *who, int *join)
{
	static const struct span in = SPAN_LIT(" has logged in"),
	    out = SPAN_LIT(" has logged out"), stars = SPAN_LIT("*** ");
	struct span body;

	*join = -1;
	who->p = text.p;
	who->len = 0;
	if (text.len >= stars.len && memcmp(text.p, stars.p, stars.len) == 0) {
		body = (struct span){ text.p + stars.len, text.len - stars.len };
		if (ends_with(body, in) && body.len > in.len) {
			*who = (struct span){ body.p, body.len - in.len };
			*join = 1;
		} else if (ends_with(body, out) && body.len > out.len) {
			*who = (struct span){ body.p, body.len - out.len };
			*join = 0;
		}
		return WEB_LINE_NOTICE;
	}
	if (holds_after_first(text, SPAN_LIT(" tells you ")))
		return WEB_LINE_PRIVATE;
	return WEB_LINE_MESSAGE;
}

void
web_json_text(struct buf *b, struct span s)
{
	struct buf shown = BUF_INIT;
	const uint8_t *p;
	size_t i = 0;
	ucs4_t uc;
	int n;

	text_escape(&shown, s);
	p = (const uint8_t *)shown.data;
	while (i < shown.len) {
		if (p[i] == '"' || p[i] == '\\') {
			buf_append(b, "\\", 1);
			buf_append(b, &p[i++], 1);
		} else if (p[i] < 0x20) {
			/* text_escape leaves none; JSON would break on one. */
			buf_appendf(b, "\\u%04x", p[i++]);
		} else if (p[i] < 0x80) {
			buf_append(b, &p[i++], 1);
		} else if ((n = u8_mbtoucr(&uc, p + i, shown.len - i)) > 0) {
			buf_append(b, &p[i], (size_t)n);
			i += (size_t)n;
		} else
			buf_appendf(b, "\\\\x%02X", p[i++]);
	}
	buf_free(&shown);
}

const char *
web_line_kind_name(enum web_line_kind k)
{
	switch (k) {
	case WEB_LINE_MESSAGE:
		return "message";
	case WEB_LINE_PRIVATE:
		return "private";
	case WEB_LINE_NOTICE:
		return "notice";
	case WEB_LINE_ERROR:
		return "error";
	case WEB_LINE_INFO:
		break;
	}
	return "info";
}
