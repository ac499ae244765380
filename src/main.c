/*
 * main.c - the command line: "rpcchat PORT" serves, "rpcchat HOST:PORT
 * USER" chats (PROTOCOL.md §1, §3.5).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anet.h"
#include "client.h"
#include "server.h"
#include "xmalloc.h"

static const char usage_text[] =
    "usage: rpcchat [options] PORT\n"
    "       rpcchat [options] HOST:PORT USER\n"
    "Try 'rpcchat --help' for more.\n";

static const char help_text[] =
    "rpcchat - chat server and client over a small RPC protocol\n"
    "\n"
    "  rpcchat [options] PORT             serve on PORT, all addresses\n"
    "  rpcchat [options] HOST:PORT USER   chat as USER (HOST may be empty\n"
    "                                     for localhost, or [IPv6])\n"
    "\n"
    "Server options:\n"
    "  --max-users N          refuse Register beyond N users (default: as\n"
    "                         many as one List response holds)\n"
    "  --queue-limit N        messages kept per user (10000)\n"
    "  --idle-timeout SECS    log out users who stop polling; 0 = never (300)\n"
    "  --read-timeout SECS    close connections with no full request (10)\n"
    "  --max-connections N    connections open at once (1024)\n"
    "  --allow-shutdown WHO   who may call Shutdown: any, local or none (any)\n"
    "  --max-memory SIZE      bytes of chat state kept at most (256M; K, M,\n"
    "                         G suffixes; at least 4M)\n"
    "  --store URL            where the chat lives: memory (default) or\n"
    "                         redis://HOST:PORT[/DB], shared by front ends\n"
    "\n"
    "Client options:\n"
    "  -c COMMAND             run COMMAND (repeatable), then log out;\n"
    "                         standard input is not read\n"
    "  --no-history           do not keep line history across runs\n"
    "  --no-color             no colour (also when NO_COLOR is set or\n"
    "                         TERM=dumb)\n"
    "  --timestamps           HH:MM before incoming messages (the default\n"
    "                         on a terminal)\n"
    "  --no-timestamps        no times, also on a terminal\n"
    "  --strict               refuse sloppy responses (no error string,\n"
    "                         bytes after it) instead of using them\n"
    "  --wire auto            find the generation with a List before\n"
    "                         Register (the client's default)\n"
    "\n"
    "Both:\n"
    "  --wire framed|unframed protocol generation (server: framed, its\n"
    "                         default; client: no detection)\n"
    "  -h, --help, --version\n"
    "\n"
    "Options may come before or after the arguments; -- ends them.\n"
    "The client exits 0 when every command succeeded, 1 otherwise;\n"
    "a usage error exits 2.\n";

enum {
	OPT_MAX_USERS = 256,
	OPT_QUEUE_LIMIT,
	OPT_IDLE_TIMEOUT,
	OPT_READ_TIMEOUT,
	OPT_MAX_CONNECTIONS,
	OPT_ALLOW_SHUTDOWN,
	OPT_MAX_MEMORY,
	OPT_STORE,
	OPT_NO_HISTORY,
	OPT_NO_COLOR,
	OPT_TIMESTAMPS,
	OPT_NO_TIMESTAMPS,
	OPT_WIRE,
	OPT_STRICT,
	OPT_VERSION
};

static const struct option longopts[] = {
	{ "max-users",		required_argument, NULL, OPT_MAX_USERS },
	{ "queue-limit",	required_argument, NULL, OPT_QUEUE_LIMIT },
	{ "idle-timeout",	required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "read-timeout",	required_argument, NULL, OPT_READ_TIMEOUT },
	{ "max-connections",	required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ "allow-shutdown",	required_argument, NULL, OPT_ALLOW_SHUTDOWN },
	{ "max-memory",		required_argument, NULL, OPT_MAX_MEMORY },
	{ "store",		required_argument, NULL, OPT_STORE },
	{ "no-history",		no_argument,	   NULL, OPT_NO_HISTORY },
	{ "no-color",		no_argument,	   NULL, OPT_NO_COLOR },
	{ "timestamps",		no_argument,	   NULL, OPT_TIMESTAMPS },
	{ "no-timestamps",	no_argument,	   NULL, OPT_NO_TIMESTAMPS },
	{ "wire",		required_argument, NULL, OPT_WIRE },
	{ "strict",		no_argument,	   NULL, OPT_STRICT },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

static void __attribute__((noreturn))
usage(const char *fmt, const char *arg)
{
	if (fmt != NULL) {
		fputs("rpcchat: ", stderr);
		fprintf(stderr, fmt, arg);
		fputc('\n', stderr);
	}
	fputs(usage_text, stderr);
	exit(2);
}

/* A whole decimal number in [min, max], or a usage error. */
static long
number(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno == ERANGE || v < min ||
	    v > max) {
		fprintf(stderr, "rpcchat: --%s: '%s' is not a number from %ld "
		    "to %ld\n", opt, s, min, max);
		usage(NULL, NULL);
	}
	return v;
}

