#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The filter at exit: writes that clients saw acknowledged and never
# flushed reach the upstream's storage although nbdkit is stopped
# (SIGTERM) while the clients are still connected.  nbdkit 1.32 does
# not call .close for them then, so the flush must happen in
# .cleanup.  The upstream is the write-back-cache fixture, which drops
# what a connection did not flush when that connection closes.
source "$(dirname "$0")/functions.sh"
requires python3 cmp

# exit_keeps NAME CLIENTS BYTES: CLIENTS clients of the filter write
# BYTES each and stay connected; the filter's nbdkit is stopped; the
# upstream must hold every byte.
exit_keeps ()
{
  local name=$1 clients=$2 bytes=$3
  start_nbdkit "$name" --filter="$filter" nbd uri="$(uri up)" \
    connections=4 segment-size=64K
  python3 "$top/tests/py/hold-writes.py" "$(uri "$name")" "$clients" \
    "$bytes" "$tmp/expect" >"$tmp/client.out" 2>&1 &
  local client=$!
  for i in $(seq 300); do
    grep -q written "$tmp/client.out" && break
    kill -0 $client 2>/dev/null || fail "the client failed: $(cat "$tmp/client.out")"
    sleep 0.1
  done
  grep -q written "$tmp/client.out" || fail "the client did not finish writing"
  stop_server "$name" 20
  timeout 20 tail --pid=$client -f /dev/null || fail "the client hung"
  # Only what reached the store counts: read it on a fresh connection.
  nbdcopy "$(uri up)" "$tmp/store.raw"
  cmp -n "$(stat -c %s "$tmp/expect")" "$tmp/expect" "$tmp/store.raw" ||
    fail "acknowledged writes were lost at exit"
  echo "$clients client(s): all $(( clients * bytes )) bytes reached the store"
}

start_nbdkit up "$wbcache" size=64M

echo "== one client, 1 MiB never flushed"
exit_keeps fl1 1 $((1 << 20))

echo "== eight clients, 1 MiB each"
exit_keeps fl8 8 $((1 << 20))
