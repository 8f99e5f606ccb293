#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# A graceful restart of the upstream: nbdkit, on SIGTERM, answers with
# NBD_ESHUTDOWN and waits for its clients to leave.  multicopy must
# leave (NBD_CMD_DISC), so that the old upstream exits within seconds,
# and come back to the new one, during a copy and while idle.
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdsh python3

# restart_upstream: SIGTERM to the upstream, which must exit within
# 10s (it waits for multicopy to leave); then a new one on the same
# socket and file.
restart_upstream ()
{
  stop_server up 10
  start_up
}

make_source src 64
truncate -s 64M "$tmp/dst.img"
# No delay filter: its sleeps end at SIGTERM and nbdkit then drops the
# connection itself.  The client is slowed down instead (-r), so that
# the upstream connections sit idle between requests, as in a copy
# from a slow source, and nbdkit answers them with NBD_ESHUTDOWN.
start_up () { start_nbdkit up file "$tmp/dst.img"; }

echo "== (a) during a qemu-img convert"
start_up
start_multicopy mc up connections=4 segment-size=1M
qemu-img convert -n -W -m 8 -r 16M -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)" \
  >"$tmp/client.out" 2>&1 &
client=$!
sleep 0.7
kill -0 $client || fail "the copy finished before the restart"
restart_upstream
timeout 120 tail --pid=$client -f /dev/null || fail "the copy hung"
wait $client || fail "the copy failed: $(cat "$tmp/client.out")"
grep -q 'the server is shutting down' "$tmp/mc.log" ||
  fail "multicopy did not log the upstream's shutdown"
stop_server mc
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$tmp/dst.img" ||
  fail "the copy differs after the restart"
echo "the copy finished and is identical"

echo "== (b) while no client is connected"
start_multicopy mc up connections=4 segment-size=1M
sleep 1
restart_upstream
DATA=$tmp/data nbdsh -u "$(uri mc)" -c '
import os
data = os.urandom(4 << 20)
h.pwrite(data, 8 << 20)
h.flush()
assert h.pread(4 << 20, 8 << 20) == data
open(os.environ["DATA"], "wb").write(data)
' || fail "a client after the restart could not read and write"
stop_server mc
cmp -n $((4 << 20)) -i $((8 << 20)):0 "$tmp/dst.img" "$tmp/data" ||
  fail "the new upstream does not hold the data"
echo "a client after the restart reads and writes through the new upstream"
