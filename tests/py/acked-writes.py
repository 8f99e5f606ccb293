# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Writes that a client saw acknowledged, recorded so that a test can
# check afterwards that each reached the upstream's storage.
#
#   acked-writes.py write URI CLIENTS DEPTH RECORD
#       CLIENTS connections each keep DEPTH 64K writes in flight, at
#       offsets of their own, never flushing, until the server goes
#       away or the disk is full.  Every write acknowledged is
#       appended to RECORD (its offset) as soon as its reply comes.
#       Prints "busy" once every client has had a write acknowledged.
#   acked-writes.py check URI RECORD
#       Every recorded write holds its data at URI (a fresh
#       connection to the upstream).
import hashlib
import sys

import nbd

CHUNK = 65536


def pattern(off):
    return hashlib.sha256(str(off).encode()).digest() * (CHUNK // 32)


def write(uri, clients, depth, record):
    out = open(record, "w")
    handles = []
    for i in range(clients):
        h = nbd.NBD()
        h.connect_uri(uri)
        handles.append(h)
    size = handles[0].get_size()
    per = size // clients // CHUNK * CHUNK
    nxt = [i * per for i in range(clients)]
    end = [(i + 1) * per for i in range(clients)]
    acked = [0] * clients
    told = False

    def done(i, off, err):
        if err.value == 0:
            out.write(f"{off}\n")
            out.flush()
            acked[i] += 1
        return 1

    def issue(i):
        off = nxt[i]
        nxt[i] += CHUNK
        handles[i].aio_pwrite(pattern(off), off,
                              lambda err: done(i, off, err))

    # The first writes in turns, one client's after another's: the
    # server queues them in the order they come.
    for _ in range(depth):
        for i in range(clients):
            issue(i)
    alive = set(range(clients))
    while alive:
        for i in list(alive):
            h = handles[i]
            try:
                while h.aio_in_flight() < depth and nxt[i] < end[i]:
                    issue(i)
                if h.aio_in_flight() == 0:
                    alive.discard(i)
                    continue
                h.poll(100)
            except nbd.Error:
                alive.discard(i)
        if not told and all(acked):
            print("busy", flush=True)
            told = True
    print("acknowledged:", sum(acked), flush=True)


def check(uri, record):
    h = nbd.NBD()
    h.connect_uri(uri)
    offs = [int(line) for line in open(record)]
    lost = [off for off in offs if h.pread(CHUNK, off) != pattern(off)]
    assert offs, "nothing was acknowledged: the test is void"
    assert not lost, (f"{len(lost)} of {len(offs)} acknowledged writes "
                      f"lost, at {lost[:8]}...")
    print(f"all {len(offs)} acknowledged writes are in the store")


if sys.argv[1] == "write":
    write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
else:
    check(sys.argv[2], sys.argv[3])
