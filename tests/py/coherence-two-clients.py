# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Two clients of multicopy over an upstream without multi-conn: every
# read sees the writes before it, without a flush, through either
# client; a flush on one client makes the other's writes durable.
#
#   coherence-two-clients.py MULTICOPY-URI UPSTREAM-URI
import os
import random
import sys

import nbd

mc, up = sys.argv[1], sys.argv[2]
random.seed(7)
h = nbd.NBD()
size = 64 << 20
model = bytearray(size)
h.connect_uri(mc)
h2 = nbd.NBD(); h2.connect_uri(mc)
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
fresh = nbd.NBD(); fresh.connect_uri(up)
for off in range(0, 5 << 20, 1 << 20):
    assert fresh.pread(1 << 20, off) == model[off:off + (1 << 20)], \
        f"after flush, the store lacks data at {off:#x}"
print("read-after-write and flush coverage ok over 300 writes")
