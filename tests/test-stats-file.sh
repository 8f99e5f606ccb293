#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# stats=FILE in a directory that others can write: no name planted
# there is followed or clobbered (a symlink at FILE.tmp to a file the
# server may write, as root, or a regular FILE.tmp), neither at the
# startup check nor at each rewrite; FILE itself is replaced, never
# written through.  A FILE that is a directory is refused at startup.
# For the plugin and the filter.
source "$(dirname "$0")/functions.sh"
requires nbdsh

dir=$tmp/shared
mkdir "$dir"
chmod 1777 "$dir"
echo precious > "$tmp/victim"
echo precious > "$tmp/victim2"

# planted NAME: plant the names, run a server that writes its stats
# into $dir/NAME, write and read through it, stop it; nothing planted
# may have changed, and the stats must be there.
planted ()
{
  local name=$1 stats=$dir/$1
  shift
  ln -s "$tmp/victim" "$stats.tmp"
  echo "someone else's" > "$stats.XXXXXX"
  ln -s "$tmp/victim2" "$stats"
  start_nbdkit "$name" "$@" stats="$stats"
  nbdsh -u "$(uri "$name")" -c 'h.pwrite(b"x" * 65536, 0); h.flush()'
  sleep 2.2                     # at least one rewrite while serving
  stop_server "$name"
  [ "$(cat "$tmp/victim")" = precious ] ||
    fail "$name: the file behind the planted symlink $stats.tmp was changed"
  [ "$(cat "$tmp/victim2")" = precious ] ||
    fail "$name: the stats were written through the symlink $stats"
  [ -L "$stats.tmp" ] || fail "$name: the planted $stats.tmp was removed"
  [ "$(cat "$stats.XXXXXX")" = "someone else's" ] ||
    fail "$name: a regular file was clobbered"
  [ -f "$stats" ] && [ ! -L "$stats" ] && grep -q '^balance=' "$stats" ||
    fail "$name: no stats file"
  [ -z "$(find "$dir" -name "$name.*" ! -name "$name.tmp" \
            ! -name "$name.XXXXXX")" ] ||
    fail "$name: temporary files left: $(ls "$dir")"
  echo "$name: planted names untouched, stats written"
}

start_nbdkit up memory 16M
planted mc "$plugin" "$(uri up)" connections=2
planted fl --filter="$filter" memory 16M connections=2

mkdir "$dir/adir"
refused 'stats=.*adir.*is a directory' \
  "$plugin" "$(uri up)" stats="$dir/adir"
refused 'stats=.*adir.*is a directory' \
  --filter="$filter" memory 16M stats="$dir/adir"
[ -z "$(ls "$dir" | grep adir.)" ] || fail "files left beside the directory"
refused 'stats=.*cannot write' \
  "$plugin" "$(uri up)" stats="$tmp/nowhere/stats"
