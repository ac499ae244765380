/*
 * ui.c - the client's terminal and pipe input and output (see ui.h).
 *
 * Terminal mode drives libedit through its native wide-character
 * interface (el_wgets, el_wline), one key at a time, from the client's
 * poll loop.  Not through libedit's readline emulation: that emulation
 * points rl_line_buffer into the buffer el_gets() and el_line() convert
 * the line into, which they move with realloc as the line grows past
 * 1 KiB, and rl_callback_read_char() then writes the line's end into the
 * freed block (and a caller reading rl_line_buffer reads it).  el_wline()
 * hands out libedit's own line, valid until the next edit; it is read at
 * once and never kept.
 *
 * How libedit is driven:
 *
 * - Unbuffered mode: el_wgets() edits one key and returns.  A line is
 *   accepted when the key was Enter and the line ends in the newline
 *   libedit appends; Ctrl-D on an empty line leaves the one character
 *   ^D.  After a line libedit would go on appending to it: turning
 *   unbuffered mode off and on again (install()) empties the line,
 *   forgets the history position and draws a fresh prompt.
 * - EL_REFRESH is the one call that draws at once: it forgets what
 *   libedit believed was on the screen and draws the prompt and the line
 *   from the cursor, which must therefore be at the start of an empty
 *   row.  So to print above the input we move to the row where the prompt
 *   starts ourselves, clear to the end of the screen, print, and let
 *   EL_REFRESH draw the line again with the cursor where it was.  Which
 *   row that is, is worked out from the line the way libedit lays it out.
 * - Keys come through our own read function (EL_GETCFN), from bytes read
 *   from the terminal in bulk.  libedit asks for a second byte only in
 *   the middle of a key (an escape sequence, a UTF-8 character); one that
 *   is not there within KEY_WAIT_MS ends the key, so neither a lone ESC
 *   nor a slow terminal can hold the poll loop (signals, calls) up.
 * - libedit's incremental search and quoted insert read the keys that
 *   follow from inside one edit, which would hold the poll loop until the
 *   user is done: Ctrl-R and Ctrl-V are ours (search_key, quote_key),
 *   and keys libedit pushes back (a macro of ~/.editrc) are taken at
 *   once, with the terminal closed to it (no_reads).
 * - libedit's own signal handling is off: the client handles its signals
 *   itself, and SIGWINCH/SIGCONT come here through ui_resize and
 *   ui_continue.
 *
 * What enters libedit is bounded: a line longer than EDIT_MAX characters
 * (a paste, mostly), or one that took more than LINE_KEYS_MAX bytes of
 * keys (a paste of junk), is taken out of the editor and off the screen.  Its
 * bytes are kept here, up to the same INPUT_LINE_MAX as a pipe's line,
 * until the end of the line, and the line is then run exactly as the same
 * line on a pipe would be; the screen shows its start and its size.  So
 * the editor's work per key stays small, and a megabyte pasted costs a
 * few reads.
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include <histedit.h>

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
/*
 * Characters of a line libedit edits, and bytes of keys it is given for
 * one line (junk that keeps the line short: ^U, ^W ...); the rest of a
 * longer line is kept aside.
 */
#define EDIT_MAX	4096
#define LINE_KEYS_MAX	16384
/* Bytes read from the terminal at a time, while editing and beyond. */
#define KEYS_READ	4096
#define OVER_READ	65536
/* How long the rest of a key that has begun may take to come. */
#define KEY_WAIT_MS	100
/* Bytes of an over-long line shown back. */
#define PREVIEW_MAX	60
/* Bytes of a search's needle. */
#define NEEDLE_MAX	256
/* Keys one macro of ~/.editrc may push back. */
#define PUSHED_MAX	4096
/* Completion looks only at the start of a line. */
#define COMPLETE_MAX	256
#define HISTORY_LINES	HISTORY_MAX_LINES

