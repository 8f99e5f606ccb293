#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The replay log: a lost connection or a crashed upstream costs time,
# never data.  The upstream is the write-back-cache fixture, which
# drops what a connection did not flush when that connection closes
# (or the process dies), so every write that was not replayed is
# really gone; every copy is compared after multicopy has exited, so
# that only what reached the store counts.
#  - qemu-img convert and nbdcopy, every upstream connection cut twice
#    mid-copy: both exit 0, the data is identical, nothing is reported
#    lost; without replay (replay-buffer=0) the same cuts lose data,
#    and qemu-img, which ignores a failed flush, now fails all the same
#    (its next write after the loss fails);
#  - the same cuts into a multi-conn upstream (the fixture's flush then
#    writes back every connection's cache): one internal flush frees
#    the logs of all the connections, so there are fewer of them, and
#    still nothing is lost;
#  - the upstream killed (SIGKILL) mid-copy and started again a second
#    later on the same storage: the copy exits 0, identical;
#  - a log at its bound: memory stays bounded (the server's peak RSS),
#    internal flushes make room, writers wait, and the stats say so;
#  - the upstream gone for good: the loss is reported, and qemu-img
#    convert exits non-zero.
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdcopy python3

mib=32
make_source src $mib
declare -A flushes

cut_all ()
{
  echo all > "$(sock "$1").cut"
  kill -USR1 "${server_pid[$1]}"
}

# The client command for copying the source into the multicopy server.
copy_cmd ()
{
  case $1 in
    qemu-img) echo qemu-img convert -n -W -m 8 -f raw -O raw \
                "$tmp/src.raw" "$(uri mc)" ;;
    nbdcopy) echo nbdcopy --flush "$tmp/src.raw" "$(uri mc)" ;;
  esac
}

# store_is_source: the upstream's store (a fresh connection) holds the
# source, byte for byte.
store_is_source ()
{
  qemu-img compare -q -f raw -F raw "$tmp/src.raw" "$(uri up)"
}

# cut_twice CLIENT PARAMS...: the copy through multicopy (PARAMS) over
# the relay, every connection cut at 0.7 s and at 1.6 s; sets $rc.
# $up_params: more parameters of the upstream fixture.
# With lossy set, the copy may fail before the second cut: without
# replay, its next write after the first loss fails (seen in CI).
cut_twice ()
{
  local client=$1
  shift
  # nbdkit 1.32 can abort when a client connection is cut while several
  # of its requests are in flight (DESIGN.md): one at a time upstream.
  start_nbdkit up --threads 1 --filter=rate "$wbcache" size=${mib}M \
    rate=80M burstiness=0.02 ${up_params:-}
  start_relay proxy up
  start_multicopy mc proxy connections=4 segment-size=1M \
    stats="$tmp/mc.stats" "$@"
  rc=0
  $(copy_cmd "$client") >"$tmp/client.out" 2>&1 &
  local pid=$!
  sleep 0.7
  kill -0 $pid || fail "the copy ended before the first cut"
  cut_all proxy
  sleep 0.9
  if kill -0 $pid; then
    cut_all proxy
  elif [ -z "${lossy:-}" ]; then
    fail "the copy ended before the second cut"
  fi
  timeout 120 tail --pid=$pid -f /dev/null || fail "the copy hung"
  wait $pid || rc=$?
  stop_server mc
  stop_server proxy
}

for client in qemu-img nbdcopy; do
  echo "== $client, every connection cut twice mid-copy"
  cut_twice $client
  [ $rc -eq 0 ] || fail "$client failed (exit $rc): $(cat "$tmp/client.out")"
  ! grep 'was lost while it held writes' "$tmp/mc.log" ||
    fail "a loss was reported"
  store_is_source || fail "$client: the store differs from the source"
  replays=$(stat_sum replays "$tmp/mc.stats")
  [ "$replays" -ge 4 ] || fail "only $replays replays: $(cat "$tmp/mc.stats")"
  flushes[$client]=$(stat_sum log-flushes "$tmp/mc.stats")
  echo "$client: exit 0, the store is identical, $replays replays," \
    "${flushes[$client]} internal flushes"
  stop_server up
done

echo "== the same cuts into a multi-conn upstream: flushes shared, no loss"
up_params=multi-conn=true cut_twice qemu-img
[ $rc -eq 0 ] || fail "qemu-img failed (exit $rc): $(cat "$tmp/client.out")"
! grep 'was lost while it held writes' "$tmp/mc.log" ||
  fail "a loss was reported"
store_is_source || fail "multi-conn: the store differs from the source"
shared=$(stat_sum log-flushes "$tmp/mc.stats")
[ "$shared" -lt "${flushes[qemu-img]}" ] ||
  fail "$shared internal flushes with multi-conn, ${flushes[qemu-img]} without"
