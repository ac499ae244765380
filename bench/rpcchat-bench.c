/*
 * rpcchat-bench.c - command line, phases and report of the load generator
 * (see bench.h), and the entry to the stateless responder.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "xmalloc.h"

#ifndef RPCCHAT_VERSION
#define RPCCHAT_VERSION "unknown"
#endif

static const char *mix_names[MSG_NTYPES] = {
	[MSG_REGISTER] = "register",
	[MSG_LIST] = "list",
	[MSG_CHECK_MESSAGES] = "check",
	[MSG_TELL] = "tell",
	[MSG_SAY] = "say",
	[MSG_QUIT] = "quit",
	[MSG_SHUTDOWN] = "shutdown",
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: rpcchat-bench [options] [HOST:PORT]\n"
"       rpcchat-bench [--wire W] --responder PORT\n"
"\n"
"Load: every call is one TCP connection (the protocol's rule).\n"
"  --host HOST            server address (default 127.0.0.1)\n"
"  -p, --port PORT        server port (default 3410)\n"
"  -c, --concurrency N    calls in flight (default 64)\n"
"  -d, --duration SECS    run this long (default 5)\n"
"  -n, --calls N          or make exactly N calls\n"
"  -u, --users N          users, registered first (default 100)\n"
"      --mix SPEC         call mix, e.g. check=90,say=5,tell=4,list=1\n"
"                         (also register, quit; weights, any sum)\n"
"  -s, --size BYTES       Say/Tell message size (default 32)\n"
"  -t, --threads N        client threads sharing the slots (default 1)\n"
"      --wire W           framed (default) or unframed (PROTOCOL.md §6)\n"
"      --timeout MS       a whole call, connect included (default 5000)\n"
"      --prefix P         user names are P + base62(i) (default b)\n"
"      --register-only    register the users (a login storm) and stop\n"
"      --no-register      the users are registered already\n"
"      --collect          CheckMessages every user until its queue is\n"
"                         empty; count what arrives\n"
"      --expect-says N    with --collect: every user must get exactly N\n"
"                         Says of one earlier run, in order, once each\n"
"      --nonce N          the Says to expect carry this run number\n"
"      --json             print one JSON object instead of the report\n"
"  -q, --quiet            no progress lines\n"
"\n"
"Web: tabs of a browser on an rpcchat --web front end at HOST:PORT.\n"
"      --web-sessions N   WebSockets, each logged in as a user of its own\n"
"      --web-pid PID      the front end's process, for its memory and CPU\n"
"      --web-says N       Says a second in the delay window (default 10)\n"
"                         (-d sets each window's length, --prefix names)\n"
"\n"
"Responder: answer every call with the smallest valid response.\n"
"      --responder PORT   listen on PORT (0: any), log \"Listening on :P\"\n"
"\n"
"Exit status: 0 if every call succeeded (and --expect-says held), 1 if\n"
"not, 2 for a usage error.\n");
}

static void
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "rpcchat-bench: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	usage(stderr);
	exit(2);
}

static long long
parse_num(const char *s, long long min, long long max, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		usage_error("bad %s", what);
	return v;
}

static void
parse_mix(struct bench_cfg *cfg, const char *spec)
{
	char *copy = xstrdup(spec), *tok, *save = NULL, *eq;
	unsigned i;

	memset(cfg->mix, 0, sizeof cfg->mix);
	cfg->mix_total = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(tok, '=')) == NULL)
			usage_error("bad mix entry: %s", tok);
		*eq++ = '\0';
		for (i = 0; i < MSG_NTYPES; i++)
			if (strcmp(tok, mix_names[i]) == 0)
				break;
		if (i == MSG_NTYPES || i == MSG_SHUTDOWN)
			usage_error("unknown call in mix: %s", tok);
		cfg->mix[i] += (unsigned)parse_num(eq, 0, 1000000, "mix weight");
		cfg->mix_total += cfg->mix[i];
	}
	free(copy);
	if (cfg->mix_total == 0)
		usage_error("empty mix: %s", spec);
}

static void
format_mix(const struct bench_cfg *cfg, char *out, size_t len)
{
	size_t off = 0;
	unsigned i;
	int k;

	out[0] = '\0';
	for (i = 0; i < MSG_NTYPES; i++) {
		if (cfg->mix[i] == 0)
			continue;
		k = snprintf(out + off, len - off, "%s%s=%u", off ? "," : "",
		    mix_names[i], cfg->mix[i]);
		if (k < 0 || (size_t)k >= len - off)
			break;
		off += (size_t)k;
	}
}

static void
resolve(struct bench_cfg *cfg, const char *host, const char *port)
{
	struct addrinfo hints, *res;
	int e;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "rpcchat-bench: %s:%s: %s\n", host, port,
		    gai_strerror(e));
		exit(1);
	}
	memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
	cfg->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

static double
ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static uint64_t
total_errors(const struct bench_stats *st)
{
	uint64_t n = 0;
	int k;

	for (k = 0; k < BERR_NKINDS; k++)
		n += st->errors[k];
	return n;
}

static double
rate(const struct bench_stats *st)
{
	return st->elapsed > 0 ? (double)st->ok / st->elapsed : 0;
}

/* JSON string body: only our own texts and server errors go here. */
static void
json_str(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void
json_stats(const char *name, const struct bench_stats *st)
{
	uint64_t calls = st->ok + total_errors(st);
	int k, first = 1;

	printf("\"%s\": {\"ok\": %llu, \"errors\": %llu, \"seconds\": %.6f, "
	    "\"calls_per_sec\": %.1f, ", name, (unsigned long long)st->ok,
	    (unsigned long long)total_errors(st), st->elapsed, rate(st));
	printf("\"latency_ms\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
	    "\"p99.9\": %.3f, \"max\": %.3f, \"mean\": %.3f}, ",
	    ms(hist_quantile(&st->lat, 0.5)), ms(hist_quantile(&st->lat, 0.9)),
	    ms(hist_quantile(&st->lat, 0.99)),
	    ms(hist_quantile(&st->lat, 0.999)), ms(st->lat.max),
	    st->lat.count ? ms(st->lat.sum / st->lat.count) : 0.0);
	printf("\"error_kinds\": {");
	for (k = 0; k < BERR_NKINDS; k++) {
		printf("%s\"%s\": %llu", k ? ", " : "", bench_err_name(k),
		    (unsigned long long)st->errors[k]);
	}
	printf("}, \"error_samples\": {");
	for (k = 0; k < BERR_NKINDS; k++) {
		if (st->errors[k] == 0)
			continue;
		printf("%s\"%s\": ", first ? "" : ", ", bench_err_name(k));
		json_str(st->err_sample[k]);
		first = 0;
	}
	printf("}, \"by_type\": {");
	first = 1;
	for (k = 0; k < MSG_NTYPES; k++) {
		if (st->by_type[k] == 0)
			continue;
		printf("%s\"%s\": %llu", first ? "" : ", ", mix_names[k],
		    (unsigned long long)st->by_type[k]);
		first = 0;
	}
	printf("}, \"messages_received\": %llu, \"bytes_received\": %llu, "
	    "\"closed_before_fin\": %llu, \"client_cpu_s\": %.3f, "
	    "\"client_cpu_us_per_call\": %.2f}",
	    (unsigned long long)st->messages,
	    (unsigned long long)st->bytes_in,
	    (unsigned long long)st->no_eof, st->cpu_user + st->cpu_sys,
	    calls ? (st->cpu_user + st->cpu_sys) * 1e6 / (double)calls : 0.0);
}

static void
print_stats(const char *name, const struct bench_stats *st)
{
	uint64_t calls = st->ok + total_errors(st);
	int k;

	printf("%s: %llu calls ok in %.2f s: %.0f calls/s\n", name,
	    (unsigned long long)st->ok, st->elapsed, rate(st));
	if (st->lat.count > 0)
		printf("  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f"
		    "  max %.3f\n", ms(hist_quantile(&st->lat, 0.5)),
		    ms(hist_quantile(&st->lat, 0.9)),
		    ms(hist_quantile(&st->lat, 0.99)),
		    ms(hist_quantile(&st->lat, 0.999)), ms(st->lat.max));
	if (total_errors(st) == 0)
		printf("  errors: none\n");
	for (k = 0; k < BERR_NKINDS; k++)
		if (st->errors[k] != 0)
			printf("  errors %-9s %llu (first: %s)\n",
			    bench_err_name(k),
			    (unsigned long long)st->errors[k],
			    st->err_sample[k]);
	printf("  calls:");
	for (k = 0; k < MSG_NTYPES; k++)
		if (st->by_type[k] != 0)
			printf(" %s %llu", mix_names[k],
			    (unsigned long long)st->by_type[k]);
	printf("; messages received %llu\n",
	    (unsigned long long)st->messages);
	printf("  client CPU %.2f s, %.1f us per call\n",
	    st->cpu_user + st->cpu_sys,
	    calls ? (st->cpu_user + st->cpu_sys) * 1e6 / (double)calls : 0.0);
}

int
main(int argc, char **argv)
{
	enum { O_HOST = 256, O_MIX, O_WIRE, O_TIMEOUT, O_PREFIX, O_REGONLY,
	    O_NOREG, O_COLLECT, O_EXPECT, O_NONCE, O_JSON, O_RESPONDER,
	    O_WEB, O_WEB_PID, O_WEB_SAYS, O_HELP, O_VERSION };
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, 'p' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "calls", required_argument, NULL, 'n' },
		{ "users", required_argument, NULL, 'u' },
		{ "mix", required_argument, NULL, O_MIX },
		{ "size", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "wire", required_argument, NULL, O_WIRE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "prefix", required_argument, NULL, O_PREFIX },
		{ "register-only", no_argument, NULL, O_REGONLY },
		{ "no-register", no_argument, NULL, O_NOREG },
		{ "collect", no_argument, NULL, O_COLLECT },
		{ "expect-says", required_argument, NULL, O_EXPECT },
		{ "nonce", required_argument, NULL, O_NONCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "responder", required_argument, NULL, O_RESPONDER },
		{ "web-sessions", required_argument, NULL, O_WEB },
		{ "web-pid", required_argument, NULL, O_WEB_PID },
		{ "web-says", required_argument, NULL, O_WEB_SAYS },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct web_bench_cfg wcfg = { .says_per_s = 10 };
	struct bench_cfg cfg, rcfg;
	struct bench_stats st, rst;
	struct collect_stats cs;
	const char *host = "127.0.0.1", *port = "3410", *responder = NULL;
	char *hp = NULL, *colon, mixbuf[128], addrbuf[300];
	int ch, json = 0, quiet = 0, regonly = 0, noreg = 0, collect = 0;
	int have_n = 0, have_d = 0, registered = 0, failed = 0;
	long long expect = -1;
	uint32_t i, worst_lo = UINT32_MAX, worst_hi = 0, misordered = 0;
	uint32_t wrong_users = 0;
	size_t plen;

	memset(&cfg, 0, sizeof cfg);
	cfg.wire = WIRE_FRAMED;
	cfg.concurrency = 64;
	cfg.threads = 1;
	cfg.duration = 5;
	cfg.users = 100;
	cfg.prefix = "b";
	cfg.size = 32;
	cfg.timeout_ms = 5000;
	cfg.nonce = (uint32_t)(time(NULL) ^ (getpid() << 16)) % 1000000000u;
	parse_mix(&cfg, "check=90,say=5,tell=4,list=1");

	while ((ch = getopt_long(argc, argv, "p:c:d:n:u:s:t:q", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case O_HOST:
			host = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'c':
			cfg.concurrency = (int)parse_num(optarg, 1, 100000,
			    "concurrency");
			break;
		case 'd':
			cfg.duration = strtod(optarg, NULL);
			if (cfg.duration <= 0 || cfg.duration > 86400)
				usage_error("bad duration: %s", optarg);
			have_d = 1;
			break;
		case 'n':
			cfg.ncalls = (uint64_t)parse_num(optarg, 1,
			    1000000000000LL, "call count");
			have_n = 1;
			break;
		case 'u':
			cfg.users = (uint32_t)parse_num(optarg, 1, 10000000,
			    "user count");
			break;
		case O_MIX:
			parse_mix(&cfg, optarg);
			break;
		case 's':
			cfg.size = (size_t)parse_num(optarg, 0, 60000,
			    "message size");
			break;
		case 't':
			cfg.threads = (int)parse_num(optarg, 1, 256, "threads");
			break;
		case O_WIRE:
			if (strcmp(optarg, "framed") == 0)
				cfg.wire = WIRE_FRAMED;
			else if (strcmp(optarg, "unframed") == 0)
				cfg.wire = WIRE_UNFRAMED;
			else
				usage_error("bad wire: %s", optarg);
			break;
		case O_TIMEOUT:
			cfg.timeout_ms = (int)parse_num(optarg, 1, 3600000,
			    "timeout");
			break;
		case O_PREFIX:
			cfg.prefix = optarg;
			break;
		case O_REGONLY:
			regonly = 1;
			break;
		case O_NOREG:
			noreg = 1;
			break;
		case O_COLLECT:
			collect = 1;
			break;
		case O_EXPECT:
			expect = parse_num(optarg, 0, 100000000, "Say count");
			break;
		case O_NONCE:
			cfg.nonce = (uint32_t)parse_num(optarg, 0, 999999999,
			    "nonce");
			break;
		case O_JSON:
			json = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case O_RESPONDER:
			responder = optarg;
			break;
		case O_WEB:
			wcfg.sessions = (int)parse_num(optarg, 1, 100000,
			    "web sessions");
			break;
		case O_WEB_PID:
			wcfg.pid = (int)parse_num(optarg, 1, 1 << 30, "pid");
			break;
		case O_WEB_SAYS:
			wcfg.says_per_s = (double)parse_num(optarg, 1, 10000,
			    "Says a second");
			break;
		case O_HELP:
			usage(stdout);
			return 0;
		case O_VERSION:
			printf("rpcchat-bench %s\n", RPCCHAT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (responder != NULL) {
		if (argc != 0)
			usage_error("%s", "--responder takes no address");
		return responder_main(responder, cfg.wire, quiet);
	}
	if (argc > 1)
		usage_error("%s", "too many arguments");
	if (argc == 1) {
		/* HOST:PORT, :PORT or [V6]:PORT */
		hp = xstrdup(argv[0]);
		if ((colon = strrchr(hp, ':')) == NULL)
			usage_error("not HOST:PORT: %s", argv[0]);
		*colon = '\0';
		port = colon + 1;
		if (hp[0] == '[' && colon > hp && colon[-1] == ']') {
			colon[-1] = '\0';
			host = hp + 1;
		} else if (hp[0] != '\0')
			host = hp;
	}
	if (have_n && have_d)
		usage_error("%s", "-n and -d exclude each other");
	if (have_n)
		cfg.duration = 0;
	if (regonly && noreg)
		usage_error("%s", "--register-only and --no-register exclude "
		    "each other");
	plen = strlen(cfg.prefix);
	for (i = 0; i < plen; i++)
		if (!((cfg.prefix[i] >= 'a' && cfg.prefix[i] <= 'z') ||
		    (cfg.prefix[i] >= 'A' && cfg.prefix[i] <= 'Z') ||
		    (cfg.prefix[i] >= '0' && cfg.prefix[i] <= '9')))
			usage_error("prefix must be ASCII letters and digits: %s",
			    cfg.prefix);
	/* base62 of 10M is 4 digits: the names must stay within 20 bytes. */
	if (plen > 16)
		usage_error("prefix too long: %s", cfg.prefix);
	if (expect >= 0 && !collect)
		usage_error("%s", "--expect-says needs --collect");
	signal(SIGPIPE, SIG_IGN);
	resolve(&cfg, host, port);
	snprintf(addrbuf, sizeof addrbuf, strchr(host, ':') != NULL ?
	    "[%s]:%s" : "%s:%s", host, port);
	format_mix(&cfg, mixbuf, sizeof mixbuf);
	if (wcfg.sessions > 0) {
		wcfg.duration = cfg.duration;
		wcfg.prefix = cfg.prefix;
		snprintf(wcfg.hostport, sizeof wcfg.hostport, "%s", addrbuf);
		failed = bench_web(&wcfg, &cfg.addr, cfg.addrlen);
		free(hp);
		return failed;
	}

	memset(&rst, 0, sizeof rst);
	if (!noreg && !collect) {
		rcfg = cfg;
		rcfg.mode = MODE_REGISTER;
		if ((uint32_t)rcfg.concurrency > cfg.users)
			rcfg.concurrency = (int)cfg.users;
		if (!quiet && !json)
			fprintf(stderr, "registering %u users...\n", cfg.users);
		bench_run(&rcfg, &rst, NULL);
		registered = 1;
		if (total_errors(&rst) != 0)
			failed = 1;
	}
	memset(&st, 0, sizeof st);
	memset(&cs, 0, sizeof cs);
	if (collect) {
		cfg.mode = MODE_COLLECT;
		cs.user = xcalloc(cfg.users, sizeof *cs.user);
		bench_run(&cfg, &st, &cs);
		for (i = 0; i < cfg.users; i++) {
			if (cs.user[i].says < worst_lo)
				worst_lo = cs.user[i].says;
			if (cs.user[i].says > worst_hi)
				worst_hi = cs.user[i].says;
			misordered += cs.user[i].misordered;
			if (expect >= 0 && cs.user[i].says != expect)
				wrong_users++;
		}
		if (misordered || wrong_users)
			failed = 1;
	} else if (!regonly && !(failed && !noreg)) {
		cfg.mode = MODE_MIX;
		if (!quiet && !json)
			fprintf(stderr, "running...\n");
		bench_run(&cfg, &st, NULL);
	}
	if (total_errors(&st) != 0)
		failed = 1;

	if (json) {
		printf("{\"target\": ");
		json_str(addrbuf);
		printf(", \"wire\": \"%s\", \"concurrency\": %d, "
		    "\"threads\": %d, \"users\": %u, \"mix\": \"%s\", "
		    "\"size\": %zu, \"nonce\": %u, ", wire_name(cfg.wire),
		    cfg.concurrency, cfg.threads, cfg.users, mixbuf, cfg.size,
		    cfg.nonce);
		if (registered) {
			json_stats("register", &rst);
			printf(", ");
		}
		if (!regonly)
			json_stats(collect ? "collect" : "run", &st);
		else
			json_stats("run", &rst);
		if (collect)
			printf(", \"collected\": {\"calls\": %llu, \"says\": %llu, "
			    "\"says_min_per_user\": %u, "
			    "\"says_max_per_user\": %u, "
			    "\"misordered_or_duplicate\": %u, "
			    "\"users_not_as_expected\": %u, \"tells\": %llu, "
			    "\"notices\": %llu, \"drop_notices\": %llu, "
			    "\"dropped\": %llu, \"not_logged_in\": %llu, "
			    "\"other\": %llu}",
			    (unsigned long long)cs.calls,
			    (unsigned long long)cs.says,
			    worst_lo == UINT32_MAX ? 0 : worst_lo, worst_hi,
			    misordered, wrong_users,
			    (unsigned long long)cs.tells,
			    (unsigned long long)cs.notices,
			    (unsigned long long)cs.drop_notices,
			    (unsigned long long)cs.dropped,
			    (unsigned long long)cs.not_logged_in,
			    (unsigned long long)cs.other);
		printf(", \"failed\": %s}\n", failed ? "true" : "false");
	} else {
		printf("rpcchat-bench %s: %s (%s), %d in flight, %d thread%s, "
		    "%u users", RPCCHAT_VERSION, addrbuf, wire_name(cfg.wire),
		    cfg.concurrency, cfg.threads, cfg.threads > 1 ? "s" : "",
		    cfg.users);
		if (!collect && !regonly)
			printf(", mix %s, %zu-byte messages", mixbuf, cfg.size);
		printf("\n");
		if (registered)
			print_stats("register", &rst);
		if (collect) {
			print_stats("collect", &st);
			printf("  collected: %llu Says of run %u (per user %u.."
			    "%u), %u misordered or duplicate, %llu Tells, "
			    "%llu notices, %llu drop notices (%llu dropped), "
			    "%llu not logged in, %llu other\n",
			    (unsigned long long)cs.says, cfg.nonce,
			    worst_lo == UINT32_MAX ? 0 : worst_lo, worst_hi,
			    misordered, (unsigned long long)cs.tells,
			    (unsigned long long)cs.notices,
			    (unsigned long long)cs.drop_notices,
			    (unsigned long long)cs.dropped,
			    (unsigned long long)cs.not_logged_in,
			    (unsigned long long)cs.other);
			if (expect >= 0)
				printf("  expected %lld Says per user: %s "
				    "(%u users differ)\n", expect,
				    wrong_users ? "FAILED" : "ok",
				    wrong_users);
		} else if (!regonly && st.elapsed > 0)
			print_stats("run", &st);
		if (failed && registered && total_errors(&rst) != 0 && !regonly)
			printf("registration failed: not running the load\n");
	}
	free(cs.user);
	free(hp);
	return failed ? 1 : 0;
}
