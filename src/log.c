/* log.c - timestamped log lines that never block (see log.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ae.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "text.h"

enum kind { KIND_EVENT, KIND_CLIENT };

static struct {
	int		 fd;		/* -1: silenced */
	int		 fd_set;	/* log_set_output was called */
	int		 own_fd;	/* fd is our non-blocking reopen */
	int		 restore_flags;	/* -1, or stderr's flags to put back */
	struct ae_loop	*loop;
	int		 watching;
	struct buf	 pending;
	unsigned long long lost;	/* lines the full buffer refused */
	long long	 window;	/* second of the client lines counted */
	unsigned	 in_window;
	unsigned long long suppressed;
} lg = { .fd = STDERR_FILENO, .restore_flags = -1 };

static void	flush(void);

void
log_set_output(FILE *f)
{
	lg.fd = f != NULL ? fileno(f) : -1;
	lg.fd_set = 1;
}

static void
log_writable(struct ae_loop *loop, int fd, void *data, int mask)
{
	(void)loop;
	(void)fd;
	(void)data;
	(void)mask;
	flush();
}

/* Appends one whole line, or counts it lost. */
static void
put_line(const char *text, size_t len)
{
	char stamp[16];
	struct tm tm;
	time_t now;
	int n;

	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	n = snprintf(stamp, sizeof stamp, "%02d:%02d:%02d ", tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	if (n < 0 || (size_t)n >= sizeof stamp)
		n = 0;
	if (lg.pending.len + (size_t)n + len + 1 > LOG_BUF_MAX) {
		lg.lost++;
		return;
	}
	buf_append(&lg.pending, stamp, (size_t)n);
	buf_append(&lg.pending, text, len);
	buf_append(&lg.pending, "\n", 1);
}

/* Counts the lines waiting as lost and forgets them. */
static void
lost_pending(void)
{
	const char *p = lg.pending.data, *end = p + lg.pending.len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lg.lost++;
		p++;
	}
	lg.pending.len = 0;
}

/* Writes what stderr takes now; waits for the loop for the rest. */
static void
flush(void)
{
	char note[80];
	ssize_t n;
	int len;

	for (;;) {
		while (lg.pending.len > 0) {
			n = write(lg.fd, lg.pending.data, lg.pending.len);
			if (n > 0) {
				buf_consume(&lg.pending, (size_t)n);
				continue;
			}
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK) && lg.loop != NULL) {
				if (!lg.watching && ae_watch(lg.loop, lg.fd,
				    AE_WRITABLE, log_writable, NULL) == 0)
					lg.watching = 1;
				if (lg.watching)
					return;
			}
			/* Nowhere to write: the lines are lost. */
			lost_pending();
			return;
		}
		if (lg.watching) {
			ae_unwatch(lg.loop, lg.fd, 0);
			lg.watching = 0;
		}
		if (lg.lost == 0)
			return;
		len = snprintf(note, sizeof note, "%llu log lines lost "
		    "(the log output was not keeping up)", lg.lost);
		lg.lost = 0;
		if (len > 0 && (size_t)len < sizeof note)
			put_line(note, (size_t)len);
	}
}

static void
report_suppressed(void)
{
	char note[96];
	int len;

	if (lg.suppressed == 0)
		return;
	len = snprintf(note, sizeof note, "%llu log lines about clients "
	    "suppressed (more than %d a second)", lg.suppressed,
	    LOG_CLIENT_PER_SEC);
	lg.suppressed = 0;
	if (len > 0 && (size_t)len < sizeof note)
		put_line(note, (size_t)len);
}

long long
log_tick(void)
{
	long long second = clock_ms() / 1000;

	if (lg.suppressed == 0)
		return -1;
	if (second != lg.window) {
		report_suppressed();
		flush();
		return -1;
	}
	return (second + 1) * 1000;
}

static void
vlog(enum kind kind, const char *fmt, va_list ap)
{
	struct buf line = BUF_INIT, safe = BUF_INIT;
	long long second;

	if (lg.fd == -1 && lg.fd_set)
		return;
	if (kind == KIND_CLIENT) {
		second = clock_ms() / 1000;
		if (second != lg.window) {
			report_suppressed();
			lg.window = second;
			lg.in_window = 0;
		}
		if (lg.in_window >= LOG_CLIENT_PER_SEC) {
			lg.suppressed++;
			return;
		}
		lg.in_window++;
	}
	buf_vappendf(&line, fmt, ap);
	/* Callers escape what clients sent; this keeps the rest one line. */
	text_escape(&safe, (struct span){ line.data, line.len });
	put_line(safe.data, safe.len);
	buf_free(&line);
	buf_free(&safe);
	flush();
}

void
log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(KIND_EVENT, fmt, ap);
	va_end(ap);
}

void
log_client(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(KIND_CLIENT, fmt, ap);
	va_end(ap);
}

const char *
log_quote(struct buf *b, struct span s, size_t max)
{
	buf_clear(b);
	text_escape(b, (struct span){ s.p, s.len > max ? max : s.len });
	if (s.len > max)
		buf_append(b, "...", 3);
	buf_append(b, "", 1);
	return b->data;
}

/*
 * A descriptor for stderr that does not block, without changing the
 * one we share with whoever started us: a regular file never blocks; a
 * pipe or terminal is opened again, non-blocking; only when that fails
 * (a socket) is stderr itself made non-blocking, and put back at exit.
 */
static int
nonblocking_fd(int fd)
{
	char path[32];
	struct stat st;
	int nfd, flags;

	if (fstat(fd, &st) == -1 || S_ISREG(st.st_mode))
		return fd;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if ((nfd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY)) != -1) {
		lg.own_fd = 1;
		return nfd;
	}
	if ((flags = fcntl(fd, F_GETFL)) != -1 && !(flags & O_NONBLOCK) &&
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) != -1)
		lg.restore_flags = flags;
	return fd;
}

void
log_attach(struct ae_loop *loop)
{
	if (lg.fd == -1)
		return;
	lg.fd = nonblocking_fd(lg.fd);
	lg.loop = loop;
}

void
log_detach(void)
{
	report_suppressed();
	if (lg.fd != -1)
		flush();
	if (lg.watching)
		ae_unwatch(lg.loop, lg.fd, 0);
	lg.watching = 0;
	lg.loop = NULL;
	if (lg.own_fd) {
		close(lg.fd);
		lg.fd = STDERR_FILENO;
		lg.own_fd = 0;
	} else if (lg.restore_flags != -1) {
		(void)fcntl(lg.fd, F_SETFL, lg.restore_flags);
		lg.restore_flags = -1;
	}
	buf_free(&lg.pending);
}
