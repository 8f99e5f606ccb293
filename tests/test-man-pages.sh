#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The man pages: well formed, rendered without mangled characters,
# naming the version the Makefile builds; the filter's --help and its
# page list the same parameters (the plugin's: test-params).
source "$(dirname "$0")/functions.sh"
requires podchecker man

version=$(sed -n 's/^VERSION *= *//p' "$top/Makefile")
help=$("${nbdkit_cmd[@]}" --filter="$filter" memory --help)
for pod in "$top/nbdkit-multicopy.pod" "$top/docs/nbdkit-multicopy-filter.pod"; do
  podchecker "$pod" 2>&1 | grep -q 'pod syntax OK' || fail "podchecker: $pod"
done
for page in "$top/nbdkit-multicopy-plugin.1" "$top/docs/nbdkit-multicopy-filter.1"; do
  text=$(MANWIDTH=80 man -l "$page" 2>/dev/null)
  ! grep -q 'XXXX\|@VERSION@' <<<"$text" || fail "$page renders badly"
  grep -q "version $version" <<<"$text" || fail "$page does not name $version"
done
# The filter's --help and its man page list the same keys.
keys_help=$(grep -oE '^[a-z-]+=' <<<"$help" | sort -u | tr -d =)
keys_man=$(grep -oE '^=item B<[a-z-]+=' "$top/docs/nbdkit-multicopy-filter.pod" |
             sed 's/=item B<//; s/=$//' | sort -u)
keys_help=$(comm -12 <(echo "$keys_help") <(echo "connections
max-in-flight
segment-size
stats"))
[ "$keys_help" = "$keys_man" ] ||
  fail "filter --help and man page disagree: $keys_help / $keys_man"
echo "man pages render; help and pages list the same keys"
