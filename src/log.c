/* log.c - timestamped log lines (see log.h). */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "text.h"

static FILE *out;
static int out_set;

void
log_set_output(FILE *f)
{
	out = f;
	out_set = 1;
}

void
log_msg(const char *fmt, ...)
{
	struct buf line = BUF_INIT, safe = BUF_INIT;
	FILE *f = out_set ? out : stderr;
	struct tm tm;
	time_t now;
	va_list ap;

	if (f == NULL)
		return;
	va_start(ap, fmt);
	buf_vappendf(&line, fmt, ap);
	va_end(ap);
	text_escape(&safe, (struct span){ line.data, line.len });

	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	fprintf(f, "%02d:%02d:%02d %.*s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)safe.len, safe.data);
	fflush(f);
	buf_free(&line);
	buf_free(&safe);
}
