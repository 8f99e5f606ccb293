#!/usr/bin/env bash
# The multicopy filter: over nbdkit's nbd plugin into the write-back-
# cache fixture (coherent, every upstream connection carries writes,
# flush reaches all in parallel, data in the store after flush); over
# the memory and file plugins with qemu-img and nbdcopy; directly over a
# serialize_requests plugin that reports two requests at once on one
# handle; bad parameters and thread models refused.
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
import os, random
random.seed(3)
h.connect_uri(os.environ["FL"])
assert not h.can_multi_conn(), "multi-conn over a non-multi-conn plugin"
model = bytearray(h.get_size())
for i in range(200):
    off = random.randrange(0, 3 << 20)
    data = os.urandom(random.randrange(1, 250000))
    h.pwrite(data, off)
    model[off:off+len(data)] = data
    ro = random.randrange(max(0, off - 70000), off + 1)
    assert h.pread(150000, ro) == model[ro:ro+150000], f"stale read after write {i}"
h.flush()
fresh = nbd.NBD(); fresh.connect_uri(os.environ["UP"])
assert fresh.pread(4 << 20, 0) == model[:4 << 20], "the store lacks flushed data"
print("filter over nbd: read-after-write ok, flushed data in the store")
'
"$top/tests/log-check.py" ownership "$tmp/up.trace" 65536 4 4
"$top/tests/log-check.py" flushes "$tmp/up.trace" 4

echo "== qemu-img convert through the filter over nbd"
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$FL"
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$UP"
stop_server fl
stop_server up

echo "== over memory: multi-conn advertised, nbdcopy uses 4 connections"
start_nbdkit mem --filter="$filter" memory 64M connections=4 segment-size=1M
nbdinfo --json "$(uri mem)" | grep -q '"can_multi_conn": true' ||
  fail "no multi-conn over the memory plugin"
nbdcopy -v --connections=4 --threads=4 --flush "$tmp/src.raw" "$(uri mem)" \
  2>"$tmp/nbdcopy.log"
grep -q 'connections=4' "$tmp/nbdcopy.log" || fail "nbdcopy used fewer connections"
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
start_nbdkit ser --filter="$filter" "$wbcache" size=64M serialize=requests \
  flush-delay=100 connections=4 segment-size=64K
grep -q 'using thread model: serialize_requests' "$tmp/ser.log" ||
  fail "the fixture did not make the model serialize_requests"
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri ser)"
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$(uri ser)"
nbdsh -u "$(uri ser)" -c 'h.flush(); h.flush()'
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
