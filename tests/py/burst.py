# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# N writes of SIZE bytes, each at its own offset, all sent at once
# (queue depth N), then read back and compared.
#
#   burst.py URI N SIZE
import os
import sys

import nbd

uri, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
h = nbd.NBD()
h.connect_uri(uri)
data = [os.urandom(size) for _ in range(n)]
bufs = [nbd.Buffer.from_bytearray(bytearray(d)) for d in data]
for i, b in enumerate(bufs):
    h.aio_pwrite(b, i * size)
while h.aio_in_flight() > 0:
    h.poll(-1)
for i, d in enumerate(data):
    assert h.pread(size, i * size) == d, f"write {i} reads back wrong"
h.flush()
print(f"{n} writes of {size} bytes at once: read back right")
