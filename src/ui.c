/*
 * ui.c - the client's terminal and pipe input and output (see ui.h).
 *
 * Terminal mode uses libedit's readline emulation through its callback
 * interface, which differs from GNU readline in ways that matter here:
 *
 * - rl_redisplay() pushes a "reprint" key into the input instead of
 *   drawing, and rl_on_new_line() does nothing.  rl_forced_update_display()
 *   (EL_REFRESH) is the one call that draws at once: it forgets what
 *   libedit believed was on the screen and draws the prompt and the line
 *   from the cursor, which must therefore be at the start of an empty row.
 *   So to print above the input we move to the row where the prompt starts
 *   ourselves, clear to the end of the screen, print, and let EL_REFRESH
 *   draw the line again with the cursor where it was.
 * - After a line is accepted, rl_callback_read_char() leaves the editor in
 *   buffered mode, where the next read would block until Enter; installing
 *   the handler again (which also resets the line and draws a fresh
 *   prompt) is what puts it back in character-at-a-time mode.
 * - rl_point and rl_end are not updated by a key that empties the line:
 *   read_terminal() notices and says so itself.
 * - With rl_catch_signals set, libedit would install its own handlers
 *   that re-raise signals to the whole process group; the client handles
 *   its signals itself, so it is turned off and SIGWINCH/SIGCONT come
 *   here through ui_resize and ui_continue.
 * - Enter during an incremental search (Ctrl-R) ends the search and is
 *   pushed back for libedit to read next, but in callback mode "next" is
 *   the next key: the line found would run only at a second Enter, which
 *   then also leaves an empty prompt behind.  The keys come through our
 *   own rl_getc_function, so read_terminal knows an Enter did not end a
 *   line and lets libedit take the pushed-back one at once, with the
 *   terminal closed to it (see terminal_getc).
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <editline/readline.h>

#include "buf.h"
#include "command.h"
#include "history.h"
#include "proto.h"
#include "text.h"
#include "ui.h"
#include "username.h"
#include "xmalloc.h"

/* A pipe's line longer than this is refused, not grown without end. */
#define INPUT_LINE_MAX	(1u << 20)
#define HISTORY_LINES	HISTORY_MAX_LINES

#define C_OWN		"\033[1;32m"
#define C_PRIVATE	"\033[1;35m"
#define C_NOTICE	"\033[33m"
#define C_ERROR		"\033[31m"
#define C_RESET		"\033[0m"

static struct {
	int		 started;
	int		 terminal;
	int		 color;
	int		 err_color;	/* stderr is the terminal too */
	int		 timestamps;
	int		 installed;	/* the prompt is on the screen */
	struct buf	 user;
	struct buf	 prompt;	/* with libedit's ignore markers */
	size_t		 prompt_width;	/* columns it takes */
	char		*history_path;
	ui_users_fn	*users;
	void		*users_arg;

	/* Filled by the libedit line handler, taken by ui_read. */
	char		*pending;
	int		 pending_eof;

	/* Terminal mode: what terminal_getc did last. */
	wint_t		 last_key;
	int		 no_reads;	/* give libedit only what it pushed back */

	/* Pipe mode. */
	struct buf	 in;
	size_t		 scanned;	/* bytes of in known to hold no '\n' */
	int		 discarding;	/* inside a line that was too long */
} ui;

static void	line_handler(char *);
static int	terminal_getc(FILE *);

int
ui_want_terminal(void)
{
	return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
}

int
ui_color_allowed(void)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (term != NULL && strcmp(term, "dumb") == 0)
		return 0;
	return nc == NULL || nc[0] == '\0';
}

int
ui_input_lines(const char *const *lines, size_t n)
{
	struct buf b = BUF_INIT;
	size_t i, off;
	ssize_t w;
	int fd, saved;

	/* A file, not a pipe: it holds any length without a writer. */
	if ((fd = memfd_create("rpcchat-commands", MFD_CLOEXEC)) == -1)
		return -1;
	for (i = 0; i < n; i++)
		buf_appendf(&b, "%s\n", lines[i]);
	for (off = 0; off < b.len; off += (size_t)w) {
		w = write(fd, b.data + off, b.len - off);
		if (w == -1 && errno == EINTR)
			w = 0;
		else if (w <= 0)
			goto fail;
	}
	if (lseek(fd, 0, SEEK_SET) == -1 || dup2(fd, STDIN_FILENO) == -1)
		goto fail;
	close(fd);
	buf_free(&b);
	return 0;
fail:
	saved = errno;
	close(fd);
	buf_free(&b);
	errno = saved;
	return -1;
}

