/*
 * command.h - one line typed at the client, parsed (PROTOCOL.md §5.2).
 *
 * Pure: no I/O, no allocation.  The spans of the result point into the
 * line given, so they live as long as it does.
 */
#ifndef RPCCHAT_COMMAND_H
#define RPCCHAT_COMMAND_H

#include "span.h"

enum cmd_kind {
	CMD_NONE,		/* an empty line: do nothing */
	CMD_TELL,		/* target, message */
	CMD_SAY,		/* message */
	CMD_LIST,
	CMD_QUIT,
	CMD_SHUTDOWN,
	CMD_HELP,
	CMD_USAGE,		/* a known command used wrongly: usage */
	CMD_UNKNOWN		/* word is what was typed */
};

struct command {
	enum cmd_kind	 kind;
	struct span	 target;
	struct span	 message;
	struct span	 word;
	const char	*usage;		/* "usage: tell <user> <message>" */
};

/*
 * Parses one line (without its newline).  Surrounding white space is
 * ignored; the message of tell and say is the rest of the line after the
 * command (and the user), trimmed, with its inner spacing kept.  Command
 * names are case-sensitive.
 */
void	command_parse(struct span line, struct command *);

/* The command names, NULL-terminated, for completion. */
extern const char *const command_names[];

/*
 * Whether the word after this command is a user name, for completion: so
 * a command that takes one is completed by knowing it here alone.
 */
int	command_takes_user(struct span command);

/* The help: one line per command, each ending in a newline. */
extern const char command_help[];

#endif
