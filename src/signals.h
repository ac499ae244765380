/*
 * signals.h - the signals that stop a server or a web front end (SIGINT,
 * SIGTERM, SIGHUP), taken as a descriptor the event loop reads, so a
 * handler never runs in the middle of the loop's work.
 */
#ifndef RPCCHAT_SIGNALS_H
#define RPCCHAT_SIGNALS_H

/*
 * Blocks the three signals, ignores SIGPIPE (a peer that went away is an
 * error on its write, not the end of the process) and returns a
 * non-blocking signalfd that reads them; -1 with errno set.
 */
int	signals_open(void);

#endif
