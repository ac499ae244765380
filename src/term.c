/*
 * term.c - the line editor at a terminal (see term.h).
 *
 * libedit is driven through its native wide-character interface
 * (el_wgets, el_wline), one key at a time, from the client's poll loop.
 * Not through libedit's readline emulation: that emulation points
 * rl_line_buffer into the buffer el_gets() and el_line() convert the line
 * into, which they move with realloc as the line grows past 1 KiB, and
 * rl_callback_read_char() then writes the line's end into the freed
 * block (and a caller reading rl_line_buffer reads it).  el_wline() hands
 * out libedit's own line, valid until the next edit; it is read at once
 * and never kept.
 *
 * How libedit is driven:
 *
 * - Unbuffered mode: el_wgets() edits one key and returns.  A line is
 *   accepted when it ends in the newline libedit appends at Enter (no
 *   other key puts one in a line); Ctrl-D on an empty line leaves the
 *   one character ^D.  After a line libedit would go on appending to
 *   it: turning unbuffered mode off and on again (install()) empties the
 *   line, forgets the history position and draws a fresh prompt.
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
 *   itself, and SIGWINCH/SIGCONT come here through term_resize and
 *   term_continue.
 *
 * What enters libedit is bounded: a line longer than EDIT_MAX characters
 * (a paste, mostly), or one that took more than LINE_KEYS_MAX bytes of
 * keys (a paste of junk), is taken out of the editor and off the screen.
 * Its bytes are kept here, up to the same UI_LINE_MAX as a pipe's line,
 * until the end of the line, and the line is then run exactly as the
 * same line on a pipe would be; the screen shows its start and its size.
 * So the editor's work per key stays small, and a megabyte pasted costs
 * a few reads.
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include <histedit.h>

#include "buf.h"
#include "command.h"
#include "history.h"
#include "term.h"
#include "text.h"
#include "username.h"
#include "xmalloc.h"

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
#define C_RESET		"\033[0m"

static struct {
	int		 installed;	/* the prompt is on the screen */
	struct buf	 user;		/* escaped, NUL-terminated */
	struct buf	 prompt;	/* with PROMPT_IGNORE markers */
	char		*history_path;
	ui_users_fn	*users;
	void		*arg;
	EditLine	*el;
	History		*hist;
	struct buf	 keys;		/* read from the terminal, not edited */
	size_t		 keys_off;
	wint_t		 last_key;	/* the last key read_key gave libedit */
	int		 no_reads;	/* only what libedit pushed back */
	int		 asked;		/* libedit asked read_key for a key */
	size_t		 line_keys;	/* bytes of keys given for this line */
	int		 quoting;	/* Ctrl-V: the next key as it is */
	int		 hangup;	/* the terminal is gone */
	/* Ctrl-R (search_key). */
	int		 searching;
	struct buf	 needle;	/* NUL-terminated */
	struct buf	 search_prompt;
	struct buf	 search_saved;	/* the line before, NUL-terminated */
	int		 match;		/* the history line shown, or -1 */
	int		 search_failed;
	/* A line longer than EDIT_MAX: its bytes, not libedit's. */
	int		 overflow;
	struct buf	 over;		/* the line up to where keys go */
	struct buf	 over_tail;	/* what stood after libedit's cursor */
	size_t		 over_len;	/* bytes of the line, kept or not */
} term;

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

	if (term.el == NULL ||
	    el_get(term.el, EL_GETTC, "co", &cols, NULL) != 0 || cols < 2)
		return 80;
	return (size_t)cols;
}

/* Takes the prompt and the line off the screen; the cursor ends where the
 * prompt began, on a cleared row. */
