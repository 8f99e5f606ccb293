#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# One rule, the same in the plugin and the filter (common/dirty.h): a
# connection (context) needs a flush when a write, zero or trim on it
# succeeded without FUA since its last flush began, or while another
# flush on it is still in flight.  So a client's flush goes to the
# dirty ones only, exit flushes none after FUA writes, and a flush that
# finds a connection clean because another client's flush took its
# mark still waits for the data to be on the store, for that flush
# and without sending its own.
source "$(dirname "$0")/functions.sh"
requires nbdsh python3
export PATH=/usr/bin:$PATH

# flushes TRACE: how many flushes the upstream saw.
flushes () { grep -c ' Flush id=' "$1" || true; }

# front NAME: start multicopy (plugin or filter) as NAME over the
# fixture (extra fixture args after it), with the log filter between
# them writing $tmp/NAME.trace.
front ()
{
  local name=$1 kind=$2
  shift 2
  case $kind in
  plugin)
    start_nbdkit "$name-up" --filter=log "$wbcache" logfile="$tmp/$name.trace" \
      "$@"
    start_nbdkit "$name" "$plugin" "$(uri "$name-up")" connections=4 \
      segment-size=64K replay-buffer=0 ;;
  filter)
    start_nbdkit "$name" --filter="$filter" --filter=log "$wbcache" \
      logfile="$tmp/$name.trace" connections=4 segment-size=64K "$@" ;;
  esac
}

stop_front ()
{
  stop_server "$1"
  [ "$2" = filter ] || stop_server "$1-up"
}

for kind in plugin filter; do
  echo "== $kind: a flush goes only where writes are"
  front d $kind size=16M
  nbdsh -u "$(uri d)" -c 'h.pwrite(b"a" * 65536, 65536); h.flush()'
  n=$(flushes "$tmp/d.trace")
  [ "$n" -eq 1 ] || fail "$kind: one stripe written, $n upstream flushes"
  # The one flush went to the connection that took the write.
  w=$(grep ' Write id=' "$tmp/d.trace" | grep -o '^[^ ]* [^ ]* connection=[0-9]*' | awk '{print $3}')
  f=$(grep ' Flush id=' "$tmp/d.trace" | awk '{print $3}')
  [ "$w" = "$f" ] || fail "$kind: the write went to $w, the flush to $f"

  echo "== $kind: a FUA write needs no flush, at close or at exit"
  nbdsh -u "$(uri d)" -c \
    'h.pwrite(b"b" * 65536, 2 * 65536, nbd.CMD_FLAG_FUA)'
  stop_front d $kind
  n=$(flushes "$tmp/d.trace")
  [ "$n" -eq 1 ] || fail "$kind: $((n - 1)) flushes after a FUA write"
  grep -q ' Write id=.* offset=0x20000 .*fua=1' "$tmp/d.trace" ||
    fail "$kind: the FUA write did not go down as FUA"

  echo "== $kind: a flush waits for another's that took its mark"
  truncate -s 16M "$tmp/store.raw"
  front r $kind backing="$tmp/store.raw" flush-delay=1000
  CLIENT_TIMEOUT=30 client flush-covers-in-flight.py "$(uri r)" \
    "$tmp/store.raw" $((3 * 65536))
  stop_front r $kind
  n=$(flushes "$tmp/r.trace")
  [ "$n" -eq 1 ] ||
    fail "$kind: two flushes waited for one in flight, yet the upstream saw $n"
  rm -f "$tmp/store.raw"
done
echo ok
