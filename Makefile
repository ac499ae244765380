# rpcchat - a chat server and client over a small hand-made RPC protocol.
#
#   make            build ./rpcchat and ./rpcchat-bench
#   make run        build and start a server on port 3410
#   make check      build and run every test (unit + end-to-end)
#   make check-sanitize   the same under AddressSanitizer and UBSan
#   make bench      measure, write build/BENCHMARKS.md
#   make bench-update     measure, write docs/BENCHMARKS.md
#   make fuzz       run each fuzz target (FUZZ_SECONDS each, clang)
#   make fuzz-build, fuzz-regress   build them; replay their corpora
#   make fuzz-tty   drive the client at a terminal at random (ASan, valgrind)
#   make valgrind-check   the end-to-end suite under valgrind memcheck
#   make install    the programs, their man pages, PROTOCOL.md; PREFIX, DESTDIR
#   make deps       install the Debian packages the build and tests need

VERSION		= 1.0.0
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
MANDIR		?= $(PREFIX)/share/man
DOCDIR		?= $(PREFIX)/share/doc/rpcchat

CC		?= cc
CFLAGS		?= -O2 -g
WARNFLAGS	= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
		  -Wmissing-prototypes -Wno-unused-parameter
ALL_CFLAGS	= -std=gnu11 -D_GNU_SOURCE -DRPCCHAT_VERSION='"$(VERSION)"' \
		  -Isrc $(PKG_CFLAGS) $(WARNFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)

# Libraries come from pkg-config; libunistring and wslay ship no .pc, so
# they are named here.  Expanded when used, not when read: "make deps
# check" installs pkg-config before the first compile asks it.  The web
# front end (src/web*.c) needs libmicrohttpd (HTTP), wslay (WebSocket
# frames) and nettle (the handshake's SHA-1 and base64).
PKG_CONFIG	?= pkg-config
PKGS		= libedit hiredis libmicrohttpd nettle
TEST_PKGS	= cmocka
UNISTRING_LIBS	?= -lunistring
WSLAY_LIBS	?= -lwslay
PKG_CFLAGS	= $(shell $(PKG_CONFIG) --cflags $(PKGS) $(TEST_PKGS))
LDLIBS		= $(shell $(PKG_CONFIG) --libs $(PKGS)) $(UNISTRING_LIBS) \
		  $(WSLAY_LIBS) -pthread
TEST_LDLIBS	= $(shell $(PKG_CONFIG) --libs $(TEST_PKGS))

# Objects of a build live under $(B); binaries in $(BIN).  The sanitizer
# build reuses every rule with other directories.
B		?= build/release
BIN		?= .

