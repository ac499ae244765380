# tests/fuzz/fuzz.mk - build and run the libFuzzer targets.
#
#   make -f tests/fuzz/fuzz.mk [FUZZ_SECONDS=N]	build, then run each target
#   make -f tests/fuzz/fuzz.mk fuzz-build		build only
#   make -f tests/fuzz/fuzz.mk fuzz-regress	replay the corpora only
#   make -f tests/fuzz/fuzz.mk fuzz_dispatch.run	run one target
#
# Run from the top of the tree (make fuzz does).  The targets link the
# product's own sources, built here with coverage and sanitizers.  Inputs
# the fuzzer generates go to build/fuzz/corpus-NAME, crashes to
# build/fuzz/crash-NAME-*; tests/fuzz/corpus/NAME (the seeds and the
# regression inputs) is only read.

FUZZ_SECONDS	?= 180
FUZZ_CC		?= clang
FUZZ_FLAGS	= -g -O1 -fsanitize=fuzzer,address,undefined \
		  -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS	= -std=gnu11 -D_GNU_SOURCE -DRPCCHAT_VERSION='"fuzz"' -Isrc \
		  -Wall -Wextra -Wno-unused-parameter $(FUZZ_FLAGS)
FUZZ_LDLIBS	= -ledit -lunistring -lhiredis -pthread \
		  -lmicrohttpd -lwslay -lnettle
# Arguments for every run; more can be added on the command line.
FUZZ_ARGS	?=

FB		= build/fuzz
TARGETS		= fuzz_dispatch fuzz_codec fuzz_client_response fuzz_web
LIB_SRCS	= $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJS	= $(LIB_SRCS:src/%.c=$(FB)/src/%.o) $(FB)/gen/store_redis_lua.o \
		  $(FB)/gen/web_assets.o
BINS		= $(TARGETS:%=$(FB)/%)

.PHONY: fuzz-all fuzz-build fuzz-regress $(TARGETS:%=%.run)
# Keep the objects between runs (they are intermediate to make).
.SECONDARY:

fuzz-all: fuzz-build $(TARGETS:%=%.run)

fuzz-build: $(BINS)

$(FB)/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FB)/gen/store_redis_lua.c: src/store_redis.lua scripts/embed
	@mkdir -p $(@D)
	sh scripts/embed store_redis_lua < src/store_redis.lua > $@

$(FB)/gen/web_assets.c: web/index.html web/chat.css web/chat.js scripts/embed
	@mkdir -p $(@D)
	{ sh scripts/embed web_index_html < web/index.html && \
	  sh scripts/embed web_chat_css < web/chat.css && \
	  sh scripts/embed web_chat_js < web/chat.js; } > $@

$(FB)/gen/%.o: $(FB)/gen/%.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FB)/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FB)/%: $(FB)/%.o $(LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(FUZZ_LDLIBS)

# libFuzzer exits non-zero on a crash, a leak or a failed check, which
# fails the make.  The first corpus directory is the writable one.
$(TARGETS:%=%.run): %.run: $(FB)/%
	@mkdir -p $(FB)/corpus-$* $(FB)/crash
	$(FB)/$* -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FB)/crash/$*- $(FUZZ_ARGS) \
	    $(FB)/corpus-$* tests/fuzz/corpus/$*

# Every seed and regression input once: quick, for check-style runs.
fuzz-regress: $(BINS)
	@mkdir -p $(FB)/crash
	@for t in $(TARGETS); do \
		echo "$$t: replaying tests/fuzz/corpus/$$t"; \
		$(FB)/$$t -runs=0 -artifact_prefix=$(FB)/crash/$$t- \
		    tests/fuzz/corpus/$$t || exit 1; \
	done

-include $(shell find $(FB) -name '*.d' 2>/dev/null)
