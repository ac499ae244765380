/*
 * clock.h - the one clock every deadline and timeout is measured on:
 * monotonic milliseconds, so a change of the wall clock moves none of them.
 */
#ifndef RPCCHAT_CLOCK_H
#define RPCCHAT_CLOCK_H

long long	clock_ms(void);

#endif
