/*
 * log.h - the server's log: one line per event on stderr, prefixed with
 * the local time as HH:MM:SS (SPEC §3.3).  Bytes a client chose are shown
 * with control characters escaped, so a log line is always one line.
 */
#ifndef RPCCHAT_LOG_H
#define RPCCHAT_LOG_H

#include <stdio.h>

/* Where lines go; NULL silences the log (tests, fuzzing). */
void	log_set_output(FILE *);
void	log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
