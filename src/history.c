/* history.c - the shared line history file (see history.h). */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "history.h"
#include "xmalloc.h"

#define LIBEDIT_COOKIE	"_HiStOrY_V2_"

/* The lines of a file, as offsets into its text. */
struct lines {
	struct buf	 text;		/* every line, each ending in '\n' */
	size_t		*start;		/* of each line in text */
	size_t		 n, cap;
};

static int
read_all(int fd, struct buf *b)
{
	ssize_t got;

	for (;;) {
		/* One byte more than the bound tells a file that is over. */
		if (b->len > HISTORY_MAX_BYTES)
			return 0;
		got = read(fd, buf_reserve(b, 65536), 65536);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1)
			return -1;
		if (got == 0)
			return 0;
		b->len += (size_t)got;
	}
}

static int
octal(const char *p)
{
	int i, v = 0;

	for (i = 0; i < 3; i++) {
		if (p[i] < '0' || p[i] > '7')
			return -1;
		v = v * 8 + (p[i] - '0');
	}
	return v;
}

/* libedit's strvis escapes: \ooo and \\; anything else is kept. */
static void
unvis_line(struct buf *out, const char *p, size_t len)
{
	size_t i = 0;
	int c;

	while (i < len) {
		if (p[i] == '\\' && i + 4 <= len &&
		    (c = octal(p + i + 1)) > 0 && c != '\n') {
			buf_append(out, &(char){ (char)c }, 1);
			i += 4;
		} else if (p[i] == '\\' && i + 1 < len && p[i + 1] == '\\') {
			buf_append(out, "\\", 1);
			i += 2;
		} else
			buf_append(out, p + i++, 1);
	}
}

static void
add_line(struct lines *l, const char *p, size_t len, int libedit)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->start = xreallocarray(l->start, l->cap, sizeof *l->start);
	}
	l->start[l->n++] = l->text.len;
	if (libedit)
		unvis_line(&l->text, p, len);
	else
		buf_append(&l->text, p, len);
	buf_append(&l->text, "\n", 1);
}

/*
 * Splits the file's bytes into lines; returns whether it was libedit's.
 * An empty line, or a last one without '\n' (a write cut short), is
 * dropped.
 */
static int
parse(struct buf *raw, struct lines *l)
{
	const char *p = raw->data, *end = raw->data + raw->len, *nl;
	size_t n = sizeof LIBEDIT_COOKIE - 1;
	int libedit = 0;

	if (raw->len > n && memcmp(p, LIBEDIT_COOKIE, n) == 0 && p[n] == '\n') {
		libedit = 1;
		p += n + 1;
	}
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (nl > p)
			add_line(l, p, (size_t)(nl - p), libedit);
		p = nl + 1;
	}
	return libedit;
}

static void
lines_free(struct lines *l)
{
	buf_free(&l->text);
	free(l->start);
	memset(l, 0, sizeof *l);
}

/* The first line to keep so that at most max lines and the byte bound
 * remain. */
static size_t
keep_from(const struct lines *l, size_t max)
{
	size_t first = l->n > max ? l->n - max : 0;

	while (first < l->n && l->text.len - l->start[first] >
	    HISTORY_MAX_BYTES)
		first++;
	return first;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
lock(int fd, int how)
{
	while (flock(fd, how) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

int
history_load(const char *path, size_t max, history_line_fn *fn, void *arg)
{
	struct buf raw = BUF_INIT;
	struct lines l;
	size_t i;
	int fd, rc = -1, saved;

	memset(&l, 0, sizeof l);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (lock(fd, LOCK_SH) == -1 || read_all(fd, &raw) == -1)
		goto out;
	parse(&raw, &l);
	for (i = keep_from(&l, max); i < l.n; i++) {
		l.text.data[(i + 1 < l.n ? l.start[i + 1] : l.text.len) - 1] =
		    '\0';
		fn(arg, l.text.data + l.start[i]);
	}
	rc = 0;
out:
	saved = errno;
	close(fd);
	buf_free(&raw);
	lines_free(&l);
	errno = saved;
	return rc;
}

int
history_append(const char *path, const char *line, size_t max)
{
	struct buf raw = BUF_INIT;
	struct lines l;
	size_t first, len = strlen(line);
	int fd, rc = -1, saved, libedit;

	memset(&l, 0, sizeof l);
	if (len == 0 || memchr(line, '\n', len) != NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return -1;
	if (lock(fd, LOCK_EX) == -1 || read_all(fd, &raw) == -1)
		goto out;
	libedit = parse(&raw, &l);
	add_line(&l, line, len, 0);
	first = keep_from(&l, max);
	if (!libedit && first == 0 && raw.len <= HISTORY_MAX_BYTES &&
	    (raw.len == 0 || raw.data[raw.len - 1] == '\n')) {
		/* The common case: one line at the end. */
		if (lseek(fd, 0, SEEK_END) == -1 ||
		    write_all(fd, line, len) == -1 || write_all(fd, "\n", 1) == -1)
			goto out;
	} else {
		/* Trimmed (or converted): the kept lines replace the file. */
		if (lseek(fd, 0, SEEK_SET) == -1 || ftruncate(fd, 0) == -1 ||
		    write_all(fd, l.text.data + (first < l.n ? l.start[first] :
		    l.text.len), l.text.len - (first < l.n ? l.start[first] :
		    l.text.len)) == -1)
			goto out;
	}
	rc = 0;
out:
	saved = errno;
	close(fd);	/* releases the lock */
	buf_free(&raw);
	lines_free(&l);
	errno = saved;
	return rc;
}