LIB_SRCS	= $(filter-out src/main.c,$(wildcard src/*.c))
# The Redis functions travel inside the binary (scripts/embed).
GEN_OBJS	= $(B)/gen/store_redis_lua.o
# So does the chat page (web/).
WEB_ASSETS	= web/index.html web/chat.css web/chat.js
GEN_OBJS	+= $(B)/gen/web_assets.o
LIB_OBJS	= $(LIB_SRCS:src/%.c=$(B)/src/%.o) $(GEN_OBJS)
BENCH_SRCS	= $(wildcard bench/*.c)
BENCH_OBJS	= $(BENCH_SRCS:%.c=$(B)/%.o)
UNIT_SRCS	= $(wildcard tests/unit/test_*.c)
UNIT_OBJS	= $(UNIT_SRCS:%.c=$(B)/%.o)
UNIT_BINS	= $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
MANS		= docs/rpcchat.1 docs/rpcchat-bench.1 docs/rpcchat-check.1

# The libFuzzer targets, tests/fuzz/NAME.c each, with their seeds and
# regression inputs in tests/fuzz/corpus/NAME.  Adding one is adding it
# here.
FUZZ_TARGETS	= fuzz_dispatch fuzz_codec fuzz_client_response fuzz_web
FB		= build/fuzz
FUZZ_OBJS	= $(FUZZ_TARGETS:%=$(FB)/tests/fuzz/%.o)
FUZZ_BINS	= $(FUZZ_TARGETS:%=$(FB)/%)

PROGS		= $(BIN)/rpcchat $(BIN)/rpcchat-bench

.PHONY: all run check check-unit check-e2e check-sanitize bench bench-update \
	fuzz fuzz-build fuzz-regress fuzz-tty fuzz-bins $(FUZZ_TARGETS:%=fuzz-run-%) \
	$(FUZZ_TARGETS:%=fuzz-replay-%) valgrind-check install uninstall deps \
	clean

all: $(PROGS)

# The test programs' objects are intermediates of a pattern chain: kept,
# or make would delete them and build them again at every "make check".
.SECONDARY: $(UNIT_OBJS) $(FUZZ_OBJS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/gen/store_redis_lua.c: src/store_redis.lua scripts/embed
	@mkdir -p $(@D)
	sh scripts/embed store_redis_lua < src/store_redis.lua > $@

$(B)/gen/web_assets.c: $(WEB_ASSETS) scripts/embed
	@mkdir -p $(@D)
	{ sh scripts/embed web_index_html < web/index.html && \
	  sh scripts/embed web_chat_css < web/chat.css && \
	  sh scripts/embed web_chat_js < web/chat.js; } > $@

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

# The figures go to an untracked file; bench-update rewrites the
# committed one, keeping its sections measured by other scripts.
bench: $(PROGS)
	python3 bench/run.py --bin $(BIN) --out build/BENCHMARKS.md

bench-update: $(PROGS)
	python3 bench/run.py --bin $(BIN) --out docs/BENCHMARKS.md

# Fuzzing is one more build, in $(FB), with clang and libFuzzer.  The
# seeds in tests/fuzz/corpus are only read: what the fuzzer finds goes to
# $(FB)/corpus-NAME, a crash to $(FB)/crash/NAME-*.  Cheap inputs get
# more of the time (-entropic_scale_per_exec_time), so that one room of
# thousands of users costs the dispatch target little.  FUZZ_TARGETS=NAME
# runs one; FUZZ_ARGS adds libFuzzer options.
FUZZ_SECONDS	?= 180
FUZZ_CC		?= clang
FUZZ_FLAGS	= -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
		  -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_ARGS	?=
FUZZ_MAKE	= $(MAKE) B=$(FB) CC=$(FUZZ_CC) EXTRA_CFLAGS="$(FUZZ_FLAGS)" \
		  LDFLAGS="$(FUZZ_FLAGS)"

fuzz:
	$(FUZZ_MAKE) fuzz-bins $(FUZZ_TARGETS:%=fuzz-run-%)

fuzz-build:
	$(FUZZ_MAKE) fuzz-bins

# Every seed and regression input once: quick, for check-style runs.
fuzz-regress:
	$(FUZZ_MAKE) $(FUZZ_TARGETS:%=fuzz-replay-%)

# The rules below run inside $(FUZZ_MAKE), where $(B) is $(FB).
fuzz-bins: $(FUZZ_BINS)

$(FUZZ_BINS): $(FB)/%: $(FB)/tests/fuzz/%.o $(FB)/librpcchat.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# libFuzzer exits non-zero on a crash, a leak or a failed check, which
# fails the make.  The first corpus directory is the one it writes.
$(FUZZ_TARGETS:%=fuzz-run-%): fuzz-run-%: $(FB)/%
	@mkdir -p $(FB)/corpus-$* $(FB)/crash
	$(FB)/$* -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -entropic_scale_per_exec_time=1 -artifact_prefix=$(FB)/crash/$*- \
	    $(FUZZ_ARGS) $(FB)/corpus-$* $(wildcard tests/fuzz/corpus/$*)

$(FUZZ_TARGETS:%=fuzz-replay-%): fuzz-replay-%: $(FB)/%
	@mkdir -p $(FB)/crash
	$(FB)/$* -runs=0 -artifact_prefix=$(FB)/crash/$*- \
	    $(wildcard tests/fuzz/corpus/$*)

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
	install -d $(DESTDIR)$(DOCDIR)
	install -m 644 docs/PROTOCOL.md $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rpcchat $(DESTDIR)$(BINDIR)/rpcchat-bench \
	    $(DESTDIR)$(BINDIR)/rpcchat-check \
	    $(DESTDIR)$(MANDIR)/man1/rpcchat.1 \
	    $(DESTDIR)$(MANDIR)/man1/rpcchat-bench.1 \
	    $(DESTDIR)$(MANDIR)/man1/rpcchat-check.1 \
	    $(DESTDIR)$(DOCDIR)/PROTOCOL.md

deps:
	sh scripts/install-deps

clean:
	rm -rf build rpcchat rpcchat-bench

-include $(shell find build -name '*.d' 2>/dev/null)
