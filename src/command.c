/* command.c - parsing a typed line into a command (see command.h). */
#include <string.h>

#include "command.h"
#include "text.h"

const char *const command_names[] = {
	"tell", "say", "list", "quit", "shutdown", "help", NULL
};

const char command_help[] =
	"tell <user> <message>  send a private message to one user\n"
	"say <message>          send a message to everyone logged in\n"
	"list                   show who is logged in\n"
	"quit                   log out and leave\n"
	"shutdown               stop the server and leave\n"
	"help                   show this list\n";

int
command_takes_user(struct span command)
{
	return span_eq(command, SPAN_LIT("tell"));
}

/* Splits the first word off s: the word, and the trimmed rest in *rest. */
static struct span
first_word(struct span s, struct span *rest)
{
	struct span w = { s.p, 0 };

	while (w.len < s.len && !text_is_space(s.p[w.len]))
		w.len++;
	*rest = text_trim((struct span){ s.p + w.len, s.len - w.len });
	return w;
}

static void
usage(struct command *cmd, const char *text)
{
	cmd->kind = CMD_USAGE;
	cmd->usage = text;
}

/* The commands that take no arguments. */
static const struct {
	const char		*name;
	enum cmd_kind		 kind;
	const char		*usage;
} bare[] = {
	{ "list",	CMD_LIST,	"usage: list" },
	{ "quit",	CMD_QUIT,	"usage: quit" },
	{ "shutdown",	CMD_SHUTDOWN,	"usage: shutdown" },
	{ "help",	CMD_HELP,	"usage: help" },
};

static void
parse_bare(struct span word, struct span rest, struct command *cmd)
{
	size_t i;

	for (i = 0; i < sizeof bare / sizeof bare[0]; i++) {
		if (!span_eq(word, span_cstr(bare[i].name)))
			continue;
		if (rest.len != 0)
			usage(cmd, bare[i].usage);
		else
			cmd->kind = bare[i].kind;
		return;
	}
	cmd->kind = CMD_UNKNOWN;
}

void
command_parse(struct span line, struct command *cmd)
{
	struct span word, rest, target, message;

	memset(cmd, 0, sizeof *cmd);
	line = text_trim(line);
	if (line.len == 0) {
		cmd->kind = CMD_NONE;
		return;
	}
	word = first_word(line, &rest);
	cmd->word = word;

	if (span_eq(word, SPAN_LIT("tell"))) {
		target = first_word(rest, &message);
		if (target.len == 0 || message.len == 0) {
			usage(cmd, "usage: tell <user> <message>");
			return;
		}
		cmd->kind = CMD_TELL;
		cmd->target = target;
		cmd->message = message;
	} else if (span_eq(word, SPAN_LIT("say"))) {
		if (rest.len == 0) {
			usage(cmd, "usage: say <message>");
			return;
		}
		cmd->kind = CMD_SAY;
		cmd->message = rest;
	} else
		parse_bare(word, rest, cmd);
}