/* Delimits the prompt's invisible runs (its colour codes). */
#define PROMPT_IGNORE	'\1'
#define CTRL_D		L'\004'

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
	struct buf	 user;		/* escaped, NUL-terminated */
	struct buf	 prompt;	/* with PROMPT_IGNORE markers */
	char		*history_path;
	ui_users_fn	*users;
	ui_refused_fn	*refused;
	void		*arg;

	/* Terminal mode. */
	EditLine	*el;
	History		*hist;
	struct buf	 keys;		/* read from the terminal, not yet edited */
	size_t		 keys_off;
	wint_t		 last_key;	/* the last key read_key gave libedit */
	int		 no_reads;	/* give libedit only what it pushed back */
	int		 asked;		/* libedit asked read_key for a key */
	size_t		 line_keys;	/* bytes of keys given for this line */
	int		 quoting;	/* Ctrl-V: the next key as it is */
	/* Ctrl-R (search_key). */
	int		 searching;
	struct buf	 needle;	/* NUL-terminated */
	struct buf	 search_prompt;
	struct buf	 search_saved;	/* the line before, NUL-terminated */
	int		 match;		/* the history line shown, or -1 */
	int		 search_failed;
	int		 hangup;	/* the terminal is gone */
	/* A line longer than EDIT_MAX: its bytes, not libedit's. */
	int		 overflow;
	struct buf	 over;		/* the line up to where keys go */
	struct buf	 over_tail;	/* what stood after libedit's cursor */
	size_t		 over_len;	/* bytes of the line, kept or not */

	/* Pipe mode. */
	struct buf	 in;
	size_t		 scanned;	/* bytes of in known to hold no '\n' */
	int		 discarding;	/* inside a line that was too long */
} ui;

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
 * Where libedit's drawing of a line gets to: the row (from the prompt's)
 * and column after the characters placed so far, on a screen cols wide.
 */
struct layout {
	size_t	h, v, cols;
};

/* One cell run of w columns that libedit keeps on one row. */
static void
layout_cells(struct layout *l, size_t w)
{
	if (l->h + w > l->cols) {
		l->h = 0;
		l->v++;
	}
	l->h += w;
	if (l->h >= l->cols) {
		l->h = 0;
		l->v++;
	}
}

/* One character, as libedit draws it: ^X, \U+XXXX, a tab to 8. */
static void
layout_char(struct layout *l, wchar_t c)
{
	int i, w;

	if (c == L'\t') {
		do
			layout_cells(l, 1);
		while (l->h % 8 != 0);
	} else if (c == L'\n') {
		l->h = 0;
		l->v++;
	} else if (c < 0x100 && iswcntrl((wint_t)c)) {
		layout_cells(l, 1);
		layout_cells(l, 1);
	} else if (iswprint((wint_t)c)) {
		if ((w = wcwidth(c)) > 0)
			layout_cells(l, (size_t)w);
	} else {
		for (i = c > 0xffff ? 8 : 7; i > 0; i--)
			layout_cells(l, 1);
	}
}

/* The bytes in the locale's encoding, each character as layout_char. */
static void
layout_bytes(struct layout *l, const char *s, size_t len)
{
	mbstate_t st;
	wchar_t wc;
	size_t n;

	memset(&st, 0, sizeof st);
	while (len > 0) {
		n = mbrtowc(&wc, s, len, &st);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			/* Shown as \ooo by anyone: text_escape's output has
			 * none of these anyway. */
			memset(&st, 0, sizeof st);
			for (n = 0; n < 4; n++)
				layout_cells(l, 1);
			n = 1;
		} else
			layout_char(l, wc);
		s += n;
		len -= n;
	}
}

static size_t
screen_cols(void)
{
	int cols = 0;

	if (ui.el == NULL || el_get(ui.el, EL_GETTC, "co", &cols, NULL) != 0 ||
	    cols < 2)
		return 80;
	return (size_t)cols;
}

/* Takes the prompt and the line off the screen; the cursor ends where the
 * prompt began, on a cleared row. */
static void
hide_input(void)
{
	struct layout l = { 0, 0, screen_cols() };
	const LineInfoW *li;
	const wchar_t *p;
	int w;

	if (!ui.installed)
		return;
	if (ui.searching)
		layout_bytes(&l, ui.search_prompt.data, ui.search_prompt.len);
	else {
		layout_bytes(&l, ui.user.data, ui.user.len);
		layout_bytes(&l, "> ", 2);
	}
	li = el_wline(ui.el);
	for (p = li->buffer; p < li->cursor; p++)
		layout_char(&l, *p);
	/* libedit puts the cursor on a wide character that moved down. */
	if (p < li->lastchar && iswprint((wint_t)*p) && (w = wcwidth(*p)) > 1 &&
	    l.h + (size_t)w > l.cols)
		l.v++;
	fputs("\r", stdout);
	if (l.v > 0)
		fprintf(stdout, "\033[%zuA", l.v);
	fputs("\033[J", stdout);
}

static void
show_input(void)
{
	if (!ui.installed)
		return;
	fflush(stdout);
	el_set(ui.el, EL_REFRESH);
}

/*
 * An empty line and a fresh prompt, wherever libedit was (see the top);
 * also how the first prompt is drawn.
 */
