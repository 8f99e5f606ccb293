#!/usr/bin/env bash
# The multicopy filter: over nbdkit's nbd plugin into the write-back-
# cache fixture (two clients share the contexts and see each other's
# writes, multi-conn advertised, every upstream connection carries
# writes, flush reaches all in parallel, data in the store after flush,
# the last client out flushes and closes the contexts); over the memory
# and file plugins with qemu-img and nbdcopy; directly over a
# serialize_requests plugin, with several clients, that reports two
# requests at once on one handle; bad parameters and thread models
# refused.
source "$(dirname "$0")/functions.sh"
requires qemu-img
requires nbdcopy

make_source "$tmp/src.qcow2" 64
qemu-img convert -q -f qcow2 -O raw "$tmp/src.qcow2" "$tmp/src.raw"

echo "== over the nbd plugin into a per-connection write-back cache"
start_nbdkit up --filter=log "$wbcache" size=64M flush-delay=300 \
  logfile="$tmp/up.trace"
start_nbdkit fl --filter="$filter" nbd uri="$(uri up)" \
  connections=4 segment-size=64K
export FL=$(uri fl) UP=$(uri up)
nbdsh -c '
import os, random, time
random.seed(3)
a = h
a.connect_uri(os.environ["FL"])
assert a.can_multi_conn(), "no multi-conn although all clients share contexts"
b = nbd.NBD(); b.connect_uri(os.environ["FL"])
model = bytearray(a.get_size())
for i in range(200):
    w, r = (a, b) if i % 2 else (b, a)
    off = random.randrange(0, 3 << 20)
    data = os.urandom(random.randrange(1, 250000))
    w.pwrite(data, off)
    model[off:off+len(data)] = data
    ro = random.randrange(max(0, off - 70000), off + 1)
    assert r.pread(150000, ro) == model[ro:ro+150000], \
        f"a client did not see the other client\x27s write {i}"
b.flush()
fresh = nbd.NBD(); fresh.connect_uri(os.environ["UP"])
assert fresh.pread(4 << 20, 0) == model[:4 << 20], \
    "a flush on one client did not make the other\x27s writes durable"
print("two clients: each sees the other\x27s writes, one flush covers both")

# Unflushed writes when the last client leaves: the upstream drops what
# its connections did not flush, so the filter must flush them.
tail = os.urandom(1 << 20)
a.pwrite(tail, 5 << 20)
b.shutdown(); a.shutdown()
for _ in range(100):
    fresh = nbd.NBD(); fresh.connect_uri(os.environ["UP"])
    if fresh.pread(1 << 20, 5 << 20) == tail:
        break
    fresh.shutdown(); time.sleep(0.1)
else:
    raise AssertionError("writes left unflushed by the last client were lost")
print("the last client out: its unflushed writes were flushed")
'
"$top/tests/log-check.py" ownership "$tmp/up.trace" 65536 4 4
"$top/tests/log-check.py" flushes "$tmp/up.trace" 4
# The pool closed with its last client: every upstream connection the
# filter opened has disconnected.
connects=$(grep -c ' Connect ' "$tmp/up.trace")
disconnects=$(grep -c ' Disconnect ' "$tmp/up.trace")
[ $((connects - disconnects)) -le 1 ] ||
  fail "$connects upstream connections, $disconnects disconnected"

echo "== a client asking for another export while the pool serves one"
nbdsh -c '
import os
a = h; a.connect_uri(os.environ["FL"])
b = nbd.NBD()
try:
    b.connect_uri(os.environ["FL"].replace(":///?", ":///other?"))
except nbd.Error:
    pass
else:
    raise AssertionError("a client for another export was let in")
a.pread(512, 0)
'
grep -q 'this client asks for export "other", but the contexts that all clients share serve ""' \
  "$tmp/fl.log" || fail "no clear message for the second export"

echo "== nbdcopy through the filter over nbd sees multi-conn"
nbdcopy_4 nbdcopy-fl "$FL"
qemu-img compare -f raw -F raw "$tmp/src.raw" "$UP"

echo "== qemu-img convert through the filter over nbd"
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$FL"
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$UP"
stop_server fl
stop_server up

echo "== over memory: multi-conn advertised, nbdcopy uses 4 connections"
start_nbdkit mem --filter="$filter" memory 64M connections=4 segment-size=1M
nbdinfo --json "$(uri mem)" | grep -q '"can_multi_conn": true' ||
  fail "no multi-conn over the memory plugin"
nbdcopy_4 nbdcopy-mem "$(uri mem)"
qemu-img compare -f raw -F raw "$tmp/src.raw" "$(uri mem)"
stop_server mem

echo "== over file: the file holds the copy after nbdkit exits"
truncate -s 64M "$tmp/disk.img"
start_nbdkit file --filter="$filter" file "$tmp/disk.img" \
  connections=4 segment-size=4M
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri file)"
stop_server file
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$tmp/disk.img"

echo "== serialize_requests: never two requests at once on one context"
# nbdcopy opens 4 client connections, which share the contexts: only
# the filter's own locks keep them apart there.
start_nbdkit ser --filter="$filter" "$wbcache" size=64M serialize=requests \
  flush-delay=100 connections=4 segment-size=64K
grep -q 'using thread model: serialize_requests' "$tmp/ser.log" ||
  fail "the fixture did not make the model serialize_requests"
nbdcopy_4 nbdcopy-ser "$(uri ser)"
qemu-img compare -f raw -F raw "$tmp/src.raw" "$(uri ser)"
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri ser)"
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$(uri ser)"
# Two clients flushing at once: each flush visits every context and
# takes flush-delay on each, so they would meet on one without locks.
pids=()
for i in 1 2; do
  nbdsh -u "$(uri ser)" -c "h.pwrite(b'$i' * 65536, $i * 65536); h.flush()" &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || fail "a concurrent write and flush failed"
done
stop_server ser
if grep -F 'wbcache: overlap' "$tmp/ser.log"; then
  fail "two requests ran at once on one context"
fi

echo "== nbdkit -r"
start_nbdkit ro -r --filter="$filter" memory 16M connections=2
nbdsh -u "$(uri ro)" -c '
assert h.is_read_only()
h.pread(100000, 777)
'
stop_server ro

echo "== bad parameters and thread models"
refused ()
{
  local pattern=$1 out rc
  shift
  set +e
  out=$(nbdkit_to_end -U - "$@" --run 'nbdinfo "$uri"')
  rc=$?
  set -e
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "not refused (rc $rc): $*"
  grep -qE -- "$pattern" <<<"$out" || fail "expected /$pattern/ for $*: $out"
  echo "refused: $(grep -E -- "$pattern" <<<"$out" | head -1)"
}
refused 'connections=0: must be between 1 and 64' \
  --filter="$filter" memory 16M connections=0
refused 'segment-size=3M: must be a power of 2' \
  --filter="$filter" memory 16M segment-size=3M
refused 'segment-size=1Q: cannot parse' \
  --filter="$filter" memory 16M segment-size=1Q
refused "thread model is serialize_connections" \
  --filter="$filter" --filter=noparallel memory 16M serialize=connections
# A stripe that splits the plugin's blocks fails each client connection.
refused 'segment-size=32768 is not a multiple of the plugin.s minimum block size 65536' \
  --filter="$filter" --filter=blocksize-policy memory 16M \
  blocksize-minimum=64K blocksize-preferred=64K segment-size=32K
