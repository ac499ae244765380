/*
 * web_msg.h - what the web front end (PROTOCOL.md §9) makes of the bytes a
 * browser chose, and what it sends back: the header values of a WebSocket
 * handshake, the messages of the page, the lines of a typed command, and
 * chat text as JSON for the page.  Pure: no I/O, no state; the libraries
 * (libmicrohttpd, wslay) have already split the bytes into headers and
 * messages, and every function here takes what they gave as hostile.
 *
 * The page's messages, one per WebSocket text message:
 *	login NAME		log in as NAME
 *	resume TOKEN SEQ	take the session of TOKEN back, having seen
 *				its lines up to SEQ (0: none)
 *	line TEXT		a line typed: said, or a /command
 * The front end's messages are JSON objects; see web_session.h.
 */
#ifndef RPCCHAT_WEB_MSG_H
#define RPCCHAT_WEB_MSG_H

#include <stdint.h>

#include "buf.h"
#include "command.h"
#include "span.h"

/* A session token: 16 random bytes, as 32 lowercase hex digits. */
#define WEB_TOKEN_LEN	32
/* Sec-WebSocket-Accept: base64 of a SHA-1, 28 characters. */
#define WEB_ACCEPT_LEN	28

/*
 * Whether the comma-separated header value holds token, compared without
 * regard to ASCII case ("Connection: keep-alive, Upgrade").
 */
int	web_has_token(struct span value, const char *token);

/*
 * Whether a WebSocket handshake from origin may be taken: origin is
 * "http://" or "https://" followed by host (the Host header, the same
 * origin) without regard to case, or is one of the comma-separated
 * origins in allowed (--web-origin; NULL or empty: none).  An origin that
 * is missing, "null" or empty is refused.
 */
int	web_origin_ok(struct span origin, struct span host, const char *allowed);

/*
 * Sec-WebSocket-Accept for the client's Sec-WebSocket-Key (RFC 6455
 * §4.2.2), NUL-terminated in out; -1 when the key is not the base64 of
 * 16 bytes.
 */
int	web_ws_accept(struct span key, char out[WEB_ACCEPT_LEN + 1]);

enum web_in_kind {
	WEB_IN_BAD,
	WEB_IN_LOGIN,		/* arg: the name */
	WEB_IN_RESUME,		/* arg: the token; seq */
	WEB_IN_LINE		/* arg: the line */
};

struct web_in {
	enum web_in_kind kind;
	struct span	 arg;
	uint64_t	 seq;
};

/* Parses one message of the page; the spans point into msg. */
void	web_in_parse(struct span msg, struct web_in *);

/*
 * A line typed on the page (PROTOCOL.md §9): text not starting with '/'
 * is said, trimmed; "/tell USER TEXT" (or "/msg"), "/list", "/help" and
 * "/quit" are the commands of PROTOCOL.md §5.2.  A web page may not stop
 * the server: "/shutdown" is an unknown command here.  scratch holds
 * the line the spans of cmd point into.
 */
void	web_line_parse(struct span line, struct buf *scratch,
	    struct command *cmd);

/* The help of the page, one command a line. */
extern const char web_help[];

enum web_line_kind {
	WEB_LINE_MESSAGE,	/* "A says T" */
	WEB_LINE_PRIVATE,	/* "A tells you T" */
	WEB_LINE_NOTICE,	/* "*** ..." from the server */
	WEB_LINE_ERROR,		/* a command of ours failed */
	WEB_LINE_INFO		/* the front end speaking: help, lists, state */
};

/*
 * What a line from CheckMessages is, and, for "*** NAME has logged in"
 * or "... has logged out", the name in *who (join set to 1 or 0; -1 for
 * neither).
 */
enum web_line_kind web_line_classify(struct span text, struct span *who,
	    int *join);

/*
 * Appends s as the body of a JSON string (no quotes): shown as the
 * terminal shows it (text_escape: controls, C1 and bidi controls
 * visible), then every byte that is not UTF-8 as \xHH, so that what the
 * page gets is valid UTF-8 and can only ever be text.
 */
void	web_json_text(struct buf *, struct span s);

/* The name of a line kind for the page: "message", "private", ... */
const char *web_line_kind_name(enum web_line_kind);

#endif
