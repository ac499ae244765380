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
#include "store.h"
#include "web.h"
#include "xmalloc.h"

static const char usage_text[] =
    "usage: rpcchat [options] PORT\n"
    "       rpcchat [options] HOST:PORT USER\n"
    "       rpcchat [options] --web [HOST:]PORT HOST:PORT\n"
    "Try 'rpcchat --help' for more.\n";

static const char help_text[] =
    "rpcchat - chat server and client over a small RPC protocol\n"
    "\n"
    "  rpcchat [options] PORT             serve on PORT, all addresses\n"
    "  rpcchat [options] HOST:PORT USER   chat as USER (HOST may be empty\n"
    "                                     for localhost, or [IPv6])\n"
    "  rpcchat [options] --web [HOST:]PORT HOST:PORT\n"
    "                                     serve the chat page on PORT for\n"
    "                                     the server at HOST:PORT\n"
    "\n"
    "Server options:\n"
    "  --max-users N          refuse Register beyond N users (default: as\n"
    "                         many as one List response holds)\n"
    "  --queue-limit N        messages kept per queue and in the log (10000)\n"
    "  --idle-timeout SECS    log out users who stop polling; 0 = never (300)\n"
    "  --read-timeout SECS    close connections with no full request (10)\n"
    "  --max-connections N    connections open at once (1024)\n"
    "  --allow-shutdown WHO   who may call Shutdown: any, local or none (any)\n"
    "  --max-memory SIZE      bytes of chat state kept at most (256M; K, M,\n"
    "                         G suffixes; at least 4M)\n"
    "  --store URL            where the chat lives: memory (default),\n"
    "                         redis://HOST[:PORT][/DB] shared by front ends,\n"
    "                         or redis-sentinel://HOST[:PORT][,...][/DB]#MASTER\n"
    "                         to follow MASTER across failovers\n"
    "  --store-sync N         answer a change only once N Redis replicas\n"
    "                         have it (0)\n"
    "\n"
    "Web options (a server with --web also serves the page for itself):\n"
    "  --web [HOST:]PORT      serve the chat page over HTTP and WebSocket\n"
    "  --web-origin LIST      other origins whose pages may connect\n"
    "                         (comma-separated; default: the same origin)\n"
    "  --web-max-sessions N   chat sessions at once (256)\n"
    "  --web-max-per-address N  sessions and connections from one address\n"
    "                         (16)\n"
    "  --web-session-bytes SIZE  bytes of chat kept per session for a\n"
    "                         reload (256K; K, M suffixes)\n"
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
	OPT_STORE_SYNC,
	OPT_NO_HISTORY,
	OPT_NO_COLOR,
	OPT_TIMESTAMPS,
	OPT_NO_TIMESTAMPS,
	OPT_WIRE,
	OPT_STRICT,
	OPT_WEB,
	OPT_WEB_ORIGIN,
	OPT_WEB_MAX_SESSIONS,
	OPT_WEB_MAX_PER_ADDRESS,
	OPT_WEB_SESSION_BYTES,
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
	{ "store-sync",		required_argument, NULL, OPT_STORE_SYNC },
	{ "no-history",		no_argument,	   NULL, OPT_NO_HISTORY },
	{ "no-color",		no_argument,	   NULL, OPT_NO_COLOR },
	{ "timestamps",		no_argument,	   NULL, OPT_TIMESTAMPS },
	{ "no-timestamps",	no_argument,	   NULL, OPT_NO_TIMESTAMPS },
	{ "wire",		required_argument, NULL, OPT_WIRE },
	{ "strict",		no_argument,	   NULL, OPT_STRICT },
	{ "web",		required_argument, NULL, OPT_WEB },
	{ "web-origin",		required_argument, NULL, OPT_WEB_ORIGIN },
	{ "web-max-sessions",	required_argument, NULL, OPT_WEB_MAX_SESSIONS },
	{ "web-max-per-address", required_argument, NULL,
	    OPT_WEB_MAX_PER_ADDRESS },
	{ "web-session-bytes",	required_argument, NULL, OPT_WEB_SESSION_BYTES },
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
		    "%zu%s (a number of bytes, or with a K, M or G suffix)\n",
		    opt, s, min >= (1u << 20) ? min >> 20 : min >> 10,
		    min >= (1u << 20) ? "M" : "K");
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
	struct web_opts wo = {
		.max_sessions = WEB_DEFAULT_MAX_SESSIONS,
		.max_per_address = WEB_DEFAULT_MAX_PER_ADDRESS,
		.session_bytes = WEB_DEFAULT_SESSION_BYTES,
		.read_timeout_ms = SERVER_DEFAULT_READ_TIMEOUT_MS,
	};
	const char *server_opt = NULL, *client_opt = NULL, **commands = NULL;
	const char *web_opt = NULL, *tty_opt = NULL;
	char err[ANET_ERR_LEN], store_err[512], *host, *port;
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
			if (store_url_check(optarg, store_err,
			    sizeof store_err) == -1)
				usage("%s", store_err);
			so.store_url = optarg;
			server_opt = "--store";
			break;
		case OPT_STORE_SYNC:
			so.store_sync = (int)number("store-sync", optarg, 0,
			    100);
			server_opt = "--store-sync";
			break;
		case OPT_NO_HISTORY:
			co.history = 0;
			client_opt = "--no-history";
			tty_opt = client_opt;
			break;
		case OPT_NO_COLOR:
			co.color = 0;
			client_opt = "--no-color";
			tty_opt = client_opt;
			break;
		case OPT_TIMESTAMPS:
		case OPT_NO_TIMESTAMPS:
			co.timestamps = ch == OPT_TIMESTAMPS;
			client_opt = ch == OPT_TIMESTAMPS ? "--timestamps" :
			    "--no-timestamps";
			tty_opt = client_opt;
			break;
		case 'c':
			commands = xreallocarray(commands, co.ncommands + 1,
			    sizeof *commands);
			commands[co.ncommands++] = optarg;
			co.commands = (const char *const *)commands;
			client_opt = "-c";
			tty_opt = client_opt;
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
		case OPT_WEB:
			wo.listen = optarg;
			break;
		case OPT_WEB_ORIGIN:
			wo.origins = optarg;
			web_opt = "--web-origin";
			break;
		case OPT_WEB_MAX_SESSIONS:
			wo.max_sessions = (int)number("web-max-sessions",
			    optarg, 1, 100000);
			web_opt = "--web-max-sessions";
			break;
		case OPT_WEB_MAX_PER_ADDRESS:
			wo.max_per_address = (int)number("web-max-per-address",
			    optarg, 1, 100000);
			web_opt = "--web-max-per-address";
			break;
		case OPT_WEB_SESSION_BYTES:
			wo.session_bytes = size_arg("web-session-bytes", optarg,
			    WEB_MIN_SESSION_BYTES);
			if (wo.session_bytes > (1u << 30))
				usage("--web-session-bytes: '%s' is more than "
				    "1G", optarg);
			web_opt = "--web-session-bytes";
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
	if (web_opt != NULL && wo.listen == NULL)
		usage("%s needs --web [HOST:]PORT", web_opt);
	if (argc == 1 && wo.listen != NULL && strchr(argv[0], ':') != NULL) {
		/* "rpcchat --web :8080 HOST:PORT": a front end for it. */
		if (server_opt != NULL)
			usage("%s is a server option", server_opt);
		if (tty_opt != NULL)
			usage("%s is an option of the terminal client",
			    tty_opt);
		if (anet_split_hostport(argv[0], &host, &port, err) == -1)
			usage("%s", err);
		wo.host = host;
		wo.port = port_arg(port, 1);
		wo.target = argv[0];
		wo.wire = co.wire_auto ? WIRE_FRAMED : co.wire;
		wo.wire_known = !co.wire_auto;
		wo.strict = co.strict;
		status = web_run(&wo);
		free(host);
		free(port);
		return status;
	}
	if (argc == 1) {
		/* "rpcchat :3410": a client with its user forgotten. */
		if (strchr(argv[0], ':') != NULL)
			usage("'%s' looks like HOST:PORT: a client needs "
			    "HOST:PORT USER", argv[0]);
		if (client_opt != NULL)
			usage("%s is a client option", client_opt);
		if (so.store_sync > 0 && (so.store_url == NULL ||
		    strcmp(so.store_url, "memory") == 0))
			usage("%s", "--store-sync needs a Redis --store");
		so.port = port_arg(argv[0], 0);
		if (wo.listen != NULL) {
			wo.read_timeout_ms = so.read_timeout_ms;
			so.web = &wo;
		}
		return server_run(&so);
	}
	if (argc == 2) {
		if (wo.listen != NULL)
			usage("%s", "--web serves a page for a server: "
			    "rpcchat --web [HOST:]PORT HOST:PORT, or "
			    "rpcchat PORT --web [HOST:]PORT");
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
