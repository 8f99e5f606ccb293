#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The Debian package: built by make deb (dpkg-buildpackage on the
# tracked files), clean under lintian, tied to the nbdkit release it
# was built for; installed, nbdkit finds the plugin and the filter by
# name, man finds the pages, and copies through both are exact; purged,
# it leaves nothing behind.
source "$(dirname "$0")/functions.sh"
requires dpkg-buildpackage dh lintian dpkg git nbdcopy man pkg-config
[ "$(id -u)" -eq 0 ] || skip "dpkg -i needs root"
[ -z "${MULTICOPY_CHECK:-}" ] || skip "the package is built without $MULTICOPY_CHECK"
package=nbdkit-multicopy
if dpkg -s "$package" >/dev/null 2>&1; then
  skip "$package is installed on this machine already: not touching it"
fi
plugindir=$(pkg-config --variable=plugindir nbdkit)
filterdir=$(pkg-config --variable=filterdir nbdkit)
for f in "$plugindir/nbdkit-multicopy-plugin.so" \
         "$filterdir/nbdkit-multicopy-filter.so"; do
  [ ! -e "$f" ] || skip "$f is there already (make install?): not touching it"
done
unset MAKEFLAGS MAKELEVEL MFLAGS

# Purge on the way out, whatever happened, then the usual cleanup.
installed=
trap 'rc=$?; [ -z "$installed" ] || dpkg --purge "$package" >/dev/null 2>&1
      (exit $rc); _cleanup' EXIT

echo "== make deb (dpkg-buildpackage -us -uc -b)"
make -C "$top" deb DEB_OUT="$tmp" >"$tmp/build.log" 2>&1 ||
  { tail -30 "$tmp/build.log"; fail "make deb failed"; }
version=$(sed -n 's/^VERSION *= *//p' "$top/Makefile")
deb=$(echo "$tmp/${package}_${version}_"*.deb)
[ -f "$deb" ] || fail "no $package .deb for version $version: $(ls "$tmp")"
echo "built $(basename "$deb")"

echo "== lintian: no errors"
lintian --fail-on error "$deb" 2>&1 | grep -v 'root privileges' |
  tee "$tmp/lintian.out" || true
lintian --fail-on error "$deb" >/dev/null 2>&1 ||
  fail "lintian reports errors"

echo "== the dependency on nbdkit is the release built against"
built=$(pkg-config --modversion nbdkit)
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
grep -qF "nbdkit (>= $built), nbdkit (<< $built+~)" <<<"$depends" ||
  fail "the package does not pin nbdkit $built"
grep -q 'libnbd0' <<<"$depends" || fail "no dependency on libnbd0"

echo "== dpkg -i"
dpkg -i "$deb" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "dpkg -i failed"; }
installed=1
mapfile -t files < <(dpkg -L "$package" | while read -r f; do
                       [ -f "$f" ] && echo "$f"; done)
printf '%s\n' "${files[@]}"
for f in "$plugindir/nbdkit-multicopy-plugin.so" \
         "$filterdir/nbdkit-multicopy-filter.so" \
         /usr/share/doc/$package/copyright; do
  printf '%s\n' "${files[@]}" | grep -qx "$f" || fail "the package lacks $f"
done

echo "== found by name"
nbdkit multicopy --dump-plugin | grep -qx 'multicopy_connections_default=16' ||
  fail "nbdkit multicopy --dump-plugin"
nbdkit --filter=multicopy memory 1M --dump-plugin |
  grep -q '^name=memory' || fail "nbdkit --filter=multicopy memory 1M"
nbdkit --filter=multicopy memory --help | grep -q '^filter: multicopy' ||
  fail "the installed filter does not load"
man -w nbdkit-multicopy-plugin | grep -q '^/usr/share/man/man1/' &&
  man -w nbdkit-multicopy-filter | grep -q '^/usr/share/man/man1/' ||
  fail "man does not find the pages"

echo "== copies through the installed plugin and filter"
make_source src 64
start_nbdkit up memory 64M
nbdkit -U - multicopy "$(uri up)" connections=4 \
  --run "nbdcopy '$tmp/src.raw' \"\$uri\"" ||
  fail "a copy through the installed plugin failed"
cmp "$tmp/src.raw" <(nbdcopy "$(uri up)" -) ||
  fail "the copy through the installed plugin differs"
nbdkit -U - --filter=multicopy memory 64M connections=4 \
  --run "nbdcopy '$tmp/src.raw' \"\$uri\" &&
         nbdcopy \"\$uri\" - | cmp - '$tmp/src.raw'" ||
  fail "the copy through the installed filter failed or differs"
echo "both copies exact"

echo "== dpkg --purge leaves nothing"
dpkg --purge "$package" >"$tmp/purge.log" 2>&1 ||
  { cat "$tmp/purge.log"; fail "dpkg --purge failed"; }
installed=
for f in "${files[@]}"; do
  [ ! -e "$f" ] || fail "$f is still there after the purge"
done
! dpkg -s "$package" >/dev/null 2>&1 || fail "dpkg still knows $package"
echo "purged: ${#files[@]} files gone"
