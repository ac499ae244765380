/*
 * bench.h - rpcchat-bench: a load generator for any server of the rpcchat
 * protocol (PROTOCOL.md §2, §6), and a stateless responder that defines the
 * transport limit of the machine at hand.
 *
 * Every call is one TCP connection, so the load generator keeps a fixed
 * number of calls in flight ("slots"), shared equally among its threads;
 * each thread drives its slots with non-blocking sockets and its own
 * epoll set, and keeps its own counters and latency histogram, merged at
 * the end.  Nothing is shared between threads while the load runs but two
 * atomic counters (tickets and Say sequence numbers).
 */
#ifndef RPCCHAT_BENCH_H
#define RPCCHAT_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proto.h"

/*
 * Latency histogram in nanoseconds, log-linear: exact below 64 ns, then
 * 128 buckets per power of two, so a quantile is off by under 1%.
 */
#define HIST_SUB_BITS	7
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_NBUCKETS	((64 - HIST_SUB_BITS) * HIST_SUB + HIST_SUB)

struct hist {
	uint64_t	count;
	uint64_t	sum;
	uint64_t	min;
	uint64_t	max;
	uint64_t	b[HIST_NBUCKETS];
};

void		hist_init(struct hist *);
void		hist_add(struct hist *, uint64_t v);
void		hist_merge(struct hist *, const struct hist *);
/* The value below which a fraction q (0..1) of the samples lie. */
uint64_t	hist_quantile(const struct hist *, double q);

/*
 * What went wrong with a call.  Every failed call is counted under
 * exactly one kind; none is dropped.
 */
enum bench_err {
	BERR_REFUSED,		/* connect: ECONNREFUSED */
	BERR_RESET,		/* ECONNRESET / EPIPE while talking */
	BERR_TIMEOUT,		/* no complete response in time */
	BERR_CONNECT,		/* other socket or connect errors (EADDRNOTAVAIL...) */
	BERR_SHORT,		/* EOF before a complete response */
	BERR_MALFORMED,		/* a response that does not parse */
	BERR_SERVER,		/* a well-formed response with an error string */
	BERR_NKINDS
};

const char	*bench_err_name(enum bench_err);

enum bench_mode {
	MODE_MIX,		/* calls drawn from the mix, users at random */
	MODE_REGISTER,		/* Register each user once, in order */
	MODE_COLLECT		/* CheckMessages each user until its queue is empty */
};

#define BENCH_ERR_SAMPLE	160

struct bench_cfg {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	enum wire		 wire;
	enum bench_mode		 mode;
	int			 concurrency;
	int			 threads;
	double			 duration;	/* seconds; 0: ncalls decides */
	uint64_t		 ncalls;
	uint32_t		 users;
	const char		*prefix;	/* user names are prefix + base62(i) */
	unsigned		 mix[MSG_NTYPES];	/* weights */
	unsigned		 mix_total;
	size_t			 size;		/* Say / Tell message bytes */
	int			 timeout_ms;
	uint32_t		 nonce;		/* tells this run's Says apart */
};

struct bench_stats {
	uint64_t	ok;			/* complete, error string empty */
	uint64_t	errors[BERR_NKINDS];
	char		err_sample[BERR_NKINDS][BENCH_ERR_SAMPLE];
	uint64_t	by_type[MSG_NTYPES];	/* completed, ok or server error */
	uint64_t	messages;		/* strings CheckMessages returned */
	uint64_t	bytes_in;
	uint64_t	no_eof;			/* closed before the server's FIN */
	struct hist	lat;			/* complete responses only */
	double		elapsed;		/* seconds, first call to last */
	double		cpu_user;		/* this process, seconds */
	double		cpu_sys;
};

/* What MODE_COLLECT found, per user and in total. */
struct collect_user {
	uint32_t	says;		/* this run's Says seen */
	uint32_t	last_seq;	/* to catch duplicates and reordering */
	uint32_t	misordered;
};

struct collect_stats {
	struct collect_user	*user;		/* cfg.users of them */
	uint64_t		 says;
	uint64_t		 tells;
	uint64_t		 notices;	/* "*** ..." lines but drops */
	uint64_t		 drop_notices;
	uint64_t		 dropped;	/* the numbers they announce */
	uint64_t		 other;
	uint64_t		 not_logged_in;
	uint64_t		 calls;		/* CheckMessages made */
};

/* Runs cfg and fills st (and cs in MODE_COLLECT); exits if it cannot start. */
int	bench_run(const struct bench_cfg *, struct bench_stats *,
	    struct collect_stats *);

/* User name i: prefix + base62(i), short enough that 10,000 fit a List. */
size_t	bench_user_name(const struct bench_cfg *, uint32_t i, char *out,
	    size_t outlen);

/* The stateless responder; returns the exit status. */
int	responder_main(const char *port, enum wire, int quiet);

uint64_t	bench_now_ns(void);

/* The web mode (web.c): tabs on an rpcchat --web front end. */
struct web_bench_cfg {
	int		 sessions;
	int		 pid;		/* the front end's, to measure; 0: none */
	double		 duration;	/* seconds of each window */
	double		 says_per_s;
	const char	*prefix;
	char		 hostport[300];	/* Host and Origin of the page */
};

int	bench_web(const struct web_bench_cfg *,
	    const struct sockaddr_storage *, socklen_t);

#endif