/*
 * Columns bytes take when libedit draws them: a control character as ^X,
 * a byte that is not valid in the locale's encoding as \ooo.
 */
static size_t
display_width(const char *s, size_t len)
{
	mbstate_t st;
	size_t i = 0, w = 0, n;
	unsigned char c;
	wchar_t wc;
	int cw;

	memset(&st, 0, sizeof st);
	while (i < len) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			w += 2;
			i++;
			continue;
		}
		if (c < 0x80) {
			w++;
			i++;
			continue;
		}
		n = mbrtowc(&wc, s + i, len - i, &st);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&st, 0, sizeof st);
			w += 4;
			i++;
			continue;
		}
		cw = wcwidth(wc);
		w += cw > 0 ? (size_t)cw : 0;
		i += n;
	}
	return w;
}

static int
screen_cols(void)
{
	int cols = 0;

	rl_get_screen_size(NULL, &cols);
	return cols > 0 ? cols : 80;
}

/* Takes the prompt and the line off the screen; the cursor ends where the
 * prompt began, on a cleared row. */
static void
hide_input(void)
{
	size_t col, row;
	int point;

	if (!ui.installed)
		return;
	point = rl_point;
	if (point < 0 || rl_line_buffer == NULL)
		point = 0;
	col = ui.prompt_width + display_width(rl_line_buffer, (size_t)point);
	row = col / (size_t)screen_cols();
	fputs("\r", stdout);
	if (row > 0)
		fprintf(stdout, "\033[%zuA", row);
	fputs("\033[J", stdout);
}

static void
show_input(void)
{
	if (!ui.installed)
		return;
	fflush(stdout);
	rl_forced_update_display();
}

static void
install(void)
{
	rl_callback_handler_install(ui.prompt.data, line_handler);
	ui.installed = 1;
	/*
	 * Installing empties the line, but libedit updates rl_point and
	 * rl_end only after the next key: say so now, for hide_input.
	 */
	rl_point = rl_end = 0;
}

/* Which colour a chat message gets, by its shape (PROTOCOL.md §3.2 texts). */
static const char *
message_color(struct span m)
{
	static const char tells[] = " tells you ";
	size_t i;

	if (m.len >= 4 && memcmp(m.p, "*** ", 4) == 0)
		return C_NOTICE;
	for (i = 1; i + sizeof tells - 1 <= m.len && i <= USER_MAX; i++)
		if (memcmp(m.p + i, tells, sizeof tells - 1) == 0 &&
		    username_check((struct span){ m.p, i }) == USERNAME_OK)
			return C_PRIVATE;
	return NULL;
}

/*
 * Prints the already-escaped lines of text (separated by '\n') with the
 * kind's colour; a chat message from ourselves gets our name coloured.
 */
static void
emit(enum ui_kind kind, struct span raw, struct span text)
{
	const char *color = NULL, *nl;
	char stamp[16] = "";
	size_t own = 0, n;
	FILE *out = stdout;
	struct tm tm;
	time_t now;

	/* An empty span may have no bytes at all: memchr wants some. */
	if (text.p == NULL)
		text = (struct span){ "", 0 };
	if (raw.p == NULL)
		raw = (struct span){ "", 0 };
	if (kind == UI_ERROR || kind == UI_ERROR_HELP || kind == UI_WARNING)
		out = stderr;
	if (kind == UI_MESSAGE && ui.timestamps) {
		now = time(NULL);
		if (localtime_r(&now, &tm) == NULL ||
		    strftime(stamp, sizeof stamp, "%H:%M ", &tm) == 0)
			stamp[0] = '\0';
	}
	if (out == stdout ? ui.color : ui.err_color) {
		switch (kind) {
		case UI_NOTICE:
		case UI_WARNING:
			color = C_NOTICE;
			break;
		case UI_ERROR:
			color = C_ERROR;
			break;
		case UI_MESSAGE:
			color = message_color(raw);
			if (color == NULL && raw.len > ui.user.len &&
			    memcmp(raw.p, ui.user.data, ui.user.len) == 0 &&
			    raw.p[ui.user.len] == ' ')
				own = ui.user.len;
			break;
		default:
			break;
		}
	}
	hide_input();
	/* Both streams may be the one terminal: keep the order. */
	fflush(stdout);
	for (;;) {
		nl = memchr(text.p, '\n', text.len);
		n = nl != NULL ? (size_t)(nl - text.p) : text.len;
		fputs(stamp, out);
		if (own > 0 && own <= n) {
			fputs(C_OWN, out);
			fwrite(text.p, 1, own, out);
			fputs(C_RESET, out);
			fwrite(text.p + own, 1, n - own, out);
		} else if (color != NULL) {
			fputs(color, out);
			fwrite(text.p, 1, n, out);
			fputs(C_RESET, out);
		} else
			fwrite(text.p, 1, n, out);
		fputc('\n', out);
		own = 0;
		if (nl == NULL)
			break;
		text.p += n + 1;
		text.len -= n + 1;
	}
	fflush(out);
	show_input();
}

