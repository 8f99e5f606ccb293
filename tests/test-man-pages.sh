#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The man pages: well formed, rendered without mangled characters,
# naming the version the Makefile builds; the plugin's and the
# filter's --help each list exactly the parameters of its page.
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
# keys_of_help TEXT: the keys a --help block lists, one a line.
keys_of_help ()
{
  sed -nE 's/^\[([a-z-]+)=\].*/\1/p; s/^([a-z-]+)=.*/\1/p' <<<"$1" | sort -u
}
# keys_of_page POD: the keys its =item lines document.
keys_of_page ()
{
  sed -nE 's/^=item B<([a-z-]+)=.*/\1/p' "$1" | sort -u
}

# Each --help and its man page list the same keys, every one of them:
# a key added to one only fails here.
filter_help=$(sed -n '/^filter: multicopy/,/^plugin:/p' <<<"$help")
keys_help=$(keys_of_help "$filter_help")
keys_man=$(keys_of_page "$top/docs/nbdkit-multicopy-filter.pod")
[ -n "$keys_help" ] && [ "$keys_help" = "$keys_man" ] ||
  fail "filter --help and man page disagree:" \
    "$(diff <(echo "$keys_help") <(echo "$keys_man") | grep '^[<>]')"
plugin_help=$("${nbdkit_cmd[@]}" "$plugin" --help)
keys_help=$(keys_of_help "$plugin_help")
keys_man=$(keys_of_page "$top/nbdkit-multicopy.pod")
[ -n "$keys_help" ] && [ "$keys_help" = "$keys_man" ] ||
  fail "plugin --help and man page disagree:" \
    "$(diff <(echo "$keys_help") <(echo "$keys_man") | grep '^[<>]')"
echo "man pages render; each --help and its page list the same keys:" \
  $(keys_of_help "$plugin_help")
