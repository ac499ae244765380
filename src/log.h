/*
 * log.h - the server's log: one line per event on stderr, prefixed with
 * the local time as HH:MM:SS (PROTOCOL.md §3.3).  Bytes a client chose are
 * shown escaped by text_escape, so a log line is always one whole line.
 *
 * Writing the log never blocks the server: lines go to a bounded buffer,
 * written as stderr accepts them (non-blocking, flushed by the event loop
 * when it is writable).  Lines that do not fit are lost and counted, and
 * the count is logged once the buffer drains.  Lines a client causes are
 * also limited to LOG_CLIENT_PER_SEC a second, the rest counted as
 * suppressed.
 */
#ifndef RPCCHAT_LOG_H
#define RPCCHAT_LOG_H

#include <stdio.h>

#include "buf.h"
#include "span.h"

/* Bytes of log waiting for stderr at most. */
#define LOG_BUF_MAX		(16 * 1024)
/* Lines caused by clients, per second, before they are suppressed. */
#define LOG_CLIENT_PER_SEC	50

struct ae_loop;

/* Where lines go; NULL silences the log (tests, fuzzing). */
void	log_set_output(FILE *);
/*
 * From now on the log does not block: stderr is written without blocking
 * (a non-blocking descriptor of its own where the system gives one) and
 * what is left is written when the loop sees it writable.  If the loop
 * cannot watch it, what is left is dropped and counted instead.
 */
void	log_attach(struct ae_loop *);
/* One last try to write what is left, without blocking; then detach. */
void	log_detach(void);
/*
 * Reports the lines suppressed in a past second; call from the loop.
 * Returns when it next needs to run (clock_ms() time), or -1.
 */
long long log_tick(void);

/* An event line: logins, logouts, shutdown; never rate-limited. */
void	log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line a client caused (rejected requests, closed connections). */
void	log_client(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/*
 * s escaped for a log line, its first max bytes at most (then "..."),
 * as a C string in b (cleared first): it holds no NUL, so "%s" shows it
 * whole.
 */
const char *log_quote(struct buf *b, struct span s, size_t max);

#endif
