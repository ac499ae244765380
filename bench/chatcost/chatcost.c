/*
 * chatcost.c - the chat state alone under make bench's steady-chat mix,
 * in CPU time per call: what the chat layer costs without the network.
 * Build it against any librpcchat.a to compare two builds:
 *
 *   cc -O2 -Isrc bench/chatcost/chatcost.c build/release/librpcchat.a \
 *       -lunistring -o /tmp/chatcost && /tmp/chatcost
 *
 * 100 users; mix check=90,say=5,tell=4,list=1 with 32-byte messages, as
 * bench/run.py's steady chat; prints ns per call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "chat.h"

#define USERS	100
#define CALLS	2000000

static uint64_t rng = 88172645463325252ULL;

static unsigned
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)rng;
}

int
main(void)
{
	struct chat_limits lim = { .queue_limit = 10000 };
	struct buf out = BUF_INIT, err = BUF_INIT;
	static char names[USERS][8];
	struct span name[USERS], msg = { "0123456789abcdef0123456789abcdef",
	    32 };
	struct timespec t0, t1;
	struct chat *c;
	unsigned op;
	long i;

	c = chat_new(&lim);
	for (i = 0; i < USERS; i++) {
		name[i].len = (size_t)snprintf(names[i], sizeof names[i],
		    "u%ld", i);
		name[i].p = names[i];
		chat_register(c, name[i], 0, &err);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	for (i = 0; i < CALLS; i++) {
		op = next() % 100;
		buf_clear(&out);
		buf_clear(&err);
		if (op < 90)
			chat_check_messages(c, name[next() % USERS], 0, &out,
			    &err);
		else if (op < 95)
			chat_say(c, name[next() % USERS], msg, &err);
		else if (op < 99)
			chat_tell(c, name[next() % USERS],
			    name[next() % USERS], msg, &err);
		else
			chat_list(c, &out);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	printf("%.1f ns/call\n", ((t1.tv_sec - t0.tv_sec) * 1e9 +
	    (t1.tv_nsec - t0.tv_nsec)) / CALLS);
	chat_free(c);
	buf_free(&out);
	buf_free(&err);
	return 0;
}
