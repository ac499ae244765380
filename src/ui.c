/*
 * ui.c - the client's terminal and pipe input and output (see ui.h).
 *
 * The lines printed are the same in both modes but for colour and where
 * they go; at a terminal they go above the line being typed, which the
 * line editor (term.c) takes off the screen and draws again.  Lines read
 * come through one check, the same in both modes: at most UI_LINE_MAX.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "proto.h"
#include "term.h"
#include "text.h"
#include "ui.h"
#include "username.h"

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
	struct buf	 user;		/* escaped, NUL-terminated */
	ui_refused_fn	*refused;
	void		*arg;

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
	term_hide();
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
	term_show();
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

void
ui_refuse(void)
{
	ui_printf(UI_ERROR, "input line longer than %u bytes ignored",
	    UI_LINE_MAX);
	if (ui.refused != NULL)
		ui.refused(ui.arg);
}

int
ui_deliver(ui_line_fn *fn, void *arg, struct span line)
{
	if (line.len > UI_LINE_MAX) {
		ui_refuse();
		return 0;
	}
	return fn(arg, line);
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
			ui_deliver(fn, arg, (struct span){ ui.in.data, n });
		}
		return 1;
	}
	ui.in.len += (size_t)got;
	while ((nl = memchr(ui.in.data + ui.scanned, '\n',
	    ui.in.len - ui.scanned)) != NULL) {
		n = (size_t)(nl - ui.in.data);
		if (ui.discarding)
			ui.discarding = 0;
		else if (ui_deliver(fn, arg,
		    (struct span){ ui.in.data, n }) != 0) {
			buf_consume(&ui.in, n + 1);
			ui.scanned = 0;
			return 0;
		}
		buf_consume(&ui.in, n + 1);
		ui.scanned = 0;
	}
	ui.scanned = ui.in.len;
	if (ui.discarding || ui.in.len > UI_LINE_MAX) {
		if (!ui.discarding)
			ui_refuse();
		ui.discarding = 1;
		buf_clear(&ui.in);
		ui.scanned = 0;
	}
	return 0;
}

int
ui_read(ui_line_fn *fn, void *arg)
{
	return ui.terminal ? term_read(fn, arg) : read_pipe(fn, arg);
}

void
ui_start(const struct ui_opts *opts)
{
	struct term_opts to;

	memset(&ui, 0, sizeof ui);
	ui.started = 1;
	ui.terminal = opts->terminal;
	ui.color = opts->terminal && opts->color && ui_color_allowed();
	ui.err_color = ui.color && isatty(STDERR_FILENO);
	ui.timestamps = opts->timestamps;
	ui.refused = opts->refused;
	ui.arg = opts->arg;
	text_escape(&ui.user, span_cstr(opts->user));
	if (!ui.terminal)
		return;
	memset(&to, 0, sizeof to);
	to.user = ui.user.data;
	to.color = ui.color;
	to.history = opts->history;
	to.users = opts->users;
	to.arg = opts->arg;
	if (term_start(&to) == -1) {
		fprintf(stderr, "rpcchat: the line editor could not start; "
		    "reading the terminal as a pipe\n");
		ui.terminal = ui.color = ui.err_color = 0;
	}
}

void
ui_stop(void)
{
	if (!ui.started)
		return;
	if (ui.terminal)
		term_stop();
	buf_free(&ui.in);
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
	return ui.terminal && term_interrupt();
}

void
ui_resize(void)
{
	if (ui.terminal)
		term_resize();
}

void
ui_continue(void)
{
	if (ui.terminal)
		term_continue();
}