static void
install(void)
{
	el_set(ui.el, EL_UNBUFFERED, 0);
	el_set(ui.el, EL_UNBUFFERED, 1);
	ui.installed = 1;
	ui.line_keys = 0;
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
	/* At a terminal a failure told by a message is shown as one. */
	if (kind == UI_MESSAGE_FAILED && ui.terminal)
		kind = UI_MESSAGE;
	if (kind == UI_ERROR || kind == UI_ERROR_HELP || kind == UI_WARNING ||
	    kind == UI_MESSAGE_FAILED)
		out = stderr;
	if ((kind == UI_MESSAGE || kind == UI_MESSAGE_FAILED ||
	    kind == UI_NOTICE) && ui.timestamps) {
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

/* Appends wide characters in the locale's encoding (UTF-8). */
static void
append_wide(struct buf *out, const wchar_t *p, const wchar_t *end)
{
	char mb[MB_LEN_MAX];
	mbstate_t st;
	size_t n;

	memset(&st, 0, sizeof st);
	for (; p < end; p++) {
		n = wcrtomb(mb, *p, &st);
		if (n == (size_t)-1) {
			memset(&st, 0, sizeof st);
			continue;
		}
		buf_append(out, mb, n);
	}
}


/* Completion: a command name first on the line, a user after "tell ". */

/* command_names as spans, for complete_key. */
static struct span command_spans[16];

/* Whether cand is offered for word: it starts with it, and could be sent. */
static int
offered(struct span cand, struct span word, int users)
{
	if (cand.len < word.len ||
	    (word.len > 0 && memcmp(cand.p, word.p, word.len) != 0))
		return 0;
	/* Only names that could log in: nothing to escape, no spaces. */
	return !users || username_check(cand) == USERNAME_OK;
}

static void
insert_text(EditLine *el, struct span s)
{
	struct buf b = BUF_INIT;
	wchar_t *w;
	size_t n;

	buf_append(&b, s.p, s.len);
	buf_append(&b, "", 1);
	if ((n = mbstowcs(NULL, b.data, 0)) != (size_t)-1) {
		w = xcalloc(n + 1, sizeof *w);
		if (mbstowcs(w, b.data, n + 1) != (size_t)-1)
			el_winsertstr(el, w);
		free(w);
	}
	buf_free(&b);
}

/*
 * Tab: the word before the cursor completed as far as every candidate
 * agrees, with a space after a whole one; when nothing can be added, the
 * candidates are shown above the line.
 */
static unsigned char
complete_key(EditLine *el, int ch)
{
	const LineInfoW *li = el_wline(el);
	const struct span *cand = NULL;
	const wchar_t *start;
	struct buf line = BUF_INIT, shown = BUF_INIT;
	struct span word, before, first = { NULL, 0 };
	size_t n = 0, i, k, len, matches = 0;
	int users = 0;
	unsigned char rc = CC_ERROR;

	(void)ch;
	/* Commands and names stand at the start of a line. */
	if (li->cursor - li->buffer > COMPLETE_MAX)
		return CC_ERROR;
	for (start = li->cursor; start > li->buffer && start[-1] != L' ' &&
	    start[-1] != L'\t'; start--)
		;
	/* Never a NULL span, even for an empty line. */
	buf_reserve(&line, 1);
	append_wide(&line, li->buffer, start);
	len = line.len;
	append_wide(&line, start, li->cursor);
	before = text_trim((struct span){ line.data, len });
	word = (struct span){ line.data + len, line.len - len };
	if (before.len == 0) {
		for (n = 0; command_names[n] != NULL &&
		    n < sizeof command_spans / sizeof command_spans[0]; n++)
			command_spans[n] = span_cstr(command_names[n]);
		cand = command_spans;
	} else if (span_eq(before, SPAN_LIT("tell")) && ui.users != NULL) {
		n = ui.users(ui.arg, &cand);
		users = 1;
	}
	/* first: the match; len: how much of it every match shares. */
	len = 0;
	for (i = 0; i < n; i++) {
		if (!offered(cand[i], word, users))
			continue;
		if (matches++ == 0) {
			first = cand[i];
			len = first.len;
			continue;
		}
		for (k = word.len; k < len && k < cand[i].len &&
		    cand[i].p[k] == first.p[k]; k++)
			;
		len = k;
	}
	if (matches == 0)
		goto out;
	rc = CC_REFRESH;
	if (matches == 1) {
		insert_text(el, (struct span){ first.p + word.len,
		    first.len - word.len });
		insert_text(el, SPAN_LIT(" "));
	} else if (len > word.len)
		insert_text(el, (struct span){ first.p + word.len,
		    len - word.len });
	else {
		for (i = 0; i < n; i++) {
			if (!offered(cand[i], word, users))
				continue;
			if (shown.len > 0)
				buf_append(&shown, "  ", 2);
			text_escape(&shown, cand[i]);
		}
		/* emit draws the line again below them. */
		emit(UI_INFO, (struct span){ shown.data, shown.len },
		    (struct span){ shown.data, shown.len });
		rc = CC_NORM;
	}
out:
	buf_free(&line);
	buf_free(&shown);
	return rc;
}

/*
 * Ctrl-Z: libedit reads it as a key (not as the terminal's suspend
 * character), and its own binding does nothing; stop as a terminal would.
 * ui_continue draws the line again.
 */
static unsigned char
suspend_key(EditLine *el, int ch)
{
	(void)el;
	(void)ch;
	kill(0, SIGTSTP);
	return CC_NORM;
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
	HistEvent ev;

	(void)arg;
	history(ui.hist, &ev, H_ENTER, line);
}

static void
remember(struct span line)
{
	HistEvent ev;
	struct buf b = BUF_INIT;

	/* One line of text each: a line typed with ^V^J or ^@ in it is not
	 * one the history file can hold. */
	if (text_trim(line).len == 0 || memchr(line.p, '\n', line.len) != NULL ||
	    memchr(line.p, '\0', line.len) != NULL)
		return;
	buf_append(&b, line.p, line.len);
	buf_append(&b, "", 1);
	if (history(ui.hist, &ev, H_FIRST) == 0 && strcmp(ev.str, b.data) == 0) {
		buf_free(&b);
		return;
	}
	history(ui.hist, &ev, H_ENTER, b.data);
	/*
	 * Appended now, so a client that is killed still keeps it, and
	 * appended only: other clients append to the same file.
	 */
	if (ui.history_path != NULL)
		history_append(ui.history_path, b.data, HISTORY_LINES);
	buf_free(&b);
}

/* The terminal. */

static char *
prompt_text(EditLine *el)
{
	(void)el;
	return ui.searching ? ui.search_prompt.data : ui.prompt.data;
}

/*
 * Reads what the terminal has, at most max bytes, waiting at most
 * wait_ms (-1: not at all, poll said it is there).  1 when bytes came,
 * 0 when none did; a terminal that hung up sets ui.hangup.
 */
static int
fill_keys(size_t max, int wait_ms)
{
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	ssize_t got;

	if (ui.keys_off == ui.keys.len) {
		buf_clear(&ui.keys);
		ui.keys_off = 0;
	}
	if (wait_ms >= 0 && poll(&pfd, 1, wait_ms) <= 0)
		return 0;
	got = read(STDIN_FILENO, buf_reserve(&ui.keys, max), max);
	if (got == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (got <= 0) {
		ui.hangup = 1;
		return 0;
	}
	ui.keys.len += (size_t)got;
	return 1;
}

/*
 * The next character of the keys read, decoded in the locale's encoding
 * (bytes that are not one are dropped), without taking it: 1 and its
 * bytes in *len, or 0 when there is none.  The rest of a character, or
 * a first byte not read yet, may take KEY_WAIT_MS to come.
 */
static int
peek_char(wchar_t *wc, size_t *len)
{
	mbstate_t st;
	size_t avail, r;

	for (;;) {
		if (ui.keys_off == ui.keys.len &&
		    !fill_keys(KEYS_READ, KEY_WAIT_MS))
			return 0;
		avail = ui.keys.len - ui.keys_off;
		memset(&st, 0, sizeof st);
		r = mbrtowc(wc, ui.keys.data + ui.keys_off, avail, &st);
		if (r == (size_t)-2 && avail < MB_LEN_MAX &&
		    fill_keys(KEYS_READ, KEY_WAIT_MS))
			continue;
		if (r == (size_t)-1 || r == (size_t)-2) {
			/* Not a character: the next byte may begin one. */
			ui.keys_off++;
			continue;
		}
		if (r == 0) {
			*wc = L'\0';
			r = 1;
		}
		*len = r;
		return 1;
	}
}

/*
 * libedit's key reader: the next character, or 0, which libedit takes
 * for the end of input and leaves the line as it is.  The first key of
 * an edit is always there (read_terminal calls libedit only then); one
 * libedit asks for within a key (an escape sequence, ESC as a prefix)
 * may take KEY_WAIT_MS to come.  Nothing of libedit's that reads keys
 * for longer (its own incremental search, quoted insert) is bound.
 */
static int
read_key(EditLine *el, wchar_t *wc)
{
	size_t len;

	(void)el;
	ui.asked = 1;
	if (ui.no_reads || !peek_char(wc, &len))
		return 0;
	ui.keys_off += len;
	ui.line_keys += len;
	ui.last_key = (wint_t)*wc;
	return 1;
}

/* libedit's line replaced with text (NUL-terminated), the cursor at its
 * end; the caller draws it. */
static void
set_line(const char *text)
{
	const LineInfoW *li = el_wline(ui.el);
	int n = (int)(li->lastchar - li->buffer);

	el_cursor(ui.el, (int)(li->lastchar - li->cursor));
	el_deletestr(ui.el, n);
	insert_text(ui.el, span_cstr(text));
}

/*
 * Incremental search of the history, Ctrl-R, as in bash: the keys are
 * taken here, not by libedit, whose own search reads every key from
 * inside one edit and would hold the poll loop until the search ends.
 * Printable keys grow the needle, Ctrl-R finds an older line, Backspace
 * shortens the needle, Ctrl-G gives the line back; any other key ends
 * the search and then acts on the line found (Enter runs it).
 */

/* History line i (0: the newest), or NULL. */
static const char *
history_line(int i)
{
	HistEvent ev;

	if (i < 0 || history(ui.hist, &ev, H_FIRST) != 0)
		return NULL;
	while (i-- > 0)
		if (history(ui.hist, &ev, H_NEXT) != 0)
			return NULL;
	return ev.str;
}

/* The first history line from start on that holds the needle, or -1. */
static int
history_find(int start)
{
	HistEvent ev;
	int i = 0;

	if (history(ui.hist, &ev, H_FIRST) != 0)
		return -1;
	do {
		if (i >= start && strstr(ev.str, ui.needle.data) != NULL)
			return i;
		i++;
	} while (history(ui.hist, &ev, H_NEXT) == 0);
	return -1;
}

static void
search_prompt(void)
{
	buf_clear(&ui.search_prompt);
	buf_appendf(&ui.search_prompt, "(%sreverse-i-search)`",
	    ui.search_failed ? "failed " : "");
	text_escape(&ui.search_prompt, (struct span){ ui.needle.data,
	    ui.needle.len });
	buf_appendf(&ui.search_prompt, "': ");
}

/* Looks for the needle from history line start on and shows the result. */
static void
search_update(int start)
{
	const char *line;
	int i;

	i = ui.needle.len > 0 ? history_find(start) : -1;
	hide_input();
	ui.search_failed = ui.needle.len > 0 && i < 0;
	if (i >= 0 && (line = history_line(i)) != NULL) {
		ui.match = i;
		set_line(line);
	}
	search_prompt();
	show_input();
}

/*
 * The needle grew by a key: a search that failed fails still, and the
 * line shown is still the one if it holds the longer needle.  Only else
 * is the history looked through, so a key costs a line, not the history.
 */
static void
search_grown(void)
{
	const char *line;

	if (ui.search_failed || (ui.match >= 0 &&
	    (line = history_line(ui.match)) != NULL &&
	    strstr(line, ui.needle.data) != NULL)) {
		hide_input();
		search_prompt();
		show_input();
	} else
		search_update(ui.match < 0 ? 0 : ui.match);
}

static void
search_end(int restore)
{
	hide_input();
	ui.searching = 0;
	if (restore)
		set_line(ui.search_saved.data);
	show_input();
}

static unsigned char
search_begin_key(EditLine *el, int ch)
{
	const LineInfoW *li = el_wline(el);

	(void)ch;
	buf_clear(&ui.search_saved);
	append_wide(&ui.search_saved, li->buffer, li->lastchar);
	buf_append(&ui.search_saved, "", 1);
	buf_clear(&ui.needle);
	*buf_reserve(&ui.needle, 1) = '\0';
	hide_input();
	ui.searching = 1;
	ui.search_failed = 0;
	ui.match = -1;
	search_prompt();
	show_input();
	return CC_NORM;
}

/* One key of a search. */
static void
search_key(void)
{
	wchar_t wc;
	size_t len;

	if (!peek_char(&wc, &len))
		return;
	if (wc == L'\022') {
		ui.keys_off += len;
		search_update(ui.match + 1);
	} else if (wc == L'\177' || wc == L'\b') {
		ui.keys_off += len;
		while (ui.needle.len > 0 &&
		    ((unsigned char)ui.needle.data[ui.needle.len - 1] & 0xc0) ==
		    0x80)
			ui.needle.len--;
		if (ui.needle.len > 0)
			ui.needle.len--;
		ui.needle.data[ui.needle.len] = '\0';
		search_update(0);
	} else if (wc == L'\007') {
		ui.keys_off += len;
		search_end(1);
	} else if (iswprint((wint_t)wc)) {
		/* Beyond NEEDLE_MAX a key changes nothing (a paste). */
		if (ui.needle.len + len > NEEDLE_MAX) {
			ui.keys_off += len;
			return;
		}
		buf_append(&ui.needle, ui.keys.data + ui.keys_off, len);
		*buf_reserve(&ui.needle, 1) = '\0';
		ui.keys_off += len;
		search_grown();
	} else
		search_end(0);
}

/*
 * Ctrl-V: the next key goes into the line as it is, taken here (libedit's
 * own quoted insert would wait for it inside the edit).  A newline cannot
 * stand inside a line: it would end it.
 */
static unsigned char
quote_begin_key(EditLine *el, int ch)
{
	(void)el;
	(void)ch;
	ui.quoting = 1;
	return CC_NORM;
}

static void
quote_key(void)
{
	wchar_t s[2] = { L'\0', L'\0' };
	size_t len;

	if (!peek_char(&s[0], &len))
		return;
	ui.keys_off += len;
	ui.quoting = 0;
	if (s[0] == L'\0' || s[0] == L'\n') {
		el_beep(ui.el);
		return;
	}
	hide_input();
	el_winsertstr(ui.el, s);
	show_input();
}

/*
 * The prompt and a line on their own row, as at Enter: "alice> say hi",
 * or for a line of total bytes longer than what is kept of it, its start
 * and its size, "alice> say xxxxx... (70000 bytes)".
 */
static void
show_line(struct span line, size_t total, const char *end)
{
	struct buf shown = BUF_INIT;
	size_t n = line.len;

	if (total > PREVIEW_MAX && n > PREVIEW_MAX) {
		n = PREVIEW_MAX;
		while (n > 0 && ((unsigned char)line.p[n] & 0xc0) == 0x80)
			n--;
	}
	text_escape(&shown, (struct span){ line.p, n });
	if (n < total)
		buf_appendf(&shown, "... (%zu bytes)", total);
	fprintf(stdout, "%s> %s%s\n", ui.user.data, shown.data, end);
	buf_free(&shown);
}

/* A line too long to take: said, and a failure as a command's is. */
static void
refuse(void)
{
	ui_printf(UI_ERROR, "input line longer than %u bytes ignored",
	    INPUT_LINE_MAX);
	if (ui.refused != NULL)
		ui.refused(ui.arg);
}

/* A line, checked as a pipe's line is; 1 when fn says stop. */
static int
deliver(ui_line_fn *fn, void *arg, struct span line)
{
	if (line.len > INPUT_LINE_MAX) {
		refuse();
		return 0;
	}
	return fn(arg, line);
}

/*
 * The line libedit holds is too long to edit: its bytes go on here, and
 * it leaves the screen (an empty prompt is cheap to draw again below
 * what is printed meanwhile, and hides nothing).
 */
static void
begin_overflow(void)
{
	const LineInfoW *li = el_wline(ui.el);

	buf_clear(&ui.over);
	buf_clear(&ui.over_tail);
	append_wide(&ui.over, li->buffer, li->cursor);
	append_wide(&ui.over_tail, li->cursor, li->lastchar);
	ui.over_len = ui.over.len + ui.over_tail.len;
	ui.overflow = 1;
	hide_input();
	install();
	fflush(stdout);
}

static void
end_overflow(void)
{
	ui.overflow = 0;
	buf_free(&ui.over);
	buf_free(&ui.over_tail);
	ui.over_len = 0;
}

/*
 * The bytes of an over-long line up to its end ('\r' or '\n', as Enter
 * sends), kept while it is at most INPUT_LINE_MAX.  At its end the screen
 * shows it cut short and the line is run; 1 when fn says stop.
 */
static int
overflow_keys(ui_line_fn *fn, void *arg)
{
	const char *p = ui.keys.data + ui.keys_off, *cr, *nl;
	size_t n = ui.keys.len - ui.keys_off;
	struct buf line = BUF_INIT;
	int stop = 0, was, kept;

	cr = memchr(p, '\r', n);
	nl = memchr(p, '\n', cr != NULL ? (size_t)(cr - p) : n);
	if (nl != NULL)
		cr = nl;
	if (cr != NULL)
		n = (size_t)(cr - p);
	was = ui.over_len > INPUT_LINE_MAX;
	ui.over_len += n;
	if (ui.over_len <= INPUT_LINE_MAX)
		buf_append(&ui.over, p, n);
	else if (ui.over.len > PREVIEW_MAX + MB_LEN_MAX) {
		/* Refused: only its start is still to be shown. */
		ui.over.len = PREVIEW_MAX + MB_LEN_MAX;
		buf_clear(&ui.over_tail);
	}
	ui.keys_off += n;
	/* Said as soon as it is so, as a pipe does. */
	if (!was && ui.over_len > INPUT_LINE_MAX)
		refuse();
	if (cr == NULL)
		return 0;
	ui.keys_off++;
	kept = ui.over_len <= INPUT_LINE_MAX;
	buf_append(&line, ui.over.data, ui.over.len);
	buf_append(&line, ui.over_tail.data, ui.over_tail.len);
	hide_input();
	show_line((struct span){ line.data, line.len }, ui.over_len, "");
	end_overflow();
	install();
	fflush(stdout);
	if (kept)
		stop = fn(arg, (struct span){ line.data, line.len });
	buf_free(&line);
	return stop;
}

/*
 * What the key did to libedit's line, with was_empty what it was before:
 * 1 when a line it ended was run and fn said stop, 2 at the end of input
 * (Ctrl-D on an empty line leaves the one character ^D), else 0.
 */
static int
after_key(ui_line_fn *fn, void *arg, int was_empty)
{
	const LineInfoW *li = el_wline(ui.el);
	size_t len = (size_t)(li->lastchar - li->buffer);
	struct buf line = BUF_INIT;
	int stop;

	if (was_empty && len == 1 && li->buffer[0] == CTRL_D &&
	    ui.last_key == CTRL_D)
		return 2;
	/* Only Enter puts a newline in the line (quote_key refuses one). */
	if (len > 0 && li->lastchar[-1] == L'\n') {
		append_wide(&line, li->buffer, li->lastchar - 1);
		remember((struct span){ line.data, line.len });
		/* Back to a fresh prompt before the line's output. */
		install();
		fflush(stdout);
		stop = deliver(fn, arg, (struct span){ line.data, line.len });
		buf_free(&line);
		return stop;
	}
	if (len >= EDIT_MAX || ui.line_keys >= LINE_KEYS_MAX)
		begin_overflow();
	return 0;
}

/*
 * One key through libedit, then whatever libedit pushed back (a macro's
 * keys), with the terminal closed to it, until it asks for a key.
 */
static int
edit_key(ui_line_fn *fn, void *arg)
{
	const LineInfoW *li;
	int i, n, rc, was_empty;

	for (i = 0; i < PUSHED_MAX; i++) {
		li = el_wline(ui.el);
		was_empty = li->lastchar == li->buffer;
		ui.last_key = WEOF;
		ui.asked = 0;
		ui.no_reads = i > 0;
		el_wgets(ui.el, &n);
		ui.no_reads = 0;
		if (i > 0 && ui.asked)
			return 0;
		if ((rc = after_key(fn, arg, was_empty)) != 0 ||
		    ui.overflow || ui.searching || ui.quoting)
			return rc;
	}
	return 0;
}

static int
read_terminal(ui_line_fn *fn, void *arg)
{
	int rc = 0;

	if (!fill_keys(ui.overflow ? OVER_READ : KEYS_READ, -1))
		return ui.hangup;
	while (ui.keys_off < ui.keys.len && rc == 0) {
		if (ui.overflow)
			rc = overflow_keys(fn, arg);
		else if (ui.searching)
			search_key();
		else if (ui.quoting)
			quote_key();
		else
			rc = edit_key(fn, arg);
	}
	if (rc == 1) {
		/* Leaving: what was typed after is not run. */
		buf_clear(&ui.keys);
		ui.keys_off = 0;
	}
	return rc == 2 || ui.hangup;
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
			deliver(fn, arg, (struct span){ ui.in.data, n });
		}
		return 1;
	}
	ui.in.len += (size_t)got;
	while ((nl = memchr(ui.in.data + ui.scanned, '\n',
	    ui.in.len - ui.scanned)) != NULL) {
		n = (size_t)(nl - ui.in.data);
		if (ui.discarding)
			ui.discarding = 0;
		else if (deliver(fn, arg, (struct span){ ui.in.data, n }) != 0) {
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
			refuse();
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

/* Our keys, and those readline users expect (as libedit's readline
 * emulation binds them); ~/.editrc may bind others. */
static const char *const bindings[][2] = {
	{ "^I", "rpcchat-complete" },
	{ "^Z", "rpcchat-suspend" },
	{ "^R", "rpcchat-search" },
	{ "^V", "rpcchat-quote" },
	{ "\\e[1~", "ed-move-to-beg" },
	{ "\\e[4~", "ed-move-to-end" },
	{ "\\e[7~", "ed-move-to-beg" },
	{ "\\e[8~", "ed-move-to-end" },
	{ "\\e[H", "ed-move-to-beg" },
	{ "\\e[F", "ed-move-to-end" },
	{ "\\e[3~", "ed-delete-next-char" },
	{ "\\e[1;5C", "em-next-word" },
	{ "\\e[1;5D", "ed-prev-word" },
	{ "\\e[5C", "em-next-word" },
	{ "\\e[5D", "ed-prev-word" },
	{ "\\e\\e[C", "em-next-word" },
	{ "\\e\\e[D", "ed-prev-word" },
	/*
	 * libedit's command line (M-x): its parse_line hands el_wparse the
	 * tokenizer's output unchecked, and a line such as a lone " makes
	 * it read through a NULL pointer.  A chat has no use for it.
	 */
	{ "\\ex", "ed-unassigned" },
	{ "\\eX", "ed-unassigned" },
};

void
ui_start(const struct ui_opts *opts)
{
	HistEvent ev;
	size_t i;

	memset(&ui, 0, sizeof ui);
	ui.started = 1;
	ui.terminal = opts->terminal;
	ui.color = opts->terminal && opts->color && ui_color_allowed();
	ui.err_color = ui.color && isatty(STDERR_FILENO);
	ui.timestamps = opts->timestamps;
	ui.users = opts->users;
	ui.refused = opts->refused;
	ui.arg = opts->arg;
	text_escape(&ui.user, span_cstr(opts->user));
	if (!ui.terminal)
		return;

	setlocale(LC_CTYPE, "");
	if (ui.color)
		buf_appendf(&ui.prompt, "%c" C_OWN "%c%s%c" C_RESET "%c> ",
		    PROMPT_IGNORE, PROMPT_IGNORE, ui.user.data, PROMPT_IGNORE,
		    PROMPT_IGNORE);
	else
		buf_appendf(&ui.prompt, "%s> ", ui.user.data);

	if ((ui.el = el_init("rpcchat", stdin, stdout, stderr)) == NULL ||
	    (ui.hist = history_init()) == NULL) {
		fprintf(stderr, "rpcchat: the line editor could not start; "
		    "reading the terminal as a pipe\n");
		if (ui.el != NULL)
			el_end(ui.el);
		ui.el = NULL;
		ui.terminal = ui.color = ui.err_color = 0;
		return;
	}
	history(ui.hist, &ev, H_SETSIZE, HISTORY_LINES);
	el_set(ui.el, EL_HIST, history, ui.hist);
	el_set(ui.el, EL_SIGNAL, 0);
	el_set(ui.el, EL_GETCFN, read_key);
	el_set(ui.el, EL_PROMPT_ESC, prompt_text, PROMPT_IGNORE);
	el_set(ui.el, EL_EDITOR, "emacs");
	/* Wide names: libedit keeps them (a narrow one it copies and
	 * never frees). */
	el_wset(ui.el, EL_ADDFN, L"rpcchat-complete",
	    L"complete a command or a user name", complete_key);
	el_wset(ui.el, EL_ADDFN, L"rpcchat-suspend", L"stop the client",
	    suspend_key);
	el_wset(ui.el, EL_ADDFN, L"rpcchat-search",
	    L"search the history backwards as you type", search_begin_key);
	el_wset(ui.el, EL_ADDFN, L"rpcchat-quote",
	    L"insert the next key as it is", quote_begin_key);
	for (i = 0; i < sizeof bindings / sizeof bindings[0]; i++)
		el_set(ui.el, EL_BIND, bindings[i][0], bindings[i][1], NULL);
	/* ~/.editrc may bind keys of its own. */
	el_source(ui.el, NULL);
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
		ui.installed = 0;
	}
	if (ui.el != NULL) {
		/* Gives the terminal its modes back. */
		el_set(ui.el, EL_UNBUFFERED, 0);
		el_end(ui.el);
		ui.el = NULL;
	}
	if (ui.hist != NULL) {
		history_end(ui.hist);
		ui.hist = NULL;
	}
	free(ui.history_path);
	ui.history_path = NULL;
	end_overflow();
	buf_free(&ui.needle);
	buf_free(&ui.search_prompt);
	buf_free(&ui.search_saved);
	buf_free(&ui.keys);
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

int
ui_interrupt(void)
{
	const LineInfoW *li;
	struct buf line = BUF_INIT;
	struct span t;

	if (!ui.terminal || !ui.installed)
		return 0;
	li = el_wline(ui.el);
	if (ui.overflow) {
		buf_append(&line, ui.over.data, ui.over.len);
		buf_append(&line, ui.over_tail.data, ui.over_tail.len);
	} else if (li->lastchar > li->buffer || ui.searching || ui.quoting)
		append_wide(&line, li->buffer, li->lastchar);
	else
		return 0;
	/* Like a shell: leave the cut line on show, start a fresh one. */
	hide_input();
	ui.searching = ui.quoting = 0;
	t = text_trim((struct span){ line.data, line.len });
	show_line(t, ui.overflow ? ui.over_len : t.len, "^C");
	buf_free(&line);
	end_overflow();
	install();
	fflush(stdout);
	return 1;
}

void
ui_resize(void)
{
	if (!ui.terminal || !ui.installed)
		return;
	el_resize(ui.el);
	hide_input();
	show_input();
}

void
ui_continue(void)
{
	if (!ui.terminal || !ui.installed)
		return;
	/* The shell may have changed the modes while we were stopped. */
	el_set(ui.el, EL_PREP_TERM, 0);
	el_set(ui.el, EL_PREP_TERM, 1);
	hide_input();
	show_input();
}
