/*
 * term.h - the line editor at a terminal: ui.c's terminal mode.
 *
 * libedit, driven a key at a time from the client's poll loop: a prompt,
 * history, completion, a history search, and the line being typed taken
 * off the screen and drawn again around what ui.c prints.  There is one
 * terminal, so there is one editor: the functions work on file-level
 * state set up by term_start.
 */
#ifndef RPCCHAT_TERM_H
#define RPCCHAT_TERM_H

#include "span.h"
#include "ui.h"

struct term_opts {
	const char	*user;		/* for the prompt: escaped */
	int		 color;		/* the prompt in colour */
	int		 history;	/* keep line history across runs */
	ui_users_fn	*users;		/* the names after "tell " */
	void		*arg;
};

/* -1 when libedit cannot start (the caller reads the terminal as a pipe). */
int	term_start(const struct term_opts *);
/* Clears the input line, saves history, gives the terminal back. */
void	term_stop(void);
/* As ui_read, at a terminal. */
int	term_read(ui_line_fn *fn, void *arg);
/*
 * The prompt and the line off the screen, the cursor where the prompt
 * began, on a cleared row; and drawn again there.  Nothing before
 * term_start.
 */
void	term_hide(void);
void	term_show(void);
/* As ui_interrupt, ui_resize and ui_continue, at a terminal. */
int	term_interrupt(void);
void	term_resize(void);
void	term_continue(void);

/*
 * From ui.c, for both modes alike: a line refused as too long (said,
 * and counted a failure), and a line checked and run; 1 when fn says
 * stop.
 */
void	ui_refuse(void);
int	ui_deliver(ui_line_fn *fn, void *arg, struct span line);

#endif
