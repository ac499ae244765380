# rpcchat - a chat server and client over a small hand-made RPC protocol.
#
#   make            build ./rpcchat and ./rpcchat-bench
#   make run        build and start a server on port 3410
#   make check      build and run every test (unit + end-to-end)
#   make check-sanitize   the same under AddressSanitizer and UBSan
#   make bench      measure, write docs/BENCHMARKS.md
#   make fuzz       run each fuzz target (FUZZ_SECONDS each, clang)
#   make fuzz-tty   drive the client at a terminal at random (ASan, valgrind)
#   make valgrind-check   the end-to-end suite under valgrind memcheck
#   make install    rpcchat, rpcchat-bench, rpcchat-check; PREFIX, DESTDIR
#   make deps       install the Debian packages the build and tests need

VERSION		= 1.0.0
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
MANDIR		?= $(PREFIX)/share/man

CC		?= cc
CFLAGS		?= -O2 -g
WARNFLAGS	= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
		  -Wmissing-prototypes -Wno-unused-parameter
ALL_CFLAGS	= -std=gnu11 -D_GNU_SOURCE -DRPCCHAT_VERSION='"$(VERSION)"' \
		  -Isrc $(WARNFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS		= -ledit -lunistring -lhiredis -pthread
TEST_LDLIBS	= -lcmocka

# Objects of a build live under $(B); binaries in $(BIN).  The sanitizer
# build reuses every rule with other directories.
B		?= build/release
BIN		?= .

LIB_SRCS	= $(filter-out src/main.c,$(wildcard src/*.c))
# The Redis functions travel inside the binary (scripts/embed).
GEN_OBJS	= $(B)/gen/store_redis_lua.o
LIB_OBJS	= $(LIB_SRCS:src/%.c=$(B)/src/%.o) $(GEN_OBJS)
BENCH_SRCS	= $(wildcard bench/*.c)
BENCH_OBJS	= $(BENCH_SRCS:%.c=$(B)/%.o)
UNIT_SRCS	= $(wildcard tests/unit/test_*.c)
UNIT_OBJS	= $(UNIT_SRCS:%.c=$(B)/%.o)
UNIT_BINS	= $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
MANS		= docs/rpcchat.1 docs/rpcchat-bench.1 docs/rpcchat-check.1

PROGS		= $(BIN)/rpcchat $(BIN)/rpcchat-bench

.PHONY: all run check check-unit check-e2e check-sanitize bench fuzz \
	fuzz-tty valgrind-check install uninstall deps clean

all: $(PROGS)

# The unit tests' objects are intermediates of a pattern chain: kept, or
# make would delete them and build them again at every "make check".
.SECONDARY: $(UNIT_OBJS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/gen/store_redis_lua.c: src/store_redis.lua scripts/embed
	@mkdir -p $(@D)
	sh scripts/embed store_redis_lua < src/store_redis.lua > $@

$(B)/gen/%.o: $(B)/gen/%.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/librpcchat.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BIN)/rpcchat: $(B)/src/main.o $(B)/librpcchat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/rpcchat-bench: $(BENCH_OBJS) $(B)/librpcchat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/librpcchat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LDLIBS)

run: $(BIN)/rpcchat
	$(BIN)/rpcchat 3410

# The test runner prints one closing line: "N passed, N failed".
check: $(PROGS) $(UNIT_BINS)
	python3 tests/run.py --bin $(BIN) --unit-dir $(B)/tests

check-unit: $(UNIT_BINS)
	python3 tests/run.py --bin $(BIN) --unit-dir $(B)/tests --unit-only

check-e2e: $(PROGS)
	python3 tests/run.py --bin $(BIN) --unit-dir $(B)/tests --e2e-only

SAN_FLAGS	= -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
		  -fno-omit-frame-pointer

check-sanitize:
	$(MAKE) B=build/sanitize BIN=build/sanitize \
	    EXTRA_CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" check

valgrind-check: $(PROGS)
	RPCCHAT_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-fds=no" \
	    python3 tests/run.py --bin $(BIN) --unit-dir $(B)/tests --e2e-only --valgrind

bench: $(PROGS)
	python3 bench/run.py --bin $(BIN) --out docs/BENCHMARKS.md

FUZZ_SECONDS	?= 180
fuzz:
	$(MAKE) -f tests/fuzz/fuzz.mk FUZZ_SECONDS=$(FUZZ_SECONDS)

# The client at a real terminal, driven at random (tests/fuzz/tty_fuzz.py):
# under ASan and UBSan, then a shorter run under valgrind, the one that
# sees a stray write inside libedit (which is not built with ASan).
TTY_FUZZ_SECONDS	?= 60
TTY_FUZZ_VALGRIND_SECONDS ?= 30
fuzz-tty: $(PROGS)
	$(MAKE) B=build/sanitize BIN=build/sanitize \
	    EXTRA_CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" \
	    build/sanitize/rpcchat
	python3 tests/fuzz/tty_fuzz.py --bin build/sanitize \
	    --seconds $(TTY_FUZZ_SECONDS)
	python3 tests/fuzz/tty_fuzz.py --bin $(BIN) --valgrind \
	    --seconds $(TTY_FUZZ_VALGRIND_SECONDS)

install: $(PROGS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BIN)/rpcchat $(BIN)/rpcchat-bench $(DESTDIR)$(BINDIR)/
	install -m 755 check/rpcchat-check $(DESTDIR)$(BINDIR)/
	install -m 644 $(MANS) $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rpcchat $(DESTDIR)$(BINDIR)/rpcchat-bench \
	    $(DESTDIR)$(BINDIR)/rpcchat-check \
	    $(DESTDIR)$(MANDIR)/man1/rpcchat.1 \
	    $(DESTDIR)$(MANDIR)/man1/rpcchat-bench.1 \
	    $(DESTDIR)$(MANDIR)/man1/rpcchat-check.1

deps:
	sh scripts/install-deps

clean:
	rm -rf build rpcchat rpcchat-bench

-include $(shell find build -name '*.d' 2>/dev/null)