void
term_hide(void)
{
	struct layout l = { 0, 0, screen_cols() };
	const LineInfoW *li;
	const wchar_t *p;
	int w;

	if (!term.installed)
		return;
	if (term.searching)
		layout_bytes(&l, term.search_prompt.data,
		    term.search_prompt.len);
	else {
		layout_bytes(&l, term.user.data, term.user.len);
		layout_bytes(&l, "> ", 2);
	}
	li = el_wline(term.el);
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

void
term_show(void)
{
	if (!term.installed)
		return;
	fflush(stdout);
	el_set(term.el, EL_REFRESH);
}

/*
 * An empty line and a fresh prompt, wherever libedit was (see the top);
 * also how the first prompt is drawn.
 */
static void
install(void)
{
	el_set(term.el, EL_UNBUFFERED, 0);
	el_set(term.el, EL_UNBUFFERED, 1);
	term.installed = 1;
	term.line_keys = 0;
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


/*
 * Completion: a command name first on the line, a user after a command
 * that takes one (command_takes_user).
 */

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
	} else if (command_takes_user(before) && term.users != NULL) {
		n = term.users(term.arg, &cand);
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
	/* What they share ends at a character, not inside one. */
	while (len > word.len && len < first.len &&
	    ((unsigned char)first.p[len] & 0xc0) == 0x80)
		len--;
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
		/* ui_printf draws the line again below them. */
		ui_printf(UI_INFO, "%s", shown.data);
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
	history(term.hist, &ev, H_ENTER, line);
}

static void
remember(struct span line)
{
	HistEvent ev;
	struct buf b = BUF_INIT;

	/* One line of text each: a line typed with ^V^J or ^@ in it is not
	 * one the history file can hold. */
	if (text_trim(line).len == 0 ||
	    memchr(line.p, '\n', line.len) != NULL ||
	    memchr(line.p, '\0', line.len) != NULL)
		return;
	buf_append(&b, line.p, line.len);
	buf_append(&b, "", 1);
	if (history(term.hist, &ev, H_FIRST) == 0 &&
	    strcmp(ev.str, b.data) == 0) {
		buf_free(&b);
		return;
	}
	history(term.hist, &ev, H_ENTER, b.data);
	/*
	 * Appended now, so a client that is killed still keeps it, and
	 * appended only: other clients append to the same file.
	 */
	if (term.history_path != NULL)
		history_append(term.history_path, b.data, HISTORY_LINES);
	buf_free(&b);
}

/* The terminal. */

static char *
prompt_text(EditLine *el)
{
	(void)el;
	return term.searching ? term.search_prompt.data : term.prompt.data;
}

/*
 * Reads what the terminal has, at most max bytes, waiting at most
 * wait_ms (-1: not at all, poll said it is there).  1 when bytes came,
 * 0 when none did; a terminal that hung up sets term.hangup.
 */
static int
fill_keys(size_t max, int wait_ms)
{
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	ssize_t got;

	if (term.keys_off == term.keys.len) {
		buf_clear(&term.keys);
		term.keys_off = 0;
	}
	if (wait_ms >= 0 && poll(&pfd, 1, wait_ms) <= 0)
		return 0;
	got = read(STDIN_FILENO, buf_reserve(&term.keys, max), max);
	if (got == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (got <= 0) {
		term.hangup = 1;
		return 0;
	}
	term.keys.len += (size_t)got;
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
		if (term.keys_off == term.keys.len &&
		    !fill_keys(KEYS_READ, KEY_WAIT_MS))
			return 0;
		avail = term.keys.len - term.keys_off;
		memset(&st, 0, sizeof st);
		r = mbrtowc(wc, term.keys.data + term.keys_off, avail, &st);
		if (r == (size_t)-2 && avail < MB_LEN_MAX &&
		    fill_keys(KEYS_READ, KEY_WAIT_MS))
			continue;
		if (r == (size_t)-1 || r == (size_t)-2) {
			/* Not a character: the next byte may begin one. */
			term.keys_off++;
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
	term.asked = 1;
	if (term.no_reads || !peek_char(wc, &len))
		return 0;
	term.keys_off += len;
	term.line_keys += len;
	term.last_key = (wint_t)*wc;
	return 1;
}

/* libedit's line replaced with text (NUL-terminated), the cursor at its
 * end; the caller draws it. */
static void
set_line(const char *text)
{
	const LineInfoW *li = el_wline(term.el);
	int n = (int)(li->lastchar - li->buffer);

	el_cursor(term.el, (int)(li->lastchar - li->cursor));
	el_deletestr(term.el, n);
	insert_text(term.el, span_cstr(text));
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

	if (i < 0 || history(term.hist, &ev, H_FIRST) != 0)
		return NULL;
	while (i-- > 0)
		if (history(term.hist, &ev, H_NEXT) != 0)
			return NULL;
	return ev.str;
}

/* The first history line from start on that holds the needle, or -1. */
static int
history_find(int start)
{
	HistEvent ev;
	int i = 0;

	if (history(term.hist, &ev, H_FIRST) != 0)
		return -1;
	do {
		if (i >= start && strstr(ev.str, term.needle.data) != NULL)
			return i;
		i++;
	} while (history(term.hist, &ev, H_NEXT) == 0);
	return -1;
}

static void
search_prompt(void)
{
	buf_clear(&term.search_prompt);
	buf_appendf(&term.search_prompt, "(%sreverse-i-search)`",
	    term.search_failed ? "failed " : "");
	text_escape(&term.search_prompt, (struct span){ term.needle.data,
	    term.needle.len });
	buf_appendf(&term.search_prompt, "': ");
}

/* Looks for the needle from history line start on and shows the result. */
static void
search_update(int start)
{
	const char *line;
	int i;

	i = term.needle.len > 0 ? history_find(start) : -1;
	term_hide();
	term.search_failed = term.needle.len > 0 && i < 0;
	if (i >= 0 && (line = history_line(i)) != NULL) {
		term.match = i;
		set_line(line);
	}
	search_prompt();
	term_show();
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

	if (term.search_failed || (term.match >= 0 &&
	    (line = history_line(term.match)) != NULL &&
	    strstr(line, term.needle.data) != NULL)) {
		term_hide();
		search_prompt();
		term_show();
	} else
		search_update(term.match < 0 ? 0 : term.match);
}

static void
search_end(int restore)
{
	term_hide();
	term.searching = 0;
	if (restore)
		set_line(term.search_saved.data);
	term_show();
}

static unsigned char
search_begin_key(EditLine *el, int ch)
{
	const LineInfoW *li = el_wline(el);

	(void)ch;
	buf_clear(&term.search_saved);
	append_wide(&term.search_saved, li->buffer, li->lastchar);
	buf_append(&term.search_saved, "", 1);
	buf_clear(&term.needle);
	*buf_reserve(&term.needle, 1) = '\0';
	term_hide();
	term.searching = 1;
	term.search_failed = 0;
	term.match = -1;
	search_prompt();
	term_show();
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
		term.keys_off += len;
		search_update(term.match + 1);
	} else if (wc == L'\177' || wc == L'\b') {
		term.keys_off += len;
		while (term.needle.len > 0 && ((unsigned char)
		    term.needle.data[term.needle.len - 1] & 0xc0) == 0x80)
			term.needle.len--;
		if (term.needle.len > 0)
			term.needle.len--;
		term.needle.data[term.needle.len] = '\0';
		search_update(0);
	} else if (wc == L'\007') {
		term.keys_off += len;
		search_end(1);
	} else if (iswprint((wint_t)wc)) {
		/* Beyond NEEDLE_MAX a key changes nothing (a paste). */
		if (term.needle.len + len > NEEDLE_MAX) {
			term.keys_off += len;
			return;
		}
		buf_append(&term.needle, term.keys.data + term.keys_off, len);
		*buf_reserve(&term.needle, 1) = '\0';
		term.keys_off += len;
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
	term.quoting = 1;
	return CC_NORM;
}

static void
quote_key(void)
{
	wchar_t s[2] = { L'\0', L'\0' };
	size_t len;

	if (!peek_char(&s[0], &len))
		return;
	term.keys_off += len;
	term.quoting = 0;
	if (s[0] == L'\0' || s[0] == L'\n') {
		el_beep(term.el);
		return;
	}
	term_hide();
	el_winsertstr(term.el, s);
	term_show();
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
	fprintf(stdout, "%s> %s%s\n", term.user.data, shown.data, end);
	buf_free(&shown);
}

/*
 * The line libedit holds is too long to edit: its bytes go on here, and
 * it leaves the screen (an empty prompt is cheap to draw again below
 * what is printed meanwhile, and hides nothing).
 */
static void
begin_overflow(void)
{
	const LineInfoW *li = el_wline(term.el);

	buf_clear(&term.over);
	buf_clear(&term.over_tail);
	append_wide(&term.over, li->buffer, li->cursor);
	append_wide(&term.over_tail, li->cursor, li->lastchar);
	term.over_len = term.over.len + term.over_tail.len;
	term.overflow = 1;
	term_hide();
	install();
	fflush(stdout);
}

static void
end_overflow(void)
{
	term.overflow = 0;
	buf_free(&term.over);
	buf_free(&term.over_tail);
	term.over_len = 0;
}

/*
 * The bytes of an over-long line up to its end ('\r' or '\n', as Enter
 * sends), kept while it is at most UI_LINE_MAX.  At its end the screen
 * shows it cut short and the line is run; 1 when fn says stop.
 */
static int
overflow_keys(ui_line_fn *fn, void *arg)
{
	const char *p = term.keys.data + term.keys_off, *cr, *nl;
	size_t n = term.keys.len - term.keys_off;
	struct buf line = BUF_INIT;
	int stop = 0, was, kept;

	cr = memchr(p, '\r', n);
	nl = memchr(p, '\n', cr != NULL ? (size_t)(cr - p) : n);
	if (nl != NULL)
		cr = nl;
	if (cr != NULL)
		n = (size_t)(cr - p);
	was = term.over_len > UI_LINE_MAX;
	term.over_len += n;
	if (term.over_len <= UI_LINE_MAX)
		buf_append(&term.over, p, n);
	else if (term.over.len > PREVIEW_MAX + MB_LEN_MAX) {
		/* Refused: only its start is still to be shown. */
		term.over.len = PREVIEW_MAX + MB_LEN_MAX;
		buf_clear(&term.over_tail);
	}
	term.keys_off += n;
	/* Said as soon as it is so, as a pipe does. */
	if (!was && term.over_len > UI_LINE_MAX)
		ui_refuse();
	if (cr == NULL)
		return 0;
	term.keys_off++;
	kept = term.over_len <= UI_LINE_MAX;
	buf_append(&line, term.over.data, term.over.len);
	buf_append(&line, term.over_tail.data, term.over_tail.len);
	term_hide();
	show_line((struct span){ line.data, line.len }, term.over_len, "");
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
	const LineInfoW *li = el_wline(term.el);
	size_t len = (size_t)(li->lastchar - li->buffer);
	struct buf line = BUF_INIT;
	int stop;

	if (was_empty && len == 1 && li->buffer[0] == CTRL_D &&
	    term.last_key == CTRL_D)
		return 2;
	/* Only Enter puts a newline in the line (quote_key refuses one). */
	if (len > 0 && li->lastchar[-1] == L'\n') {
		append_wide(&line, li->buffer, li->lastchar - 1);
		remember((struct span){ line.data, line.len });
		/* Back to a fresh prompt before the line's output. */
		install();
		fflush(stdout);
		stop = ui_deliver(fn, arg,
		    (struct span){ line.data, line.len });
		buf_free(&line);
		return stop;
	}
	if (len >= EDIT_MAX || term.line_keys >= LINE_KEYS_MAX)
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
		li = el_wline(term.el);
		was_empty = li->lastchar == li->buffer;
		term.last_key = WEOF;
		term.asked = 0;
		term.no_reads = i > 0;
		el_wgets(term.el, &n);
		term.no_reads = 0;
		if (i > 0 && term.asked)
			return 0;
		if ((rc = after_key(fn, arg, was_empty)) != 0 ||
		    term.overflow || term.searching || term.quoting)
			return rc;
	}
	return 0;
}

int
term_read(ui_line_fn *fn, void *arg)
{
	int rc = 0;

	if (!fill_keys(term.overflow ? OVER_READ : KEYS_READ, -1))
		return term.hangup;
	while (term.keys_off < term.keys.len && rc == 0) {
		if (term.overflow)
			rc = overflow_keys(fn, arg);
		else if (term.searching)
			search_key();
		else if (term.quoting)
			quote_key();
		else
			rc = edit_key(fn, arg);
	}
	if (rc == 1) {
		/* Leaving: what was typed after is not run. */
		buf_clear(&term.keys);
		term.keys_off = 0;
	}
	return rc == 2 || term.hangup;
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

int
term_start(const struct term_opts *opts)
{
	HistEvent ev;
	size_t i;

	memset(&term, 0, sizeof term);
	term.users = opts->users;
	term.arg = opts->arg;
	buf_appendf(&term.user, "%s", opts->user);
	setlocale(LC_CTYPE, "");
	if (opts->color)
		buf_appendf(&term.prompt, "%c" C_OWN "%c%s%c" C_RESET "%c> ",
		    PROMPT_IGNORE, PROMPT_IGNORE, term.user.data,
		    PROMPT_IGNORE, PROMPT_IGNORE);
	else
		buf_appendf(&term.prompt, "%s> ", term.user.data);

	if ((term.el = el_init("rpcchat", stdin, stdout, stderr)) == NULL ||
	    (term.hist = history_init()) == NULL) {
		term_stop();
		return -1;
	}
	history(term.hist, &ev, H_SETSIZE, HISTORY_LINES);
	el_set(term.el, EL_HIST, history, term.hist);
	el_set(term.el, EL_SIGNAL, 0);
	el_set(term.el, EL_GETCFN, read_key);
	el_set(term.el, EL_PROMPT_ESC, prompt_text, PROMPT_IGNORE);
	el_set(term.el, EL_EDITOR, "emacs");
	/* Wide names: libedit keeps them (a narrow one it copies and
	 * never frees). */
	el_wset(term.el, EL_ADDFN, L"rpcchat-complete",
	    L"complete a command or a user name", complete_key);
	el_wset(term.el, EL_ADDFN, L"rpcchat-suspend", L"stop the client",
	    suspend_key);
	el_wset(term.el, EL_ADDFN, L"rpcchat-search",
	    L"search the history backwards as you type", search_begin_key);
	el_wset(term.el, EL_ADDFN, L"rpcchat-quote",
	    L"insert the next key as it is", quote_begin_key);
	for (i = 0; i < sizeof bindings / sizeof bindings[0]; i++)
		el_set(term.el, EL_BIND, bindings[i][0], bindings[i][1], NULL);
	/* ~/.editrc may bind keys of its own. */
	el_source(term.el, NULL);
	if (opts->history && (term.history_path = history_path()) != NULL)
		history_load(term.history_path, HISTORY_LINES, history_add,
		    NULL);
	install();
	fflush(stdout);
	return 0;
}

void
term_stop(void)
{
	if (term.installed) {
		term_hide();
		fflush(stdout);
		term.installed = 0;
	}
	if (term.el != NULL) {
		/* Gives the terminal its modes back. */
		el_set(term.el, EL_UNBUFFERED, 0);
		el_end(term.el);
		term.el = NULL;
	}
	if (term.hist != NULL) {
		history_end(term.hist);
		term.hist = NULL;
	}
	free(term.history_path);
	term.history_path = NULL;
	end_overflow();
	buf_free(&term.needle);
	buf_free(&term.search_prompt);
	buf_free(&term.search_saved);
	buf_free(&term.keys);
	buf_free(&term.prompt);
	buf_free(&term.user);
	fflush(stdout);
}

int
term_interrupt(void)
{
	const LineInfoW *li;
	struct buf line = BUF_INIT;
	struct span t;

	if (!term.installed)
		return 0;
	li = el_wline(term.el);
	if (term.overflow) {
		buf_append(&line, term.over.data, term.over.len);
		buf_append(&line, term.over_tail.data, term.over_tail.len);
	} else if (li->lastchar > li->buffer || term.searching || term.quoting)
		append_wide(&line, li->buffer, li->lastchar);
	else
		return 0;
	/* Like a shell: leave the cut line on show, start a fresh one. */
	term_hide();
	term.searching = term.quoting = 0;
	t = text_trim((struct span){ line.data, line.len });
	show_line(t, term.overflow ? term.over_len : t.len, "^C");
	buf_free(&line);
	end_overflow();
	install();
	fflush(stdout);
	return 1;
}

void
term_resize(void)
{
	if (!term.installed)
		return;
	el_resize(term.el);
	term_hide();
	term_show();
}

void
term_continue(void)
{
	if (!term.installed)
		return;
	/* The shell may have changed the modes while we were stopped. */
	el_set(term.el, EL_PREP_TERM, 0);
	el_set(term.el, EL_PREP_TERM, 1);
	term_hide();
	term_show();
}
