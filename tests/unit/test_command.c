/*
 * test_command.c - parsing of the lines typed at the client (PROTOCOL.md §5.2).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec.h"
#include "command.h"
#include "unit.h"

static struct command
parse(const char *line)
{
	struct command cmd;

	command_parse(span_cstr(line), &cmd);
	return cmd;
}

static void
test_empty(void **state)
{
	assert_int_equal(parse("").kind, CMD_NONE);
	assert_int_equal(parse("   ").kind, CMD_NONE);
	assert_int_equal(parse(" \t \r").kind, CMD_NONE);
}

static void
test_tell(void **state)
{
	struct command c;

	c = parse("tell bob hello");
	assert_int_equal(c.kind, CMD_TELL);
	assert_span(c.target, "bob");
	assert_span(c.message, "hello");

	/* Surrounding space goes, inner spacing stays. */
	c = parse("  tell \t bob   hello   there  world \t ");
	assert_int_equal(c.kind, CMD_TELL);
	assert_span(c.target, "bob");
	assert_span(c.message, "hello   there  world");

	/* The target is taken as typed; the server judges it. */
	c = parse("tell no_such!user hi");
	assert_int_equal(c.kind, CMD_TELL);
	assert_span(c.target, "no_such!user");
	assert_span(c.message, "hi");
}

static void
test_tell_usage(void **state)
{
	struct command c;

	c = parse("tell");
	assert_int_equal(c.kind, CMD_USAGE);
	assert_string_equal(c.usage, "usage: tell <user> <message>");
	c = parse("tell bob");
	assert_int_equal(c.kind, CMD_USAGE);
	assert_string_equal(c.usage, "usage: tell <user> <message>");
	c = parse("tell   bob    ");
	assert_int_equal(c.kind, CMD_USAGE);
}

static void
test_say(void **state)
{
	struct command c;

	c = parse("say hello");
	assert_int_equal(c.kind, CMD_SAY);
	assert_span(c.message, "hello");
	c = parse("say   hello    world  ");
	assert_int_equal(c.kind, CMD_SAY);
	assert_span(c.message, "hello    world");
	c = parse("say\thi");
	assert_int_equal(c.kind, CMD_SAY);
	assert_span(c.message, "hi");
	/* Bytes of any kind pass through: the server judges, the UI escapes. */
	c = parse("say caf\xc3\xa9 \x1b[2J");
	assert_int_equal(c.kind, CMD_SAY);
	assert_span(c.message, "caf\xc3\xa9 \x1b[2J");

	c = parse("say");
	assert_int_equal(c.kind, CMD_USAGE);
	assert_string_equal(c.usage, "usage: say <message>");
	c = parse("say    ");
	assert_int_equal(c.kind, CMD_USAGE);
}

static void
test_no_argument_commands(void **state)
{
	static const struct {
		const char	*line;
		enum cmd_kind	 kind;
		const char	*usage;
	} cases[] = {
		{ "list", CMD_LIST, "usage: list" },
		{ "quit", CMD_QUIT, "usage: quit" },
		{ "shutdown", CMD_SHUTDOWN, "usage: shutdown" },
		{ "help", CMD_HELP, "usage: help" },
	};
	struct command c;
	char line[64];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(parse(cases[i].line).kind, cases[i].kind);
		snprintf(line, sizeof line, "  %s \t", cases[i].line);
		assert_int_equal(parse(line).kind, cases[i].kind);
		snprintf(line, sizeof line, "%s now", cases[i].line);
		c = parse(line);
		assert_int_equal(c.kind, CMD_USAGE);
		assert_string_equal(c.usage, cases[i].usage);
	}
}

static void
test_unknown(void **state)
{
	struct command c;

	c = parse("dance wildly");
	assert_int_equal(c.kind, CMD_UNKNOWN);
	assert_span(c.word, "dance");

	/* Case-sensitive, like the reference client. */
	c = parse("Say hi");
	assert_int_equal(c.kind, CMD_UNKNOWN);
	assert_span(c.word, "Say");
	c = parse("LIST");
	assert_int_equal(c.kind, CMD_UNKNOWN);
	assert_span(c.word, "LIST");

	/* A prefix of a command is not the command. */
	c = parse("tel bob hi");
	assert_int_equal(c.kind, CMD_UNKNOWN);
	c = parse("says hi");
	assert_int_equal(c.kind, CMD_UNKNOWN);
	assert_span(c.word, "says");
}

static void
test_embedded_nul(void **state)
{
	static const char line[] = "say a\0b";
	struct command c;

	command_parse((struct span){ line, sizeof line - 1 }, &c);
	assert_int_equal(c.kind, CMD_SAY);
	assert_int_equal(c.message.len, 3);
	assert_memory_equal(c.message.p, "a\0b", 3);
}

static void
test_names_and_help(void **state)
{
	size_t i;

	for (i = 0; command_names[i] != NULL; i++) {
		assert_non_null(strstr(command_help, command_names[i]));
		assert_int_not_equal(parse(command_names[i]).kind, CMD_UNKNOWN);
	}
	assert_int_equal(i, 6);
}

/* Completion offers user names after exactly the commands that take one. */
static void
test_takes_user(void **state)
{
	struct command c;
	char line[64];
	size_t i;

	for (i = 0; command_names[i] != NULL; i++) {
		snprintf(line, sizeof line, "%s bob hi", command_names[i]);
		c = parse(line);
		assert_int_equal(command_takes_user(span_cstr(command_names[i])),
		    c.target.len > 0);
	}
	assert_true(command_takes_user(SPAN_LIT("tell")));
	assert_false(command_takes_user(SPAN_LIT("tel")));
	assert_false(command_takes_user(SPAN_LIT("")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_tell),
		cmocka_unit_test(test_tell_usage),
		cmocka_unit_test(test_say),
		cmocka_unit_test(test_no_argument_commands),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_names_and_help),
		cmocka_unit_test(test_takes_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
