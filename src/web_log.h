/*
 * web_log.h - the lines of a web session (PROTOCOL.md §9), kept for its page:
 * what a reload shows again and what a page that reads slowly has yet to
 * get, bounded in bytes.
 *
 * Each line has a sequence number (from 1), so a page that comes back
 * says what it has seen and gets what follows.  The oldest lines go first
 * when the bytes run out; lines that go before the page was sent them are
 * counted, and the page is told how many.  A line is kept as its text,
 * kind and time; the JSON the page gets is made as it takes the line.
 * Pure: no I/O, no clock.
 */
#ifndef RPCCHAT_WEB_LOG_H
#define RPCCHAT_WEB_LOG_H

#include <stdint.h>

#include "buf.h"
#include "span.h"
#include "web_msg.h"

struct web_log {
	struct buf	 buf;		/* line_head + text, oldest first */
	size_t		 start;		/* where the oldest kept line is */
	size_t		 max;		/* bytes kept at most */
	uint64_t	 first_seq;	/* of the line at start */
	uint64_t	 next_seq;	/* of the next line added */
	uint64_t	 send_seq;	/* the next line for the page */
	size_t		 send_off;	/* where it is */
	uint64_t	 missed;	/* dropped before they were sent */
};

void	web_log_init(struct web_log *, size_t max);
void	web_log_free(struct web_log *);
/*
 * Adds a line said at `at` (milliseconds since the epoch).  The newest
 * line is always kept, even alone beyond max.
 */
void	web_log_add(struct web_log *, enum web_line_kind, long long at,
	    struct span text);
/* The page has seen the lines up to seq: it is sent what follows. */
void	web_log_seen(struct web_log *, uint64_t seq);
/*
 * The next message for the page into out (cleared): first, if lines were
 * dropped unsent, a line saying how many (at `now`), then the next line.
 * 0 when the page has everything.
 */
int	web_log_next(struct web_log *, long long now, struct buf *out);

#endif
