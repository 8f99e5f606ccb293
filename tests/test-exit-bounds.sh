#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The plugin's exit is bounded, and spends its time where it saves
# data: requests waiting for room under max-in-flight end at once when
# nbdkit is stopped; an upstream that is slow but answers gets
# shutdown-timeout for what is in flight and then its own
# shutdown-timeout for the flush of what clients saw acknowledged,
# and not one of those writes is lost (the upstream is the
# write-back-cache fixture, which drops what a connection did not
# flush when it closes).  Being stopped is not an error of the user's:
# nbdkit's log says nothing of aborted sleeps.
source "$(dirname "$0")/functions.sh"
requires python3

# writers NAME CLIENTS DEPTH: clients of the multicopy server NAME
# keeping writes in flight (acked-writes.py), pid in $writer; returns
# once every client has had a write acknowledged.
writers ()
{
  python3 "$top/tests/py/acked-writes.py" write "$(uri "$1")" "$2" "$3" \
    "$tmp/acked" >"$tmp/writer.out" 2>&1 &
  writer=$!
  for i in $(seq 300); do
    grep -q busy "$tmp/writer.out" && return 0
    kill -0 $writer 2>/dev/null || break
    sleep 0.1
  done
  fail "the writers did not get going: $(cat "$tmp/writer.out")"
}

no_aborted_sleep ()
{
  ! grep 'aborting sleep' "$tmp/$1.log" ||
    fail "nbdkit logged an aborted sleep as an error"
}

echo "== 64 writes waiting for room under max-in-flight=1"
start_nbdkit up --filter=delay memory 64M wdelay=500ms
start_multicopy mc up connections=4 max-in-flight=1 shutdown-timeout=1
writers mc 4 16
# In flight: one piece, at most 1 s; then the flush at exit, at most 1 s.
stop_server mc 6
timeout 10 tail --pid=$writer -f /dev/null || fail "the writers hung"
no_aborted_sleep mc
stop_server up

echo "== a slow upstream with a backlog longer than shutdown-timeout"
# One write at a time over all connections, 150 ms each: 64 writes in
# flight are a backlog of 9.6 s, against shutdown-timeout=5.
start_nbdkit slow --filter=noparallel --filter=delay "$wbcache" size=64M \
  serialize=all-requests wdelay=150ms
start_multicopy mc slow connections=4 segment-size=64K shutdown-timeout=5 \
  max-in-flight=65536
writers mc 4 16
sleep 1
# The backlog (at most 5 s), the flush of what it left (at most 5 s).
stop_server mc 18
timeout 10 tail --pid=$writer -f /dev/null || fail "the writers hung"
cat "$tmp/writer.out"
no_aborted_sleep mc
python3 "$top/tests/py/acked-writes.py" check "$(uri slow)" "$tmp/acked"
