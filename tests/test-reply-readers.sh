#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The reply readers (reply-threads=): with none, one, and several of
# unequal groups, copies and reads back arrive byte for byte, each
# stripe on one connection; and a connection whose replies a reader
# reads still hears its server go away (NBD_ESHUTDOWN) and die, and
# comes back, during a copy.
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdcopy python3

make_source src 32
want=$(sha256sum <"$tmp/src.raw" | cut -d' ' -f1)

# How many readers the plugin said it started (0 if it said nothing).
readers_said ()
{
  sed -n 's/.*debug: \([0-9]*\) reply reader threads\{0,1\} for.*/\1/p' \
    "$tmp/mc.log" | tail -1 | grep . || echo 0
}

# connections, reply-threads, the readers that must run.
for case in "5 0 0" "5 1 1" "5 3 3" "3 8 3"; do
  read -r conns rt expect <<<"$case"
  echo "== connections=$conns reply-threads=$rt"
  start_nbdkit up --filter=log --filter=multi-conn memory 32M \
    multi-conn-mode=disable logfile="$tmp/up.trace"
  start_multicopy mc up connections="$conns" segment-size=256K \
    reply-threads="$rt"
  [ "$(readers_said)" = "$expect" ] ||
    fail "reply-threads=$rt: $(readers_said) readers started, want $expect"
  qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)"
  # Read back through the readers too: their payloads land in the
  # client's buffers.
  qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$(uri mc)" ||
    fail "reply-threads=$rt: the copy read back differs"
  [ "$(nbd_sha256 "$(uri up)")" = "$want" ] ||
    fail "reply-threads=$rt: the upstream's content differs"
  "$top/tests/log-check.py" ownership "$tmp/up.trace" $((256 << 10)) \
    "$conns" "$conns"
  stop_server mc
  stop_server up
  rm -f "$tmp/up.trace"
done

# A graceful restart and a crash of the upstream, each during a copy,
# with three readers over five connections.  nbdcopy --flush: its
# exit says whether a write was lost.
truncate -s 32M "$tmp/dst.img"
start_up ()
{
  rm -f "$(sock up)"
  # One request at a time per connection, 50ms each: the copy takes a
  # few seconds, long enough to be cut in its middle.
  start_nbdkit up --filter=noparallel --filter=delay file "$tmp/dst.img" \
    wdelay=50ms
}

echo "== the upstream restarts gracefully during a copy"
start_up
start_multicopy mc up connections=5 segment-size=256K reply-threads=3
nbdcopy --flush "$tmp/src.raw" "$(uri mc)" >"$tmp/client.out" 2>&1 &
client=$!
sleep 0.5
kill -0 $client 2>/dev/null || fail "the copy finished before the restart"
stop_server up 10
start_up
timeout 120 tail --pid=$client -f /dev/null || fail "the copy hung"
wait $client || fail "the copy failed: $(cat "$tmp/client.out")"
grep -q 'the server is shutting down' "$tmp/mc.log" ||
  fail "no connection heard the server go away"
cmp "$tmp/src.raw" "$tmp/dst.img" || fail "the copy differs after the restart"
stop_server mc
echo "the copy went on across the restart, identical"

echo "== the upstream is killed during a copy"
: >"$tmp/dst.img"
truncate -s 32M "$tmp/dst.img"
start_multicopy mc up connections=5 segment-size=256K reply-threads=3 \
  reconnect-timeout=30
nbdcopy --flush "$tmp/src.raw" "$(uri mc)" >"$tmp/client.out" 2>&1 &
client=$!
sleep 0.5
kill -0 $client 2>/dev/null || fail "the copy finished before the kill"
kill_server up
sleep 0.5
start_up
copy_outcome $client "$tmp/dst.img"
grep -qE 'upstream connection [0-9]: reconnected' "$tmp/mc.log" ||
  fail "no reconnect logged"
stop_server mc
