#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Stress with verification: 8 clients doing random,
# overlapping reads, writes (some FUA), zeroes, trims and flushes for a
# bounded time, every read checked against a model (tests/mc-stress.c).
# The upstream is the wbcache fixture: no multi-conn, a write-back cache
# per connection.  After the final flush the whole disk is read back
# through multicopy and straight from the upstream, byte for byte.
source "$(dirname "$0")/functions.sh"
requires python3

secs=${STRESS_SECONDS:-8}
stress=$top/tests/mc-stress

echo "== plugin: 8 clients, connections=4, 64K stripes"
start_nbdkit up --filter=log "$wbcache" size=16M logfile="$tmp/up.trace"
start_multicopy mc up connections=4 segment-size=64K
timeout $((secs + 60)) "$stress" "$(uri mc)" "$secs" 8 "$(uri up)"
stop_server mc
# All four upstream connections carried writes.
n=$(log_count_by_connection "$tmp/up.trace" Write | wc -l)
[ "$n" -ge 4 ] || fail "only $n upstream connections carried writes"
# And each stripe was written on one upstream connection only.
"$top/tests/log-check.py" ownership "$tmp/up.trace" 65536 4 4
stop_server up

# Pieces that wait for room in flight: 8 clients' requests cut into
# many pieces, only 3 out at a time.
echo "== plugin: the same with max-in-flight=3"
start_nbdkit up3 "$wbcache" size=16M
start_multicopy mc3 up3 connections=4 segment-size=64K max-in-flight=3
timeout $((secs + 60)) "$stress" "$(uri mc3)" "$secs" 8 "$(uri up3)"
stop_server mc3
stop_server up3

# The replay log under load: every upstream connection is cut every
# 2 s while 8 clients read and write; the upstream drops what a
# connection did not flush when it closes.  Nothing may fail, and after
# the final flush the upstream must hold every write.  (One request at
# a time upstream: nbdkit 1.32 can abort when a connection is cut
# under several.)
echo "== plugin: 8 clients, every upstream connection cut every 2 s"
start_nbdkit upc --threads 1 "$wbcache" size=16M
start_relay proxy upc
start_multicopy mcc proxy connections=4 segment-size=64K \
  stats="$tmp/mcc.stats"
timeout $((secs + 60)) "$stress" "$(uri mcc)" "$secs" 8 "$(uri upc)" &
stressing=$!
for i in $(seq $(( secs / 2 ))); do
  sleep 2
  kill -0 $stressing 2>/dev/null || break
  echo all > "$(sock proxy).cut"
  kill -USR1 "${server_pid[proxy]}"
done
wait $stressing || fail "the stress run failed under cuts"
stop_server mcc
replays=$(stat_sum replays "$tmp/mcc.stats")
[ "$replays" -gt 0 ] || fail "nothing was replayed: the cuts missed"
! grep 'was lost while it held writes' "$tmp/mcc.log" ||
  fail "a loss was reported"
echo "$replays replays, nothing lost"
stop_server proxy
stop_server upc

# wbcache has no multi-conn, but every client of the filter goes
# through the same contexts: 8 clients, which must see each other.
echo "== filter: 8 clients over 4 shared contexts of the wbcache plugin"
start_nbdkit fl --filter="$filter" "$wbcache" size=16M \
  connections=4 segment-size=64K
timeout $((secs + 60)) "$stress" "$(uri fl)" "$secs" 8
stop_server fl

# Below the parallel model the filter's own locks keep clients apart
# on each context; the fixture reports any overlap.
echo "== filter: the same under serialize_requests"
start_nbdkit fs --filter="$filter" "$wbcache" size=16M serialize=requests \
  connections=4 segment-size=64K
timeout $((secs + 60)) "$stress" "$(uri fs)" "$secs" 8
stop_server fs
if grep -F 'wbcache: overlap' "$tmp/fs.log"; then
  fail "two requests ran at once on one context"
fi

# The same with pieces waiting for room before they take a context's
# lock.
echo "== filter: serialize_requests with max-in-flight=2"
start_nbdkit fs2 --filter="$filter" "$wbcache" size=16M serialize=requests \
  connections=4 segment-size=64K max-in-flight=2
timeout $((secs + 60)) "$stress" "$(uri fs2)" "$secs" 8
stop_server fs2
if grep -F 'wbcache: overlap' "$tmp/fs2.log"; then
  fail "two requests ran at once on one context"
fi

echo "== filter: 8 clients over 4 contexts of the memory plugin"
start_nbdkit fm --filter="$filter" memory 16M connections=4 segment-size=64K
timeout $((secs + 60)) "$stress" "$(uri fm)" "$secs" 8
stop_server fm