replays=$(stat_sum replays "$tmp/mc.stats")
echo "qemu-img: identical, $replays replays, $shared internal flushes" \
  "(${flushes[qemu-img]} without multi-conn)"
stop_server up

echo "== without replay the same cuts lose data, and qemu-img is told"
lossy=1 cut_twice qemu-img replay-buffer=0
grep -q 'was lost while it held writes' "$tmp/mc.log" ||
  fail "no loss reported without replay: the fixture dropped nothing"
[ $rc -ne 0 ] || store_is_source ||
  fail "qemu-img exited 0 although writes were lost"
echo "qemu-img exit $rc: $(grep -m1 'write fails\|error' "$tmp/client.out" || true)"
stop_server up

echo "== the upstream killed mid-copy, started again a second later"
truncate -s ${mib}M "$tmp/store.raw"
start_nbdkit up --filter=rate "$wbcache" backing="$tmp/store.raw" \
  size=${mib}M rate=80M burstiness=0.02
start_multicopy mc up connections=4 segment-size=1M stats="$tmp/mc.stats"
rc=0
$(copy_cmd qemu-img) >"$tmp/client.out" 2>&1 &
pid=$!
sleep 0.8
kill -0 $pid || fail "the copy ended before the kill"
kill_server up
sleep 1
start_nbdkit up --filter=rate "$wbcache" backing="$tmp/store.raw" \
  size=${mib}M rate=80M burstiness=0.02
timeout 120 tail --pid=$pid -f /dev/null || fail "the copy hung"
wait $pid || rc=$?
stop_server mc
[ $rc -eq 0 ] || fail "qemu-img failed (exit $rc): $(cat "$tmp/client.out")"
! grep 'was lost while it held writes' "$tmp/mc.log" || fail "a loss was reported"
store_is_source || fail "the store differs from the source after the crash"
echo "qemu-img: exit 0 across a crash of the upstream, identical"
stop_server up

echo "== a log at its bound: 64M copied through 16M of logs, slow flushes"
make_source big 64
# peak_rss NAME PARAMS...: the copy of big through multicopy NAME;
# the server's peak RSS, in KiB, in $hwm.
peak_rss ()
{
  local name=$1
  shift
  start_nbdkit "$name-up" "$wbcache" size=64M flush-delay=200
  start_nbdkit "$name" "$plugin" "$(uri "$name-up")" connections=4 \
    segment-size=1M stats="$tmp/$name.stats" "$@"
  qemu-img convert -n -W -m 8 -f raw -O raw "$tmp/big.raw" "$(uri "$name")"
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/${server_pid[$name]}/status")
  stop_server "$name"
  qemu-img compare -q -f raw -F raw "$tmp/big.raw" "$(uri "$name-up")" ||
    fail "$name: the copy differs"
  stop_server "$name-up"
}
peak_rss plain replay-buffer=0
plain=$hwm
peak_rss bound replay-buffer=16M
cat "$tmp/bound.stats"
sum ()
{
  stat_sum "$1" "$tmp/bound.stats"
}
[ "$(sum log-flushes)" -gt 0 ] || fail "no internal flush made room"
[ "$(sum log-waits)" -gt 0 ] || fail "no writer waited for room"
most=$(grep -o ' replay-log=[0-9]*/[0-9]*' "$tmp/bound.stats" | cut -d/ -f2 |
         sort -n | tail -1)
[ "$most" -le $((4 << 20)) ] || fail "a log held $most bytes, over its 4M"
# The logs' 16M over the same copy without them (and a little for
# malloc's own): far below the 64M copied.
[ "$hwm" -lt $(( plain + 24 * 1024 )) ] ||
  fail "peak RSS ${hwm} KiB, against ${plain} KiB without replay"
echo "peak RSS ${hwm} KiB (${plain} KiB without replay); $(sum log-flushes)" \
  "internal flushes, $(sum log-waits) waits; largest log $most bytes"

echo "== the upstream gone for good"
start_nbdkit up --filter=rate "$wbcache" size=${mib}M rate=80M burstiness=0.02
start_multicopy mc up connections=4 segment-size=1M reconnect-timeout=2
rc=0
$(copy_cmd qemu-img) >"$tmp/client.out" 2>&1 &
pid=$!
sleep 0.8
kill_server up
timeout 120 tail --pid=$pid -f /dev/null || fail "the copy hung"
wait $pid || rc=$?
[ $rc -ne 0 ] || fail "qemu-img exited 0 into an upstream that is gone"
grep -q 'was lost while it held writes' "$tmp/mc.log" ||
  fail "the loss was not reported"
echo "qemu-img exit $rc; the loss is in the log"