void
ui_print_span(enum ui_kind kind, struct span s)
{
	struct buf b = BUF_INIT;

	text_escape(&b, s);
	emit(kind, s, (struct span){ b.data, b.len });
	buf_free(&b);
}

void
ui_printf(enum ui_kind kind, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	/* The client's own text may span lines; it is one block. */
	while (b.len > 0 && b.data[b.len - 1] == '\n')
		b.len--;
	emit(kind, (struct span){ b.data, b.len },
	    (struct span){ b.data, b.len });
	buf_free(&b);
}

/* Completion. */

static const struct span *comp_users;
static size_t comp_nusers;

static char *
command_generator(const char *text, int state)
{
	static size_t i, len;
	const char *name;

	if (state == 0) {
		i = 0;
		len = strlen(text);
	}
	while ((name = command_names[i]) != NULL) {
		i++;
		if (strncmp(name, text, len) == 0)
			return xstrdup(name);
	}
	return NULL;
}

static char *
user_generator(const char *text, int state)
{
	static size_t i, len;
	struct span u;
	char *s;

	if (state == 0) {
		i = 0;
		len = strlen(text);
	}
	while (i < comp_nusers) {
		u = comp_users[i++];
		/* Only names that could log in: nothing to escape. */
		if (username_check(u) != USERNAME_OK || u.len < len ||
		    memcmp(u.p, text, len) != 0)
			continue;
		s = xmalloc(u.len + 1);
		memcpy(s, u.p, u.len);
		s[u.len] = '\0';
		return s;
	}
	return NULL;
}

