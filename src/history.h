/*
 * history.h - the client's line history file, shared by every client a
 * person runs.
 *
 * Each client appends the lines it is given, one write per line under an
 * exclusive flock(2), and trims the file to its last max lines in the same
 * locked step, so clients running at once lose none of each other's lines
 * (a whole-file save by each would keep only the last saver's).
 *
 * The file is plain text, one line each.  A file written by libedit's
 * write_history (a "_HiStOrY_V2_" first line, bytes escaped as \ooo) is
 * read, and rewritten plain at the next append.  No line holds '\n'.
 */
#ifndef RPCCHAT_HISTORY_H
#define RPCCHAT_HISTORY_H

#include <stddef.h>

/* Bounds of the file: lines, and bytes (a line may be a 64 KiB message). */
#define HISTORY_MAX_LINES	1000
#define HISTORY_MAX_BYTES	(1u << 20)

typedef void history_line_fn(void *arg, const char *line);

/*
 * Calls fn for each line of the file, oldest first (at most max).
 * Returns 0, or -1 with errno set; a missing file is 0 lines.
 */
int	history_load(const char *path, size_t max, history_line_fn *fn,
	    void *arg);

/*
 * Appends line (which must not hold '\n') and trims the file to its last
 * max lines, under the lock.  Created 0600.  Returns 0, or -1 with errno.
 */
int	history_append(const char *path, const char *line, size_t max);

#endif
