/* rpc.c - how a client's call failed (see rpc.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rpc.h"
#include "text.h"

void
rpc_error_init(struct rpc_error *err)
{
	memset(err, 0, sizeof *err);
	buf_init(&err->msg);
}

void
rpc_error_free(struct rpc_error *err)
{
	buf_free(&err->msg);
	err->status = RPC_OK;
}

/* Keeps msg NUL-terminated, whatever was appended to it. */
static void
terminate(struct buf *b)
{
	buf_reserve(b, 1);
	b->data[b->len] = '\0';
}

void
rpc_error_setf(struct rpc_error *err, enum rpc_status status,
    const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	err->status = status;
	buf_clear(&err->msg);
	buf_append(&err->msg, line, strlen(line));
	terminate(&err->msg);
}

void
rpc_error_set_server(struct rpc_error *err, struct span errstr)
{
	err->status = RPC_ERR_SERVER;
	buf_clear(&err->msg);
	text_escape(&err->msg, errstr);
	terminate(&err->msg);
}

void
rpc_error_clear(struct rpc_error *err)
{
	err->status = RPC_OK;
	buf_clear(&err->msg);
	terminate(&err->msg);
}
