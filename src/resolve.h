/*
 * resolve.h - a host name looked up off the event loop (PROTOCOL.md §5.3).
 *
 * getaddrinfo() blocks for as long as the resolver likes (tens of
 * seconds when a DNS server stops answering) and cannot be cancelled.
 * So each lookup runs getaddrinfo() in a detached thread of its own and
 * says it is done by making a descriptor readable: the caller polls that
 * descriptor with everything else and keeps its own deadline.  A caller
 * that gives up abandons the lookup; the thread frees it when getaddrinfo
 * finally returns.
 *
 * A thread, rather than c-ares or getaddrinfo_a: it is getaddrinfo itself,
 * so names resolve exactly as for every other program on the machine
 * (nsswitch.conf: /etc/hosts, DNS, mDNS, systemd-resolved, ...), which
 * c-ares does not follow; and getaddrinfo_a is the same threads with a
 * signal-or-thread notification to plumb and a gai_cancel that cannot
 * cancel a lookup already running.
 */
#ifndef RPCCHAT_RESOLVE_H
#define RPCCHAT_RESOLVE_H

#include <netdb.h>

struct resolve;

/*
 * An address written as digits needs no resolver: 0 with the address
 * (freeaddrinfo it), at once; -1 when host is a name to look up.
 */
int		 resolve_numeric(const char *host, const char *port,
		    struct addrinfo **res);

/*
 * Starts looking up host:port (TCP, AI_ADDRCONFIG).  NULL with a reason
 * in err (ANET_ERR_LEN bytes) when no thread could be started.
 */
struct resolve	*resolve_start(const char *host, const char *port, char *err);
/* Readable once the lookup is over. */
int		 resolve_fd(const struct resolve *);
/*
 * Once resolve_fd is readable: frees the lookup and returns 0 with the
 * addresses (freeaddrinfo them), or -1 with the reason in err.
 */
int		 resolve_finish(struct resolve *, struct addrinfo **res,
		    char *err);
/* Gives up on a lookup still running (or done but not finished). */
void		 resolve_abandon(struct resolve *);

#endif
