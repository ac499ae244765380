/*
 * ui.h - what the client shows and reads (PROTOCOL.md §5.4).
 *
 * Two modes.  On a terminal (stdin and stdout both terminals): libedit,
 * driven a key at a time from the client's poll loop, a prompt, history,
 * completion, optional colour, and lines printed above the line being
 * typed with that line and its cursor put back.  Otherwise (pipes,
 * scripts, tests): no prompt, no escape codes, input read with read()
 * into a bounded line buffer, every output line flushed at once.
 *
 * Either way a line is at most 1 MiB (a longer one is refused, said on
 * stderr), and a line is run the same whichever way it came: at a
 * terminal one longer than the editor holds (a paste) is kept aside to
 * its end and run whole.
 *
 * There is one terminal, so there is one ui: the functions work on
 * file-level state set up by ui_start.
 */
#ifndef RPCCHAT_UI_H
#define RPCCHAT_UI_H

#include <stddef.h>

#include "span.h"

/* A line read, at a terminal as in a pipe, is at most this long. */
#define UI_LINE_MAX	(1u << 20)

/*
 * What a line is decides where it goes (PROTOCOL.md §5.4): what a script reads
 * to stdout, every failure and warning to stderr.
 */
enum ui_kind {
	UI_INFO,	/* stdout: the client's own lines: welcome, list, help */
	UI_NOTICE,	/* stdout: about the connection and the session,
			   after the time as messages are */
	UI_ERROR,	/* stderr: a command or call that failed */
	UI_ERROR_HELP,	/* stderr: what explains an error (the help) */
	UI_WARNING,	/* stderr: not a failure, but worth knowing */
	UI_MESSAGE,	/* stdout: a chat message, coloured by its shape, after
			   the time when timestamps are on */
	UI_MESSAGE_FAILED /* a chat message that tells one of our commands
			   failed ("*** No such user: x"): stderr in a pipe,
			   a UI_MESSAGE at a terminal */
};

/*
 * The user names to complete after "tell ": sets *names to an array the
 * client keeps until the next call, and returns how many (0: unknown).
 */
typedef size_t ui_users_fn(void *arg, const struct span **names);
/*
 * One line typed, without its newline.  Nonzero stops the reading: the
 * lines after it are left unread (the client is leaving).
 */
typedef int ui_line_fn(void *arg, struct span line);
/* A line too long to take was refused (said on stderr): a failure. */
typedef void ui_refused_fn(void *arg);

struct ui_opts {
	const char	*user;
	int		 terminal;	/* line editing; see ui_want_terminal */
	int		 color;
	int		 history;
	int		 timestamps;	/* HH:MM before each UI_MESSAGE */
	ui_users_fn	*users;
	ui_refused_fn	*refused;
	void		*arg;		/* for users and refused */
};

/* Whether stdin and stdout are both terminals. */
int	ui_want_terminal(void);
/* Whether colour is allowed at all: NO_COLOR unset or empty, TERM not
 * dumb. */
int	ui_color_allowed(void);
/*
 * Makes the input the given lines, as if a pipe held them (-c): standard
 * input is replaced and never read.  Before ui_start; -1 with errno set.
 */
int	ui_input_lines(const char *const *lines, size_t n);

void	ui_start(const struct ui_opts *);
/* Whether ui_start chose the terminal. */
int	ui_is_terminal(void);
/* Clears the input line, saves history, gives the terminal back. */
void	ui_stop(void);

/* The descriptor to poll for input. */
int	ui_input_fd(void);
/*
 * Reads what the input has ready and calls fn for every complete line.
 * Returns 1 at the end of input (Ctrl-D on an empty line, EOF of a pipe,
 * a terminal that hung up), else 0.  A pipe's last line without a
 * newline is still delivered.
 */
int	ui_read(ui_line_fn *fn, void *arg);

/*
 * Prints text as its own line(s), above the input line on a terminal.
 * Network bytes must come as UI_MESSAGE or through ui_print_span, which
 * escape them; ui_printf is for the client's own words.
 */
void	ui_print_span(enum ui_kind, struct span);
void	ui_printf(enum ui_kind, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Ctrl-C on a terminal: a half-typed line is dropped and 1 returned (like
 * a shell); on an empty line 0 is returned and the caller leaves.
 */
int	ui_interrupt(void);
/* After SIGWINCH and SIGCONT: take the new size, draw the line again. */
void	ui_resize(void);
void	ui_continue(void);

#endif
