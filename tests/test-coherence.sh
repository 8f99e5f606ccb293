#!/usr/bin/env bash
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
requires qemu-img

start_nbdkit up --filter=log "$wbcache" size=64M logfile="$tmp/up.trace"
export UP=$(uri up)

echo "== 1. the fixture is incoherent across its own connections"
nbdsh -c '
import os
a, b = nbd.NBD(), nbd.NBD()
a.connect_uri(os.environ["UP"]); b.connect_uri(os.environ["UP"])
assert b.pread(4096, 0) == bytes(4096)     # b now caches block 0
a.pwrite(b"A" * 4096, 0)
a.flush()
assert a.pread(4096, 0) == b"A" * 4096
assert b.pread(4096, 0) == bytes(4096), "fixture is coherent: test is void"
a.pwrite(b"L" * 4096, 8192)                 # never flushed...
a.shutdown()                                # ...and lost on disconnect
c = nbd.NBD(); c.connect_uri(os.environ["UP"])
assert c.pread(4096, 8192) == bytes(4096), "fixture kept unflushed data"
assert c.pread(4096, 0) == b"A" * 4096
print("fixture: stale reads across connections, unflushed data lost")
'
stop_server up
rm -f "$tmp/up.trace"

start_nbdkit up --filter=log "$wbcache" size=64M logfile="$tmp/up.trace"
start_multicopy mc up connections=4 segment-size=64K
export MC=$(uri mc)

echo "== 2. through multicopy"
nbdsh -c '
import os, random
random.seed(7)
size = 64 << 20
model = bytearray(size)
h.connect_uri(os.environ["MC"])
h2 = nbd.NBD(); h2.connect_uri(os.environ["MC"])
for i in range(300):
    off = random.randrange(0, 4 << 20)
    n = random.randrange(1, 300000)
    n = min(n, size - off)
    data = os.urandom(n)
    (h if i % 2 else h2).pwrite(data, off)
    model[off:off+n] = data
    # Read-after-write without a flush, through either client connection.
    ro = random.randrange(max(0, off - 70000), off + 1)
    rn = min(200000, size - ro)
    got = (h2 if i % 3 else h).pread(rn, ro)
    assert got == model[ro:ro+rn], f"stale read at {ro:#x}+{rn:#x} after write {i}"
# A flush on one client connection covers writes made on the other.
h.flush()
fresh = nbd.NBD(); fresh.connect_uri(os.environ["UP"])
for off in range(0, 5 << 20, 1 << 20):
    assert fresh.pread(1 << 20, off) == model[off:off + (1 << 20)], \
        f"after flush, the store lacks data at {off:#x}"
print("read-after-write and flush coverage ok over 300 writes")
'
"$top/tests/log-check.py" ownership "$tmp/up.trace" 65536 4 4
[ "$(log_count_by_connection "$tmp/up.trace" Flush | wc -l)" -eq 4 ] ||
  fail "the flush did not reach all 4 upstream connections"

echo "== 3. qemu-img convert"
make_source "$tmp/src.qcow2" 64
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
