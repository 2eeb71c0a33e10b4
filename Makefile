# Coffer: one non-recursive GNU make.
#   make            build build/cofferd, build/coffer, build/libcoffer.a
#   make test       deps, build, every test suite (unit, fixture, fuzz, integration)
#   make run        deps, build, a dev node in the foreground
#   make fuzz       the libFuzzer targets (clang)
# BUILD=dir builds out of tree; SANITIZE=address,undefined builds with sanitizers.

BUILD    ?= build
CC       ?= cc
FUZZCC   ?= clang
PKGS     := libuv openssl libprotobuf-c jansson raft
SANITIZE ?=
PYTHON   ?= /usr/bin/python3

WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wno-unused-parameter \
            -Wmissing-prototypes -Wstrict-prototypes -Wno-format-truncation
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection \
            -fPIE -fcf-protection
CPPFLAGS += -D_GNU_SOURCE -Iserver -Ireplication -Iclient/include -I$(BUILD)/proto
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 $(WARN) $(HARDEN) $(shell pkg-config --cflags $(PKGS))
LDFLAGS  += -pie -Wl,-z,relro,-z,now
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lhttp_parser -lpthread -lm
ifneq ($(SANITIZE),)
# ASan replaces FORTIFY's checks; gcc 12 gives false bounds warnings under ASan
HARDEN   := $(filter-out -D_FORTIFY_SOURCE=2,$(HARDEN)) -Wno-array-bounds -Wno-stringop-overflow
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

PROTOS    := $(wildcard proto/*.proto)
PROTO_C   := $(patsubst proto/%.proto,$(BUILD)/proto/%.pb-c.c,$(PROTOS))
PROTO_H   := $(PROTO_C:.c=.h)
PROTO_O   := $(PROTO_C:.c=.o)

# libcoffer: the client library plus what client and server share
# (protobuf messages, utilities, crypto and request signing).
SHARED_SRC := $(wildcard server/util/*.c server/crypto/*.c)
CLIENT_SRC := $(wildcard client/lib/*.c)
CLI_SRC    := $(wildcard client/cli/*.c)
SERVER_SRC := $(filter-out server/main.c $(SHARED_SRC),$(shell find server -name '*.c' | sort)) \
              $(shell find replication -name '*.c' | sort)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
SHARED_O := $(call obj,$(SHARED_SRC)) $(PROTO_O)
CLIENT_O := $(call obj,$(CLIENT_SRC))
SERVER_O := $(call obj,$(SERVER_SRC))
CLI_O    := $(call obj,$(CLI_SRC))

UNIT_SRC    := $(wildcard tests/unit/test_*.c)
FIXTURE_SRC := $(wildcard tests/fixture/test_*.c)
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FIXTURE_BIN := $(patsubst tests/fixture/%.c,$(BUILD)/tests/%,$(FIXTURE_SRC))
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN    := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

.SECONDARY:
.PHONY: all deps test unit fixture integration fuzz fuzz-run run clean format
all: $(BUILD)/cofferd $(BUILD)/coffer $(BUILD)/libcoffer.a

deps:
	@./deploy/deps.sh

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(dir $@)
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c $(PROTO_H)
	$(CC) $(CPPFLAGS) $(filter-out -Wmissing-prototypes,$(CFLAGS)) -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libcoffer.a: $(SHARED_O) $(CLIENT_O)
	rm -f $@ && ar rcs $@ $^

# The CLI's objects but main.o, for the unit tests.
$(BUILD)/libcoffercli.a: $(filter-out $(call obj,client/cli/main.c),$(CLI_O))
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libcofferd.a: $(SERVER_O)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/cofferd: $(call obj,server/main.c) $(SERVER_O) $(BUILD)/libcoffer.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/coffer: $(CLI_O) $(BUILD)/libcoffer.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Each test program links the archives; the linker keeps what it uses.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcofferd.a $(BUILD)/libcoffercli.a $(BUILD)/libcoffer.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/%: tests/fixture/%.c $(BUILD)/libcofferd.a $(BUILD)/libcoffer.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Fuzz targets: the pure sources again, compiled by clang with libFuzzer + ASan.
FUZZ_CFLAGS := -O1 -g -std=c11 -fsanitize=fuzzer-no-link,address,undefined \
               $(shell pkg-config --cflags $(PKGS))
FUZZ_LIBSRC := $(SHARED_SRC) $(SERVER_SRC)
FUZZ_LIBO   := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(FUZZ_LIBSRC) $(PROTO_C:$(BUILD)/%=%))
$(BUILD)/fuzzobj/proto/%.o: $(BUILD)/proto/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<
$(BUILD)/fuzzobj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIBO)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ \
	  $(shell pkg-config --libs $(PKGS)) -lhttp_parser -lpthread -lm

fuzz: $(FUZZ_BIN)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

fixture: $(FIXTURE_BIN)
	@set -e; for t in $(FIXTURE_BIN); do echo "== $$t"; $$t; done

# Short fuzz runs: each target for FUZZ_SECONDS from its seed corpus.
FUZZ_SECONDS ?= 20
fuzz-run: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); \
	  mkdir -p $(BUILD)/fuzz-corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=0 \
	      $(BUILD)/fuzz-corpus/$$n $$( [ -d tests/fuzz/corpus/$$n ] && echo tests/fuzz/corpus/$$n ) 2>&1 | tail -n 3; \
	done

integration: all
	cd tests && COFFER_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -x integration aws

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fixture
	$(MAKE) fuzz-run
	$(MAKE) integration

run: deps
	$(MAKE) all
	exec $(BUILD)/cofferd --dev --data-dir .coffer-dev

format:
	clang-format -i $$(find server replication client tests -name '*.[ch]')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
