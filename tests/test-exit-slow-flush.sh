#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Exit while an internal flush of the replay log is out to a multi-conn
# upstream whose flushes outlast shutdown-timeout.  That flush, sent by
# connection 1, also covers connection 0's log (one flush of a
# multi-conn server covers all its connections); it is still out when
# the exit cuts the connections, so its completion runs while the pool
# closes and reaches connection 0's log.  Checked:
#  - multicopy exits within its bound (three shutdown-timeouts and a
#    second);
#  - the two connections that hold acknowledged, unflushed writes are
#    both named as not flushed at exit, and the two that hold none are
#    not;
#  - under make check-asan, no report: the logs are freed only after
#    every handle is closed.
source "$(dirname "$0")/functions.sh"
requires nbdsh

export PATH=/usr/bin:$PATH
start_nbdkit up "$wbcache" size=16M multi-conn=true flush-delay=4000
# 9M of logs over 4 connections: 2.25M each, so 1.25M of writes on
# connection 1's stripes (1M at 1M, 256K at 5M) fill more than half
# of its log and start its internal flush.
start_multicopy mc up connections=4 segment-size=1M replay-buffer=9M \
  shutdown-timeout=1 stats="$tmp/mc.stats"

nbdsh -u "$(uri mc)" -c '
h.pwrite(b"\x01" * 4096, 0)
h.pwrite(b"\x02" * (1 << 20), 1 << 20)
h.pwrite(b"\x03" * (1 << 18), 5 << 20)
'

flushes=0
for _ in $(seq 50); do
  [ -s "$tmp/mc.stats" ] && flushes=$(stat_sum log-flushes "$tmp/mc.stats")
  [ "${flushes:-0}" -ge 1 ] && break
  sleep 0.1
done
[ "${flushes:-0}" -ge 1 ] || fail "no internal flush was sent"
grep -q "connection=1 .* log-flushes=1 " "$tmp/mc.stats" ||
  fail "the internal flush was not connection 1's: $(cat "$tmp/mc.stats")"

# The internal flush takes 4 s; exit now, with it out.
stop_server mc 8

for i in 0 1; do
  grep -q "upstream connection $i: writes that clients left unflushed .* could not be flushed at exit" "$tmp/mc.log" ||
    fail "connection $i held unflushed writes and is not named at exit"
done
for i in 2 3; do
  ! grep -q "upstream connection $i: writes that clients left unflushed" "$tmp/mc.log" ||
    fail "connection $i held no writes but is named at exit"
done
echo "exit with an internal flush out: bounded, connections 0 and 1 named"
