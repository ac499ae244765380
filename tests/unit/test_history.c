/*
 * test_history.c - the shared history file: appends from several clients
 * at once lose nothing, the file is trimmed to its size, libedit's old
 * format is read and converted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "history.h"

static char dir[] = "/tmp/rpcchat-history-XXXXXX";
static char path[64];

static int
setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/history", dir);
	return 0;
}

static int
teardown(void **state)
{
	unlink(path);
	return rmdir(dir);
}

static void
collect(void *arg, const char *line)
{
	struct buf *b = arg;

	buf_appendf(b, "%s|", line);
}

/* The lines history_load gives, each followed by '|'. */
static void
expect_lines(size_t max, const char *want)
{
	struct buf b = BUF_INIT;

	assert_int_equal(history_load(path, max, collect, &b), 0);
	buf_append(&b, "", 1);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void
write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void
test_append_and_load(void **state)
{
	unlink(path);
	expect_lines(10, "");			/* no file: no lines */
	assert_int_equal(history_append(path, "say one", 10), 0);
	assert_int_equal(history_append(path, "say  two  ", 10), 0);
	expect_lines(10, "say one|say  two  |");
	expect_lines(1, "say  two  |");
	/* Nothing that could not be read back as one line. */
	assert_int_equal(history_append(path, "a\nb", 10), -1);
	assert_int_equal(history_append(path, "", 10), -1);
	expect_lines(10, "say one|say  two  |");
}

static void
test_trimmed_to_size(void **state)
{
	char line[32];
	int i;

	unlink(path);
	for (i = 0; i < 25; i++) {
		snprintf(line, sizeof line, "say %d", i);
		assert_int_equal(history_append(path, line, 5), 0);
	}
	/* The file itself holds only the last 5. */
	expect_lines(100, "say 20|say 21|say 22|say 23|say 24|");
}

static void
test_libedit_file_read_and_converted(void **state)
{
	/* As libedit 3.1's write_history wrote it. */
	write_file("_HiStOrY_V2_\nsay\\040hello\\040\\040world\n"
	    "tell\\040bob\\040a\\134b\\040\\303\\251\n");
	expect_lines(10, "say hello  world|tell bob a\\b \xc3\xa9|");
	assert_int_equal(history_append(path, "list", 10), 0);
	expect_lines(10, "say hello  world|tell bob a\\b \xc3\xa9|list|");
}

static void
test_cut_last_line_dropped(void **state)
{
	write_file("say whole\nsay cut sh");
	expect_lines(10, "say whole|");
	assert_int_equal(history_append(path, "list", 10), 0);
	expect_lines(10, "say whole|list|");
}

/* Four processes appending at once: every line is kept. */
static void
test_concurrent_appends_lose_nothing(void **state)
{
	struct buf b = BUF_INIT;
	char line[32];
	int i, p, status, n;
	pid_t pids[4];

	unlink(path);
	for (p = 0; p < 4; p++) {
		pids[p] = fork();
		assert_true(pids[p] != -1);
		if (pids[p] == 0) {
			for (i = 0; i < 50; i++) {
				snprintf(line, sizeof line, "say %d.%d", p, i);
				if (history_append(path, line, 1000) == -1)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (p = 0; p < 4; p++) {
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(history_load(path, 1000, collect, &b), 0);
	buf_append(&b, "", 1);
	for (n = 0, i = 0; b.data[i] != '\0'; i++)
		n += b.data[i] == '|';
	assert_int_equal(n, 200);
	for (p = 0; p < 4; p++)
		for (i = 0; i < 50; i++) {
			snprintf(line, sizeof line, "say %d.%d|", p, i);
			assert_non_null(strstr(b.data, line));
		}
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_load),
		cmocka_unit_test(test_trimmed_to_size),
		cmocka_unit_test(test_libedit_file_read_and_converted),
		cmocka_unit_test(test_cut_last_line_dropped),
		cmocka_unit_test(test_concurrent_appends_lose_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
