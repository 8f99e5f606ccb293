# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Clients that write and never flush, and stay connected until the
# server goes away: what they saw acknowledged must reach the
# upstream's storage all the same.
#
#   hold-writes.py URI CLIENTS BYTES EXPECT-FILE
# Each of CLIENTS connections writes its own BYTES of random data (at
# offset i * BYTES) in 64K writes, none with FUA, and never flushes.
# EXPECT-FILE gets every byte that was acknowledged (the rest of the
# disk is expected to be zero).  Prints "written" when all is
# acknowledged, then waits until the server closes the connections.
import os
import sys
import time

import nbd

uri, clients, nbytes, expect = sys.argv[1:5]
clients, nbytes = int(clients), int(nbytes)
chunk = 65536

handles = []
for i in range(clients):
    h = nbd.NBD()
    h.connect_uri(uri)
    handles.append(h)
data = bytearray(os.urandom(clients * nbytes))
for i, h in enumerate(handles):
    base = i * nbytes
    for off in range(base, base + nbytes, chunk):
        h.pwrite(data[off:off + chunk], off)
with open(expect, "wb") as f:
    f.write(data)
print("written", flush=True)

# Until the server goes: a read fails then.
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        handles[0].pread(512, 0)
    except nbd.Error:
        break
    time.sleep(0.1)
