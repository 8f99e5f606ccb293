#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Packaging: a LICENSE and a licence header in every source file; make
# install puts the modules where nbdkit finds them and the pages where
# man finds them; make dist makes a versioned tarball that builds and
# passes tests when unpacked.
source "$(dirname "$0")/functions.sh"
requires git tar man pkg-config

cd "$top"
unset MAKEFLAGS MAKELEVEL MFLAGS
version=$(sed -n 's/^VERSION *= *//p' Makefile)

echo "== licence"
grep -q 'Redistribution and use in source and binary forms' LICENSE ||
  fail "no BSD licence text in LICENSE"
missing=$(git ls-files '*.c' '*.h' '*.sh' '*.py' Makefile .ci/run |
            xargs grep -L 'SPDX-License-Identifier: BSD-3-Clause' || true)
[ -z "$missing" ] || fail "no licence header in: $missing"
echo "every tracked source file has its licence header"

echo "== make install"
make -s install DESTDIR="$tmp/root" >/dev/null
plugindir=$(pkg-config --variable=plugindir nbdkit)
filterdir=$(pkg-config --variable=filterdir nbdkit)
prefix=$(pkg-config --variable=prefix nbdkit)
for f in "$plugindir/nbdkit-multicopy-plugin.so" \
         "$filterdir/nbdkit-multicopy-filter.so" \
         "$prefix/share/man/man1/nbdkit-multicopy-plugin.1" \
         "$prefix/share/man/man1/nbdkit-multicopy-filter.1"; do
  [ -f "$tmp/root$f" ] || fail "make install did not install $f"
done
# man finds the pages in that tree as it would in $prefix/share/man.
MANPATH=$tmp/root$prefix/share/man man -w nbdkit-multicopy-filter |
  grep -q "^$tmp/root$prefix/share/man/man1/nbdkit-multicopy-filter.1" ||
  fail "man does not find the installed filter page"
"${nbdkit_cmd[@]}" "$tmp/root$plugindir/nbdkit-multicopy-plugin.so" \
  --version | grep -qx "multicopy $version" || fail "installed plugin"
echo "installed under $plugindir, $filterdir and $prefix/share/man"

echo "== make dist"
git clone -q "$top" "$tmp/clone"
make -s -C "$tmp/clone" dist >/dev/null
tarball=$tmp/clone/nbdkit-multicopy-$version.tar.gz
[ -f "$tarball" ] || fail "no $tarball"
tar -xzf "$tarball" -C "$tmp"
[ ! -e "$tmp/nbdkit-multicopy-$version/.git" ] || fail "the tarball has .git"
make -s -C "$tmp/nbdkit-multicopy-$version" check-build >/dev/null
"$tmp/nbdkit-multicopy-$version/tests/run-tests.sh" \
  test-stripe test-params test-lost-write ||
  fail "tests fail in the unpacked tarball"
echo "nbdkit-multicopy-$version.tar.gz builds and passes tests"

echo "== dependencies are checked for themselves, not as Debian packages"
out=$(MULTICOPY_DEPS_NO_APT=1 build-aux/install-deps.sh check 2>&1) ||
  fail "install-deps.sh check failed with everything there: $out"
[ -z "$out" ] || fail "install-deps.sh complained with everything there: $out"
rc=0
out=$(MULTICOPY_DEPS_NO_APT=1 MULTICOPY_DEPS_EXTRA="no-such-tool cmd no-such-pkg" \
        build-aux/install-deps.sh check 2>&1) || rc=$?
[ $rc -eq 0 ] || fail "a missing test tool stopped make check: $out"
grep -q 'Missing: no-such-tool (cmd)' <<<"$out" &&
  grep -q 'tests that need them will be skipped' <<<"$out" ||
  fail "the missing tool was not named: $out"
echo "install-deps.sh: $out"
