# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# nbdkit-multicopy: build, check, bench, demo, install.
#
#   make          build the plugin, the filter and their man pages
#   make check    install what is missing, build, run every test
#   make demo     install what is missing, build, run the demo copy
#   make bench    install what is missing, build, run the benchmarks
#                 (rewrites docs/benchmarks.md; make bench-quick: the
#                 targets alone, printed, in a few minutes)
#   make install  install into nbdkit's plugin and filter directories
#   make dist     nbdkit-multicopy-VERSION.tar.gz of the tracked files
#   make deb      the Debian package, nbdkit-multicopy_VERSION_ARCH.deb
#   make check-asan      the tests with ASan+UBSan builds (rebuilds)
#   make check-valgrind  the tests with every nbdkit under valgrind
#   make check-tsan      the stress test with a ThreadSanitizer build

VERSION    = 0.2.0
CC        ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS    ?= -O2 -g
DESTDIR   ?=

# Deferred (=), so that make check can install the -dev packages first.
NBDKIT_CFLAGS = $(shell $(PKG_CONFIG) --cflags nbdkit)
LIBNBD_CFLAGS = $(shell $(PKG_CONFIG) --cflags libnbd)
LIBNBD_LIBS   = $(shell $(PKG_CONFIG) --libs libnbd)
PLUGINDIR     = $(shell $(PKG_CONFIG) --variable=plugindir nbdkit)
FILTERDIR     = $(shell $(PKG_CONFIG) --variable=filterdir nbdkit)
# The modules go where nbdkit looks for them, so the pages go beside
# nbdkit's own, where man looks for those.
MANDIR       ?= $(shell $(PKG_CONFIG) --variable=prefix nbdkit)/share/man

# nbdkit callbacks have fixed signatures, so unused parameters are normal.
WARNINGS  = -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wvla
ALL_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -std=gnu11 -pthread -fPIC \
             -fvisibility=hidden -MMD -MP -Icommon \
             -DPACKAGE_VERSION='"$(VERSION)"' \
             $(NBDKIT_CFLAGS) $(LIBNBD_CFLAGS)

PLUGIN  = plugin/nbdkit-multicopy-plugin.so
FILTER  = filter/nbdkit-multicopy-filter.so
MANS    = nbdkit-multicopy-plugin.1 docs/nbdkit-multicopy-filter.1

COMMON_OBJS = common/stripe.o common/params.o common/stats.o \
              common/flow-limit.o common/in-flight.o common/replay-log.o \
              common/log.o common/stats-prometheus.o common/export-caps.o \
              common/extents.o common/client-losses.o
