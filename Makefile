# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# rtrace build. Products go to build/ (or $(O)), binaries to bin/.
#   make            user space + BPF objects + skeletons, bin/*
#   make asan       the same with ASan+UBSan into build/asan (binaries build/asan/bin)
#   make test       unit, BPF and network-namespace tests (root for the latter)
#   make fuzz       libFuzzer targets (clang, ASan+UBSan), FUZZ_SECONDS each
#   make bench      benchmarks (root)
#   make demo       the main job on the built-in test internet (root)
#   make deps       install the Debian packages the project needs
#   make format     clang-format the tree
#   make install PREFIX=/usr/local
#   V=1 shows the commands.

.DELETE_ON_ERROR:
.SUFFIXES:

O ?= build
BIN ?= bin
PREFIX ?= /usr/local
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
FUZZ_SECONDS ?= 60

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE \
	-Iinclude -Ibpf -I$(O)/include
ifeq ($(SAN),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
CFLAGS ?=
ALL_CFLAGS := $(CFLAGS_BASE) $(CFLAGS)
LDLIBS := -lbpf -lelf -lz -lssl -lcrypto -ljansson -lm

BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -Ibpf \
	-I/usr/include/$(shell uname -m)-linux-gnu -Wall -Werror

# Library modules: every src/<module>/*.c except the binaries' mains in src/cmd.
LIB_SRCS := $(filter-out src/cmd/%,$(wildcard src/*/*.c))
LIB_OBJS := $(patsubst src/%.c,$(O)/obj/%.o,$(LIB_SRCS))
LIB := $(O)/librtrace.a

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(O)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(O)/include/%.skel.h,$(BPF_SRCS))

# One binary per src/cmd/<name>.c.
CMD_SRCS := $(wildcard src/cmd/*.c)
CMDS := $(patsubst src/cmd/%.c,$(BIN)/%,$(CMD_SRCS))

TEST_SRCS := $(wildcard tests/unit/test_*.c)
TESTS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(TEST_SRCS))

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRCS))

BENCH_SRCS := $(wildcard bench/*.c)
BENCHES := $(patsubst bench/%.c,$(O)/bench/%,$(BENCH_SRCS))

HDRS := $(wildcard include/rtrace/*.h bpf/*.h src/*/*.h)

# Keep the BPF objects and skeletons: tests load the objects at run time.
.SECONDARY: $(BPF_OBJS) $(SKELS)

.PHONY: all asan test test-unit test-netns fuzz bench demo deps format install clean check-deps
all: $(CMDS) $(TESTS) $(BENCHES)

$(O)/bpf/%.bpf.o: bpf/%.bpf.c $(HDRS)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/include/%.skel.h: $(O)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(O)/obj/%.o: src/%.c $(HDRS) $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN)/%: src/cmd/%.c $(LIB) $(HDRS) $(SKELS)
	$(call msg,BINARY,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

$(O)/tests/%: tests/unit/%.c $(LIB) $(HDRS) $(SKELS) $(BPF_OBJS)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-field-initializers -DRTRACE_BUILD_DIR='"$(abspath $(O))"' \
		$< $(LIB) $(LDFLAGS) $(LDLIBS) -lcriterion -o $@

$(O)/bench/%: bench/%.c $(LIB) $(HDRS) $(SKELS)
	$(call msg,BENCH,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

# libFuzzer: the whole library rebuilt with clang and the fuzzer instrumentation.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude -Ibpf -I$(O)/include \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
$(O)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(HDRS) $(SKELS)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(LIB_SRCS) $(LDLIBS) -o $@

fuzz: $(FUZZERS)
	$(Q)for f in $(FUZZERS); do \
		n=$$(basename $$f); mkdir -p $(O)/fuzz/corpus/$$n; \
		cp -n tests/fuzz/seeds/$$n/* $(O)/fuzz/corpus/$$n/ 2>/dev/null; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(O)/fuzz/corpus/$$n tests/fuzz/seeds/$$n || exit 1; \
	done

asan:
	$(Q)$(MAKE) --no-print-directory O=$(O)/asan BIN=$(O)/asan/bin SAN=1 all

deps:
	$(Q)tools/install-deps

check-deps:
	$(Q)tools/install-deps --check >/dev/null 2>&1 || tools/install-deps

# These install missing packages first, then build, then run.
test: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run-tests --build $(O) --bin $(BIN)

bench: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bench/run-bench --build $(O) --bin $(BIN)

demo: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/rtrace-demo --bin $(BIN)

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/rtrace/topos
	install -m 0755 $(CMDS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 tools/rtrace-testbed tools/rtrace-keygen $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/lib/rtrace/rtrace_testbed
	install -m 0644 tools/rtrace_testbed/*.py $(DESTDIR)$(PREFIX)/lib/rtrace/rtrace_testbed/
	install -m 0644 tests/topos/*.topo $(DESTDIR)$(PREFIX)/share/rtrace/topos/

clean:
	rm -rf $(O) $(BIN)
