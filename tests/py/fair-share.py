# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# How the places under a fixed max-in-flight are shared between
# clients that all want more than their share.
#
#   fair-share.py URI CLIENTS DEPTH SECONDS
#       CLIENTS connections each keep DEPTH 64K writes in flight, at
#       offsets of their own, for SECONDS; then prints the writes each
#       had acknowledged, one line, space-separated.
import sys
import time

import nbd

CHUNK = 65536


def main(uri, clients, depth, seconds):
    handles = []
    for i in range(clients):
        h = nbd.NBD()
        h.connect_uri(uri)
        handles.append(h)
    per = handles[0].get_size() // clients // CHUNK * CHUNK
    nxt = [i * per for i in range(clients)]
    acked = [0] * clients
    buf = bytearray(CHUNK)
    end = time.monotonic() + seconds

    def done(i, err):
        if err.value == 0 and time.monotonic() < end:
            acked[i] += 1
        return 1

    while time.monotonic() < end:
        for i, h in enumerate(handles):
            while h.aio_in_flight() < depth:
                off = nxt[i]
                nxt[i] = off + CHUNK if off + CHUNK < (i + 1) * per \
                    else i * per
                h.aio_pwrite(buf, off, lambda err, i=i: done(i, err))
            h.poll(10)
    # What is still in flight is not counted, but waited for: a
    # server stopped with writes in flight is not what this measures.
    for h in handles:
        while h.aio_in_flight() > 0:
            h.poll(-1)
    print(" ".join(str(a) for a in acked), flush=True)


main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
