# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Every operation through multicopy, with odd offsets and lengths over
# 1, 2 and many stripes, against a model; flags as the capabilities
# say; extents answered up to the end of the stripe that owns offset.
#
#   ops.py MULTICOPY-URI STRIPE-SIZE
import os
import sys

import nbd

h = nbd.NBD()
h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
h.connect_uri(sys.argv[1])
seg = int(sys.argv[2])
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
