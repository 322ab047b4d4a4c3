# sc toolkit: plain GNU make, no configure step.  See README.md.
# SPDX-License-Identifier: MIT

CC ?= cc
CFLAGS ?= -O2 -g
PREFIX ?= /usr/local
bindir ?= $(PREFIX)/bin
datadir ?= $(PREFIX)/share
libdir ?= $(PREFIX)/lib
# The Python reader (sc_stream.py, sc_datamodule.py) and the recipes: PYTHONPATH=$(pythondir)
pythondir ?= $(libdir)/sc/python
recipedir ?= $(datadir)/doc/sc/recipes
mandir ?= $(PREFIX)/share/man
man1dir ?= $(mandir)/man1
man5dir ?= $(mandir)/man5
man7dir ?= $(mandir)/man7
DESTDIR ?=

-include config.mk

PKGS := hdf5 sqlite3 yaml-0.1 zlib libcurl jansson libdeflate libcrypto libpq
SC_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -MMD -MP \
            -Ilib -I$(BUILD) -I/usr/include/liblzf \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -pthread
SC_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -llzf -lpthread -lm

ifdef DEV
SC_CFLAGS += -Werror -Wshadow -Wstrict-prototypes -Wformat=2
endif

ifdef SANITIZE
BUILD ?= build/sanitize
SC_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
SC_LDFLAGS += -fsanitize=$(SANITIZE)
else
BUILD ?= build
endif

TOOLS := $(patsubst cmd/%.c,%,$(foreach f,$(wildcard cmd/sc-*.c),$(if $(findstring _,$(notdir $f)),,$f)))
# Objects of cmd/<tool>_*.c for tool $(1).
tool_extra = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard cmd/$(1)_*.c))
LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BINS := $(addprefix $(BUILD)/bin/,$(TOOLS))
MANS := $(wildcard man/*.[157])

.PHONY: all man deps check check-unit check-cli check-update lint fmt install clean demo bench tests fuzz

all: $(BINS) man

# Man pages with @VERSION@ and @DATE@ filled in (the date of the last commit,
# or SOURCE_DATE_EPOCH, so builds are reproducible).
MAN_DATE = $(shell if [ -n "$$SOURCE_DATE_EPOCH" ]; then date -u -d "@$$SOURCE_DATE_EPOCH" +%Y-%m-%d; \
           else git log -1 --format=%cs 2>/dev/null || date -u +%Y-%m-%d; fi)
BUILT_MANS := $(patsubst man/%,$(BUILD)/man/%,$(MANS))

man: $(BUILT_MANS)

$(BUILD)/man/%: man/% VERSION
	@mkdir -p $(dir $@)
	@sed -e "s/@VERSION@/$$(cat VERSION)/g" -e "s/@DATE@/$(MAN_DATE)/g" $< > $@

deps:
	@scripts/install-deps.sh

$(BUILD)/sc_version.h: VERSION scripts/version.sh FORCE
	@mkdir -p $(BUILD)
	@scripts/version.sh > $@.tmp && (cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@)

FORCE:

$(BUILD)/obj/%.o: %.c | $(BUILD)/sc_version.h
	@mkdir -p $(dir $@)
	$(CC) $(SC_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libsc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# A tool past ~800 lines may be split into cmd/<tool>_*.c (style.md §2);
# those objects are linked into that tool only.
.SECONDEXPANSION:
$(BUILD)/bin/%: $(BUILD)/obj/cmd/%.o \
        $$(call tool_extra,$$*) $(BUILD)/libsc.a
	@mkdir -p $(dir $@)
	$(CC) $(SC_LDFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/libsc.a $(SC_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libsc.a
	@mkdir -p $(dir $@)
	$(CC) $(SC_LDFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libsc.a $(SC_LIBS)

tests: $(BINS) $(UNIT_BIN)

# make check: installs missing packages, builds, runs unit, CLI and interop
# tests, and ends with one line "N passed, N failed".
check:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory tests
	@BUILD=$(BUILD) tests/run-tests.sh all

check-unit: tests
	@BUILD=$(BUILD) tests/run-tests.sh unit

check-cli: tests
	@BUILD=$(BUILD) tests/run-tests.sh cli

check-update: tests
	@BUILD=$(BUILD) SC_UPDATE_GOLDEN=1 tests/run-tests.sh cli

demo:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

bench:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/bench.sh

# make fuzz: a fuzzing campaign over every reader with the sanitizer build
# (FUZZ_SECONDS, default 600); findings in build/fuzz-out. Not part of check.
fuzz:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@BUILD=build/sanitize scripts/fuzz build/fuzz-out

lint: man
	@for m in $(BUILT_MANS); do groff -man -ww -z $$m || exit 1; done
	@clang-format --dry-run --Werror lib/*.[ch] cmd/*.c tests/unit/*.[ch]

fmt:
	clang-format -i lib/*.[ch] cmd/*.c tests/unit/*.[ch]

# Binaries, man pages (from build/man, @VERSION@ and @DATE@ filled in),
# the reference data (share/ -> $(datadir)/sc, found by the tools as
# <exe>/../share/sc), the Python reader (which runs the sc-stream of
# $(bindir): its _BINDIR line) and the recipes.
install: all
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(man1dir) $(DESTDIR)$(man5dir) \
	    $(DESTDIR)$(man7dir) $(DESTDIR)$(datadir)/sc $(DESTDIR)$(pythondir) \
	    $(DESTDIR)$(recipedir)
	install -m 755 $(BINS) $(DESTDIR)$(bindir)
	for m in $(BUILT_MANS); do s=$${m##*.}; \
	    install -m 644 $$m $(DESTDIR)$(mandir)/man$$s/; done
	cp -R share/. $(DESTDIR)$(datadir)/sc/
	sed 's|^_BINDIR = None$$|_BINDIR = "$(bindir)"|' python/sc_stream.py \
	    > $(DESTDIR)$(pythondir)/sc_stream.py
	chmod 644 $(DESTDIR)$(pythondir)/sc_stream.py
	install -m 644 python/sc_datamodule.py $(DESTDIR)$(pythondir)/
	install -m 644 scripts/recipes/Makefile $(DESTDIR)$(recipedir)/
	install -m 755 scripts/recipes/harmonize-array.sbatch scripts/recipes/train-ddp.sh \
	    scripts/recipes/train.py $(DESTDIR)$(recipedir)/

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
