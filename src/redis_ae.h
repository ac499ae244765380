/*
 * redis_ae.h - hiredis's asynchronous API on our event loop (ae.h): the
 * five hooks hiredis calls to start and stop watching its socket.
 */
#ifndef RPCCHAT_REDIS_AE_H
#define RPCCHAT_REDIS_AE_H

#include <hiredis/async.h>

struct ae_loop;

/* Attaches ac to the loop; -1 if it is attached already. */
int	redis_ae_attach(struct ae_loop *, redisAsyncContext *ac);

#endif
