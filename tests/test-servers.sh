#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Several upstream servers of one storage (uri= given once per server):
# the connections are spread over them; copies with qemu-img and nbdcopy
# are identical, every server carries writes and gets a flush; over
# servers that each keep their own write-back cache in front of one
# shared file, ownership is what keeps the data right; one server
# killed and restarted in the middle of a copy; servers that disagree
# on the size, or fewer connections than servers, are refused.
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdcopy nbdsh python3

make_source src 64

echo "== two nbdkit servers over one file"
truncate -s 64M "$tmp/dst.img"
for s in s1 s2; do
  start_nbdkit $s --filter=log file "$tmp/dst.img" logfile="$tmp/$s.trace"
done
start_nbdkit mc "$plugin" uri="$(uri s1)" uri="$(uri s2)" connections=4 \
  segment-size=1M stats="$tmp/mc.stats"
grep -q 'multicopy: 4 upstream connections up, 2 to each of 2 servers' \
  "$tmp/mc.log" || fail "the startup line does not name the servers"
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)"
stop_server mc
cmp "$tmp/src.raw" "$tmp/dst.img" || fail "qemu-img: the file differs"
for s in s1 s2; do
  grep -q ' Write ' "$tmp/$s.trace" || fail "$s carried no writes"
  grep -q ' Flush ' "$tmp/$s.trace" || fail "$s got no flush"
done
for i in 0 1 2 3; do
  grep -q "^connection=$i server=$((i % 2)) " "$tmp/mc.stats" ||
    fail "the stats do not say connection $i goes to server $((i % 2))"
done
grep '^# server=' "$tmp/mc.stats"
echo "qemu-img: identical; both servers wrote and flushed"

truncate -s 0 "$tmp/dst.img"; truncate -s 64M "$tmp/dst.img"
start_nbdkit mc "$plugin" uri="$(uri s1)" uri="$(uri s2)" connections=4 \
  segment-size=1M
nbdcopy_4 nbdcopy "$(uri mc)"
stop_server mc
cmp "$tmp/src.raw" "$tmp/dst.img" || fail "nbdcopy: the file differs"
echo "nbdcopy: identical"
stop_server s1
stop_server s2

echo "== three servers, each with its own write-back caches, one shared file"
truncate -s 64M "$tmp/back.img"
for s in w1 w2 w3; do
  start_nbdkit $s "$wbcache" backing="$tmp/back.img"
done
# The fixture shares the file but not its caches: a server reads its
# own stale copy of a block that another server rewrote and flushed.
nbdsh -c "
import os
a, b = nbd.NBD(), nbd.NBD()
a.connect_uri('$(uri w1)'); b.connect_uri('$(uri w2)')
assert b.pread(4096, 0) == bytes(4096)
a.pwrite(b'A' * 4096, 0); a.flush()
assert b.pread(4096, 0) == bytes(4096), 'the servers share a cache: void'
print('the servers do not see each other\'s writes: only ownership helps')
"
truncate -s 0 "$tmp/back.img"; truncate -s 64M "$tmp/back.img"
start_nbdkit mc "$plugin" uri="$(uri w1)" uri="$(uri w2)" uri="$(uri w3)" \
  connections=6 segment-size=64K
nbdcopy_4 nbdcopy-w "$(uri mc)"
qemu-img compare -f raw -F raw "$tmp/src.raw" "$(uri mc)"
stop_server mc
cmp "$tmp/src.raw" "$tmp/back.img" || fail "the shared file differs"
echo "three caching servers over one file: identical"
for s in w1 w2 w3; do stop_server $s; done

echo "== one of two servers killed and restarted in the middle of a copy"
truncate -s 0 "$tmp/dst.img"; truncate -s 64M "$tmp/dst.img"
start_slow () {
  rm -f "$(sock "$1")"
  start_nbdkit "$1" --filter=noparallel --filter=delay file "$tmp/dst.img" \
    wdelay=30ms
}
start_slow s1; start_slow s2
start_nbdkit mc "$plugin" uri="$(uri s1)" uri="$(uri s2)" connections=4 \
  segment-size=256K reconnect-timeout=30
nbdcopy --flush "$tmp/src.raw" "$(uri mc)" >"$tmp/client.out" 2>&1 &
client=$!
sleep 0.7
kill -0 $client || fail "the copy finished before the kill"
kill_server s2
sleep 0.5
start_slow s2
copy_outcome $client "$tmp/dst.img"
grep -qE 'upstream connection [13]: reconnected' "$tmp/mc.log" ||
  fail "server 2's connections did not reconnect"
stop_server mc

echo "== refused: servers of different sizes, fewer connections than servers"
start_nbdkit m16 memory 16M
start_nbdkit m32 memory 32M
refused 'connection 1 to server 1 .* reports size 33554432, upstream connection 0 to server 0 .* reports 16777216' \
  "$plugin" uri="$(uri m16)" uri="$(uri m32)" connections=2
refused 'connections=2 is fewer than the 3 servers' \
  "$plugin" uri="$(uri m16)" uri="$(uri m16)" socket="$(sock m16)" \
  connections=2
refused "server 1 .*nowhere.sock.*: .*No such file" \
  "$plugin" uri="$(uri m16)" socket="$tmp/nowhere.sock" retry=0