static int
all_blank(const char *s, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

static char **
complete(const char *text, int start, int end)
{
	struct span before;

	/* Never fall back to file names. */
	rl_attempted_completion_over = 1;
	if (rl_line_buffer == NULL || start < 0 || start > rl_end)
		return NULL;
	if (all_blank(rl_line_buffer, start))
		return rl_completion_matches(text, command_generator);
	before = text_trim((struct span){ rl_line_buffer, (size_t)start });
	if (span_eq(before, SPAN_LIT("tell")) && ui.users != NULL) {
		comp_nusers = ui.users(ui.users_arg, &comp_users);
		return rl_completion_matches(text, user_generator);
	}
	return NULL;
}

/* History. */

/* mkdir -p, private: the history is nobody else's business. */
static int
make_dirs(char *path)
{
	char *p;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir(path, 0700) == -1 && errno != EEXIST ? -1 : 0;
}

/* $XDG_STATE_HOME/rpcchat/history, or else ~/.rpcchat_history. */
static char *
history_path(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home;
	struct passwd *pw;
	struct buf p = BUF_INIT;

	if (xdg != NULL && xdg[0] == '/') {
		buf_appendf(&p, "%s/rpcchat", xdg);
		if (make_dirs(p.data) == 0) {
			buf_appendf(&p, "/history");
			return p.data;
		}
		buf_clear(&p);
	}
	home = getenv("HOME");
	if ((home == NULL || home[0] == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL || home[0] == '\0') {
		buf_free(&p);
		return NULL;
	}
	buf_appendf(&p, "%s/.rpcchat_history", home);
	return p.data;
}

static void
history_add(void *arg, const char *line)
{
	(void)arg;
	add_history(line);
}

static void
remember(const char *line)
{
	HIST_ENTRY *last;
	struct span t = text_trim(span_cstr(line));

	if (t.len == 0)
		return;
	last = history_length > 0 ?
	    history_get(history_base + history_length - 1) : NULL;
	if (last != NULL && last->line != NULL && strcmp(last->line, line) == 0)
		return;
	add_history(line);
	/*
	 * Appended now, so a client that is killed still keeps it, and
	 * appended only: other clients append to the same file.
	 */
	if (ui.history_path != NULL)
		history_append(ui.history_path, line, HISTORY_LINES);
}

static void
line_handler(char *line)
{
	free(ui.pending);
	ui.pending = NULL;
	if (line == NULL) {
		ui.pending_eof = 1;
		return;
	}
	ui.pending = line;
	remember(line);
	/* Back to character mode with a fresh prompt (see the top). */
	install();
}

void
ui_start(const struct ui_opts *opts)
{
	memset(&ui, 0, sizeof ui);
	ui.started = 1;
	ui.terminal = opts->terminal;
	ui.color = opts->terminal && opts->color && ui_color_allowed();
	ui.err_color = ui.color && isatty(STDERR_FILENO);
	ui.timestamps = opts->timestamps;
	ui.users = opts->users;
	ui.users_arg = opts->users_arg;
	text_escape(&ui.user, span_cstr(opts->user));
	buf_append(&ui.user, "", 1);
	ui.user.len--;
	if (!ui.terminal)
		return;

	setlocale(LC_CTYPE, "");
	/*
	 * libedit delimits an invisible run (the colour codes) with one
	 * character at both ends, RL_PROMPT_START_IGNORE: EL_PROMPT_ESC
	 * takes a single one.
	 */
	if (ui.color)
		buf_appendf(&ui.prompt, "%c" C_OWN "%c%s%c" C_RESET "%c> ",
		    RL_PROMPT_START_IGNORE, RL_PROMPT_START_IGNORE,
		    ui.user.data, RL_PROMPT_START_IGNORE,
		    RL_PROMPT_START_IGNORE);
	else
		buf_appendf(&ui.prompt, "%s> ", ui.user.data);
	ui.prompt_width = display_width(ui.user.data, ui.user.len) + 2;

	rl_readline_name = "rpcchat";
	rl_instream = stdin;
	rl_outstream = stdout;
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_attempted_completion_function = complete;
	/* Before libedit starts, which is when it looks. */
	rl_getc_function = terminal_getc;
	using_history();
	stifle_history(HISTORY_LINES);
	if (opts->history && (ui.history_path = history_path()) != NULL)
		history_load(ui.history_path, HISTORY_LINES, history_add,
		    NULL);
	install();
	fflush(stdout);
}

void
ui_stop(void)
{
	if (!ui.started)
		return;
	if (ui.installed) {
		hide_input();
		fflush(stdout);
		rl_callback_handler_remove();
		ui.installed = 0;
	}
	free(ui.pending);
	ui.pending = NULL;
	free(ui.history_path);
	ui.history_path = NULL;
	buf_free(&ui.in);
	buf_free(&ui.prompt);
	buf_free(&ui.user);
	fflush(stdout);
	ui.started = 0;
}

int
ui_is_terminal(void)
{
	return ui.terminal;
}

int
ui_input_fd(void)
{
	return STDIN_FILENO;
}

/*
 * libedit's key reader, as its own but for what read_terminal needs: the
 * last key, and no read at all while no_reads is set (end of input to
 * libedit, which then leaves the line as it is).  A character is decoded
 * in the locale's encoding; bytes that are not are dropped.
 */
static int
terminal_getc(FILE *f)
{
	mbstate_t st;
	char b[MB_LEN_MAX];
	size_t n = 0, r;
	ssize_t got;
	wchar_t wc;

	(void)f;
	if (ui.no_reads)
		return -1;
	memset(&st, 0, sizeof st);
	for (;;) {
		got = read(STDIN_FILENO, b + n, 1);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		n++;
		memset(&st, 0, sizeof st);
		r = mbrtowc(&wc, b, n, &st);
		if (r == (size_t)-2 && n < sizeof b)
			continue;
		if (r == (size_t)-1 || r == (size_t)-2) {
			n = 0;
			continue;
		}
		if (r == 0)
			wc = L'\0';
		ui.last_key = (wint_t)wc;
		return (int)wc;
	}
}

/* One key (or what libedit pushed back) through the line editor. */
static void
editor_key(void)
{
	/*
	 * libedit updates rl_point and rl_end only when the line is not
	 * empty after the key: a key that empties it (Ctrl-U, the last
	 * Backspace) would leave them stale.  A sentinel tells.
	 */
	rl_point = rl_end = -1;
	rl_callback_read_char();
	if (rl_end < 0)
		rl_point = rl_end = 0;
}

static int
read_terminal(ui_line_fn *fn, void *arg)
{
	char *line;

	ui.last_key = WEOF;
	editor_key();
	/* An Enter that ended no line was pushed back: take it now. */
	if (ui.pending == NULL && !ui.pending_eof &&
	    (ui.last_key == L'\r' || ui.last_key == L'\n')) {
		ui.no_reads = 1;
		editor_key();
		ui.no_reads = 0;
	}
	if (ui.pending_eof)
		return 1;
	if ((line = ui.pending) == NULL)
		return 0;
	ui.pending = NULL;
	/* One key at most ends one line: there is no rest to leave unread. */
	fn(arg, span_cstr(line));
	free(line);
	return 0;
}

static int
read_pipe(ui_line_fn *fn, void *arg)
{
	char *nl;
	size_t n;
	ssize_t got;

	got = read(STDIN_FILENO, buf_reserve(&ui.in, 65536), 65536);
	if (got == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (got == -1) {
		ui_printf(UI_ERROR, "reading input: %s", strerror(errno));
		return 1;
	}
	if (got == 0) {
		if (!ui.discarding && ui.in.len > 0) {
			n = ui.in.len;
			ui.in.len = 0;
			fn(arg, (struct span){ ui.in.data, n });
		}
		return 1;
	}
	ui.in.len += (size_t)got;
	while ((nl = memchr(ui.in.data + ui.scanned, '\n',
	    ui.in.len - ui.scanned)) != NULL) {
		n = (size_t)(nl - ui.in.data);
		if (ui.discarding)
			ui.discarding = 0;
		else if (fn(arg, (struct span){ ui.in.data, n }) != 0) {
			buf_consume(&ui.in, n + 1);
			ui.scanned = 0;
			return 0;
		}
		buf_consume(&ui.in, n + 1);
		ui.scanned = 0;
	}
	ui.scanned = ui.in.len;
	if (ui.discarding || ui.in.len > INPUT_LINE_MAX) {
		if (!ui.discarding)
			ui_printf(UI_ERROR, "input line longer than %u bytes "
			    "ignored", INPUT_LINE_MAX);
		ui.discarding = 1;
		buf_clear(&ui.in);
		ui.scanned = 0;
	}
	return 0;
}

int
ui_read(ui_line_fn *fn, void *arg)
{
	return ui.terminal ? read_terminal(fn, arg) : read_pipe(fn, arg);
}

int
ui_interrupt(void)
{
	struct buf shown;
	struct span line;

	if (!ui.terminal || !ui.installed || rl_end == 0)
		return 0;
	/* Like a shell: leave the cut line on show, start a fresh one. */
	line = text_trim((struct span){ rl_line_buffer, (size_t)rl_end });
	hide_input();
	buf_init(&shown);
	text_escape(&shown, line);
	fprintf(stdout, "%s> %.*s^C\n", ui.user.data, (int)shown.len,
	    shown.len > 0 ? shown.data : "");
	buf_free(&shown);
	rl_callback_handler_remove();
	install();
	fflush(stdout);
	return 1;
}

void
ui_resize(void)
{
	if (!ui.terminal || !ui.installed)
		return;
	rl_resize_terminal();
	hide_input();
	show_input();
}

void
ui_continue(void)
{
	if (!ui.terminal || !ui.installed)
		return;
	/* The shell may have changed the modes while we were stopped. */
	rl_deprep_terminal();
	rl_prep_terminal(0);
	hide_input();
	show_input();
}
