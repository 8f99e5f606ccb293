#!/usr/bin/env bash
# Every operation through multicopy (3 connections, 64K stripes, odd
# offsets) against nbdkit memory without multi-conn, behind the log
# filter: data and flags arrive as sent, each piece within one stripe,
# each stripe on one connection; extents are clipped at the stripe;
# nbdkit -r serves read-only.
source "$(dirname "$0")/functions.sh"

seg=65536
start_nbdkit up --filter=log --filter=multi-conn memory 16M \
  multi-conn-mode=disable logfile="$tmp/up.trace"
start_multicopy mc up connections=3 segment-size=64K
export MC=$(uri mc) UP=$(uri up) SEG=$seg

nbdsh --base-allocation -u "$MC" -c '
import os, random
seg = int(os.environ["SEG"])
size = h.get_size()
assert size == 16 << 20
for cap in ("can_flush", "can_fua", "can_trim", "can_zero", "can_fast_zero",
            "can_cache", "can_multi_conn"):
    assert getattr(h, cap)(), cap
assert h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION)

model = bytearray(size)
def write(off, n, flags=0):
    data = os.urandom(n)
    h.pwrite(data, off, flags)
    model[off:off+n] = data
def check(off, n, what):
    assert h.pread(n, off) == model[off:off+n], what

# Odd offsets and lengths across 1, 2 and many stripes.
write(5 * seg - 3, 7, nbd.CMD_FLAG_FUA)
write(7 * seg + 11, 3 * seg + 1000)
write(seg - 1, 1)
check(0, 12 * seg, "odd writes")

# Zeroes with each flag, then trim, then cache: content is zero.
for off, n, flags in ((20 * seg + 512, 2 * seg, 0),
                      (24 * seg - 100, 300, nbd.CMD_FLAG_NO_HOLE),
                      (26 * seg + 4096, seg, nbd.CMD_FLAG_FAST_ZERO),
                      (28 * seg + 1, 3 * seg, nbd.CMD_FLAG_FUA)):
    write(off - 8, n + 16)
    h.zero(n, off, flags)
    model[off:off+n] = bytes(n)
    check(off - 8, n + 16, f"zero flags={flags}")
write(40 * seg, 4 * seg)
h.trim(2 * seg, 41 * seg)
model[41 * seg:43 * seg] = bytes(2 * seg)      # memory reads trims as zero
h.cache(5 * seg, 39 * seg + 77)
check(40 * seg, 4 * seg, "trim")
h.flush()

# Extents: asked across several stripes, answered up to the stripe end.
for off in (40 * seg + 100, 100 * seg, 5 * seg - 3):
    got = []
    def cb(ctx, o, entries, err):
        got.append((o, entries))
    h.block_status(4 * seg, off, cb)
    assert len(got) == 1, got
    o, entries = got[0]
    total = sum(entries[0::2])
    room = seg - off % seg
    assert o == off and 0 < total <= room, f"extents at {off:#x}: {entries}"
    print(f"extents at {off:#x}: {len(entries)//2} extent(s), {total:#x} bytes, stripe room {room:#x}")
print("data ok")
'

"$top/tests/log-check.py" ownership "$tmp/up.trace" "$seg" 3

# The log shows the flags as sent.
python3 - "$tmp/up.trace" "$seg" <<'EOF'
import re, sys
seg = int(sys.argv[2])
ops = {}
pat = re.compile(r"connection=\d+ (Write|Zero|Trim|Read|Cache|Extents) "
                 r"id=\d+ offset=(0x[0-9a-f]+) count=0x[0-9a-f]+(.*)")
for line in open(sys.argv[1]):
    m = pat.search(line)
    if m:
        ops.setdefault(m.group(1), []).append((int(m.group(2), 16), m.group(3)))
def flags_at(op, off):
    return [r for o, r in ops[op] if o == off][0]
assert "fua=1" in flags_at("Write", 5 * seg - 3) and "fua=1" in flags_at("Write", 5 * seg)
assert "fua=0" in flags_at("Write", 7 * seg + 11)
assert "trim=1 fua=0 fast=0" in flags_at("Zero", 20 * seg + 512)
assert "trim=0 fua=0 fast=0" in flags_at("Zero", 24 * seg - 100)
assert "trim=0 fua=0 fast=0" in flags_at("Zero", 24 * seg)
assert "fast=1" in flags_at("Zero", 26 * seg + 4096)
assert "fua=1" in flags_at("Zero", 28 * seg + 1) and "fua=1" in flags_at("Zero", 31 * seg)
assert len([o for o, r in ops["Trim"]]) == 2
assert len([o for o, r in ops["Cache"]]) == 6, ops["Cache"]
print(f"log: {sum(map(len, ops.values()))} pieces, flags as sent")
EOF

# Read-only: nbdkit -r refuses writes, still reads.
stop_server mc
start_nbdkit ro -r "$plugin" "$UP" connections=2
nbdsh -u "$(uri ro)" -c '
assert h.is_read_only()
assert len(h.pread(100000, 12345)) == 100000
try:
    h.pwrite(b"x", 0)
    raise SystemExit("write accepted on a read-only export")
except nbd.Error as e:
    print("read-only refuses writes:", e.string)
'