PLUGIN_OBJS = $(patsubst %.c,%.o,$(wildcard plugin/*.c))
FILTER_OBJS = $(patsubst %.c,%.o,$(wildcard filter/*.c))

TEST_PROGS  = tests/test-stripe tests/test-flow-limit tests/test-replay-log \
              tests/mc-stress
FIXTURES    = tests/fixtures/nbdkit-wbcache-plugin.so tests/fixtures/nodlclose.so

.PHONY: all deps check check-build demo bench bench-quick install uninstall \
        dist deb clean \
        check-asan check-valgrind check-tsan

all: build-deps $(PLUGIN) $(FILTER) $(MANS)

# A plain build installs nothing, but says what is missing.
.PHONY: build-deps
build-deps:
	@$(PKG_CONFIG) --exists nbdkit libnbd 2>/dev/null || { \
	  echo "nbdkit-plugin-dev or libnbd-dev is missing:" \
	       "run 'make deps' (as root) or 'make check'" >&2; exit 1; }

deps:
	@build-aux/install-deps.sh check

%.o: %.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(PLUGIN): $(PLUGIN_OBJS) $(COMMON_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -pthread -shared -o $@ $^ $(LIBNBD_LIBS) -lm

$(FILTER): $(FILTER_OBJS) $(COMMON_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -pthread -shared -o $@ $^

# The pages name the version: it is filled in here, from VERSION above.
POD2MAN = sed 's/@VERSION@/$(VERSION)/g' $< | \
  pod2man --utf8 --section=1 --center=nbdkit-multicopy --release=$(VERSION)

nbdkit-multicopy-plugin.1: nbdkit-multicopy.pod Makefile
	$(POD2MAN) --name=NBDKIT-MULTICOPY-PLUGIN > $@

docs/nbdkit-multicopy-filter.1: docs/nbdkit-multicopy-filter.pod Makefile
	$(POD2MAN) --name=NBDKIT-MULTICOPY-FILTER > $@

# Test programs and the upstream fixture.
tests/test-stripe: tests/test-stripe.c common/stripe.o tests/unit-check.h
	$(CC) $(CFLAGS) $(WARNINGS) -std=gnu11 -Icommon -o $@ $(filter-out %.h,$^)

tests/test-flow-limit: tests/test-flow-limit.c common/flow-limit.o \
                       tests/unit-check.h
	$(CC) $(CFLAGS) $(WARNINGS) -std=gnu11 -Icommon -o $@ $(filter-out %.h,$^)

tests/test-replay-log: tests/test-replay-log.c common/replay-log.o \
                       tests/unit-check.h
	$(CC) $(CFLAGS) $(WARNINGS) -std=gnu11 -Icommon -o $@ $(filter-out %.h,$^)

# Not sanitized either: it holds up to 96 locks at once, past what
# ThreadSanitizer can track, and what it checks is the plugin.
tests/mc-stress: tests/mc-stress.c
	$(CC) -O2 -g $(WARNINGS) -std=gnu11 -pthread $(LIBNBD_CFLAGS) \
	  -o $@ $< $(LIBNBD_LIBS)

# The fixtures are never sanitized: plain nbdkit loads them.
tests/fixtures/nbdkit-wbcache-plugin.so: tests/fixtures/wbcache.c
	$(CC) -O2 -g $(WARNINGS) -std=gnu11 -pthread -fPIC -MMD -MP \
	  $(NBDKIT_CFLAGS) -shared -o $@ $<

tests/fixtures/nodlclose.so: tests/fixtures/nodlclose.c
	$(CC) -O2 -g $(WARNINGS) -fPIC -shared -o $@ $<

check-build: all $(TEST_PROGS) $(FIXTURES)

check: deps
	@$(MAKE) --no-print-directory check-build
	@tests/run-tests.sh

# The sanitizer builds replace the normal one; each starts and ends
# with make clean-build so that a plain make never picks up their
# objects.
SAN_CFLAGS = -O1 -g -fno-omit-frame-pointer

check-asan:
	@build-aux/install-deps.sh checkers
	@$(MAKE) --no-print-directory clean-build
	@$(MAKE) --no-print-directory check-build CFLAGS="$(SAN_CFLAGS) \
	  -fsanitize=address,undefined -fno-sanitize-recover=undefined"
	@MULTICOPY_CHECK=asan tests/run-tests.sh; rc=$$?; \
	  $(MAKE) --no-print-directory clean-build; exit $$rc

check-valgrind:
	@build-aux/install-deps.sh valgrind
	@$(MAKE) --no-print-directory check-build
	@MULTICOPY_CHECK=valgrind TEST_TIMEOUT=1200 tests/run-tests.sh

check-tsan:
	@build-aux/install-deps.sh checkers
	@$(MAKE) --no-print-directory clean-build
	@$(MAKE) --no-print-directory check-build CFLAGS="$(SAN_CFLAGS) \
	  -fsanitize=thread"
	@MULTICOPY_CHECK=tsan tests/run-tests.sh test-stress; rc=$$?; \
	  $(MAKE) --no-print-directory clean-build; exit $$rc

demo: deps
	@$(MAKE) --no-print-directory all $(FIXTURES)
	@tests/demo.sh

# Rewrites docs/benchmarks.md, its plots and docs/bench-results/.
bench:
	@build-aux/install-deps.sh bench
	@$(MAKE) --no-print-directory check-build
	@tests/bench/run.sh full

# The targets only, printed, in a few minutes.
bench-quick:
	@build-aux/install-deps.sh bench
	@$(MAKE) --no-print-directory check-build
	@tests/bench/run.sh quick

install: all
	install -d $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(FILTERDIR) \
	  $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(PLUGIN) $(DESTDIR)$(PLUGINDIR)/
	install -m 0755 $(FILTER) $(DESTDIR)$(FILTERDIR)/
	install -m 0644 $(MANS) $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(DESTDIR)$(PLUGINDIR)/$(notdir $(PLUGIN)) \
	  $(DESTDIR)$(FILTERDIR)/$(notdir $(FILTER)) \
	  $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MANS)))

# The Debian package (debian/), from the tracked files as they are in
# this tree, built in a copy under DEB_OUT (dh clean would clean this
# tree); the .deb lands in DEB_OUT.
DEB_OUT ?= .
deb:
	@build-aux/install-deps.sh deb
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { \
	  echo "make deb needs a git checkout (or run dpkg-buildpackage" \
	       "-us -uc -b in an unpacked tarball)" >&2; exit 1; }
	rm -rf $(DEB_OUT)/deb-build
	mkdir -p $(DEB_OUT)/deb-build/src
	git ls-files -z | tar -c --null -T - | tar -x -C $(DEB_OUT)/deb-build/src
	cd $(DEB_OUT)/deb-build/src && unset MAKEFLAGS MAKELEVEL MFLAGS && \
	  dpkg-buildpackage -us -uc -b
	mv $(DEB_OUT)/deb-build/*.deb $(DEB_OUT)/
	rm -rf $(DEB_OUT)/deb-build
	@ls $(DEB_OUT)/nbdkit-multicopy_$(VERSION)_*.deb

# A tarball of every file git tracks, as they are in this tree.
DIST = nbdkit-multicopy-$(VERSION)
dist:
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { \
	  echo "make dist needs a git checkout" >&2; exit 1; }
	rm -f $(DIST).tar.gz
	git ls-files -z | tar -c --null -T - --transform 's,^,$(DIST)/,' \
	  --owner=0 --group=0 | gzip -9 > $(DIST).tar.gz
	@echo "wrote $(DIST).tar.gz"

clean: clean-build
	rm -rf tests/logs nbdkit-multicopy-*.tar.gz nbdkit-multicopy*_*.deb \
	  deb-build

# What a sanitizer build replaces (the tests' logs stay).
.PHONY: clean-build
clean-build:
	rm -f common/*.o plugin/*.o filter/*.o */*.d tests/fixtures/*.d \
	  $(PLUGIN) $(FILTER) $(MANS) $(TEST_PROGS) $(FIXTURES)

-include $(wildcard common/*.d plugin/*.d filter/*.d tests/fixtures/*.d)