/* A byte count with an optional K, M or G suffix, at least min. */
static size_t
size_arg(const char *opt, const char *s, size_t min)
{
	unsigned long long v;
	size_t shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift != 0)
		end++;
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno == ERANGE ||
	    v > (SIZE_MAX / 2) >> shift || (size_t)v << shift < min) {
		fprintf(stderr, "rpcchat: --%s: '%s' is not a size of at least "
		    "%zuM (a number of bytes, or with a K, M or G suffix)\n",
		    opt, s, min >> 20);
		usage(NULL, NULL);
	}
	return (size_t)v << shift;
}

static const char *
port_arg(const char *s, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno == ERANGE ||
	    v < min || v > 65535)
		usage("'%s' is not a port number", s);
	return s;
}

/*
 * Whoever started us may have closed stdin, stdout or stderr.  The next
 * socket would take that number, and the log (stderr) or the client's
 * output would go to a peer: fill the holes with /dev/null first.
 */
static void
sanitize_stdio(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1) {
		if (fd > STDERR_FILENO) {
			close(fd);
			return;
		}
	}
	/* No /dev/null: nothing better to do than carry on. */
}

int
main(int argc, char **argv)
{
	struct server_opts so = {
		.limits = {
			.max_users = 0,
			.queue_limit = CHAT_DEFAULT_QUEUE_LIMIT,
			.idle_timeout_ms = CHAT_DEFAULT_IDLE_TIMEOUT_MS,
			.max_memory = CHAT_DEFAULT_MAX_MEMORY,
		},
		.read_timeout_ms = SERVER_DEFAULT_READ_TIMEOUT_MS,
		.max_connections = SERVER_DEFAULT_MAX_CONNECTIONS,
		.allow_shutdown = SHUTDOWN_ANY,
		.wire = WIRE_FRAMED,
	};
	struct client_opts co = { .history = 1, .color = 1, .timestamps = -1,
	    .wire_auto = 1 };
	const char *server_opt = NULL, *client_opt = NULL, **commands = NULL;
	char err[ANET_ERR_LEN], *host, *port;
	int ch, idx, status;

	sanitize_stdio();
	/* getopt names us by argv[0]: one name, whatever the path. */
	argv[0] = (char *)"rpcchat";

	/* GNU order: options anywhere, "--" ends them (PROTOCOL.md §3.5). */
	while ((ch = getopt_long(argc, argv, "c:h", longopts, &idx)) != -1) {
		switch (ch) {
		case OPT_MAX_USERS:
			so.limits.max_users = (size_t)number("max-users",
			    optarg, 1, 65535);
			server_opt = "--max-users";
			break;
		case OPT_QUEUE_LIMIT:
			so.limits.queue_limit = (size_t)number("queue-limit",
			    optarg, 1, 10000000);
			server_opt = "--queue-limit";
			break;
		case OPT_IDLE_TIMEOUT:
			so.limits.idle_timeout_ms = 1000 *
			    (int64_t)number("idle-timeout", optarg, 0, 31536000);
			server_opt = "--idle-timeout";
			break;
		case OPT_READ_TIMEOUT:
			so.read_timeout_ms = 1000 * (int)number("read-timeout",
			    optarg, 1, 86400);
			server_opt = "--read-timeout";
			break;
		case OPT_MAX_CONNECTIONS:
			so.max_connections = (int)number("max-connections",
			    optarg, 1, 1000000);
			server_opt = "--max-connections";
			break;
		case OPT_ALLOW_SHUTDOWN:
			if (strcmp(optarg, "any") == 0)
				so.allow_shutdown = SHUTDOWN_ANY;
			else if (strcmp(optarg, "local") == 0)
				so.allow_shutdown = SHUTDOWN_LOCAL;
			else if (strcmp(optarg, "none") == 0)
				so.allow_shutdown = SHUTDOWN_NONE;
			else
				usage("--allow-shutdown: '%s' is not any, "
				    "local or none", optarg);
			server_opt = "--allow-shutdown";
			break;
		case OPT_MAX_MEMORY:
			so.limits.max_memory = size_arg("max-memory", optarg,
			    CHAT_MIN_MAX_MEMORY);
			server_opt = "--max-memory";
			break;
		case OPT_STORE:
			if (strcmp(optarg, "memory") != 0 &&
			    strncmp(optarg, "redis://", 8) != 0)
				usage("--store: '%s' is not memory or "
				    "redis://HOST:PORT[/DB]", optarg);
			so.store_url = optarg;
			server_opt = "--store";
			break;
		case OPT_NO_HISTORY:
			co.history = 0;
			client_opt = "--no-history";
			break;
		case OPT_NO_COLOR:
			co.color = 0;
			client_opt = "--no-color";
			break;
		case OPT_TIMESTAMPS:
		case OPT_NO_TIMESTAMPS:
			co.timestamps = ch == OPT_TIMESTAMPS;
			client_opt = ch == OPT_TIMESTAMPS ? "--timestamps" :
			    "--no-timestamps";
			break;
		case 'c':
			commands = xreallocarray(commands, co.ncommands + 1,
			    sizeof *commands);
			commands[co.ncommands++] = optarg;
			co.commands = (const char *const *)commands;
			client_opt = "-c";
			break;
		case OPT_WIRE:
			co.wire_auto = 0;
			if (strcmp(optarg, "framed") == 0)
				so.wire = co.wire = WIRE_FRAMED;
			else if (strcmp(optarg, "unframed") == 0)
				so.wire = co.wire = WIRE_UNFRAMED;
			else if (strcmp(optarg, "auto") == 0) {
				co.wire_auto = 1;
				client_opt = "--wire auto";
			} else
				usage("--wire: '%s' is not framed, unframed or "
				    "auto", optarg);
			break;
		case OPT_STRICT:
			co.strict = 1;
			client_opt = "--strict";
			break;
		case 'h':
			fputs(help_text, stdout);
			return 0;
		case OPT_VERSION:
			printf("rpcchat %s\n", RPCCHAT_VERSION);
			return 0;
		default:
			usage(NULL, NULL);
		}
	}
	argc -= optind;
	argv += optind;

	if (argc == 0)
		usage("%s", "a server needs PORT, a client HOST:PORT USER");
	if (argc == 1) {
		/* "rpcchat :3410": a client with its user forgotten. */
		if (strchr(argv[0], ':') != NULL)
			usage("'%s' looks like HOST:PORT: a client needs "
			    "HOST:PORT USER", argv[0]);
		if (client_opt != NULL)
			usage("%s is a client option", client_opt);
		so.port = port_arg(argv[0], 0);
		return server_run(&so);
	}
	if (argc == 2) {
		if (server_opt != NULL)
			usage("%s is a server option", server_opt);
		if (anet_split_hostport(argv[0], &host, &port, err) == -1)
			usage("%s", err);
		co.host = host;
		co.port = port_arg(port, 1);
		co.addr = argv[0];
		co.user = argv[1];
		status = client_run(&co);
		free(host);
		free(port);
		free(commands);
		return status;
	}
	for (idx = 0; idx < argc; idx++)
		if (strchr(argv[idx], ':') != NULL)
			usage("too many arguments: a client takes HOST:PORT "
			    "USER%s", co.ncommands > 0 ? " (quote a -c command "
			    "that holds spaces)" : "");
	usage("too many arguments: a server takes only PORT, not '%s'",
	    argv[1]);
}
