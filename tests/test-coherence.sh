#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Coherence over an upstream that is NOT multi-conn safe: the wbcache
# fixture keeps a write-back cache per connection until flush, keeps
# stale clean blocks after it, and loses unflushed writes on disconnect.
#
# 1. Used directly over two connections the fixture really is
#    incoherent: the checks below could fail.
# 2. Through multicopy (4 connections, 64K stripes): reads see earlier
#    writes at once; after a client's flush the data is in the store
#    (a fresh connection, with an empty cache, reads it); two client
#    connections see each other's flushed writes; every upstream
#    connection carried writes and got a flush.
# 3. qemu-img convert through multicopy lands byte for byte.
# 4. Writes never flushed by the client are flushed at multicopy's exit.
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdsh python3

start_nbdkit up --filter=log "$wbcache" size=64M logfile="$tmp/up.trace"
UP=$(uri up)

echo "== 1. the fixture is incoherent across its own connections"
client wbcache-incoherent.py "$UP"
stop_server up
rm -f "$tmp/up.trace"

start_nbdkit up --filter=log "$wbcache" size=64M logfile="$tmp/up.trace"
start_multicopy mc up connections=4 segment-size=64K
MC=$(uri mc)

echo "== 2. through multicopy"
client coherence-two-clients.py "$MC" "$UP"
"$top/tests/log-check.py" ownership "$tmp/up.trace" 65536 4 4
[ "$(log_count_by_connection "$tmp/up.trace" Flush | wc -l)" -eq 4 ] ||
  fail "the flush did not reach all 4 upstream connections"

echo "== 3. qemu-img convert"
make_source src 64
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$MC"
# qemu-img flushed at the end; a fresh connection reads the store only.
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$UP"

echo "== 4. unflushed writes are flushed when multicopy exits"
nbdsh -u "$MC" -c '
h.pwrite(b"Z" * 200000, 3 << 20)
h.shutdown()            # no flush
'
stop_server mc
nbdsh -u "$UP" -c '
assert h.pread(200000, 3 << 20) == b"Z" * 200000, "lost at exit"
print("unflushed client writes reached the store at exit")
'
