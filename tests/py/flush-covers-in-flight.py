# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# A flush that finds a connection clean because another client's flush
# has taken its mark, still in flight, must not return before that
# flush is done: what it covers is what this one promises too.  Two
# such flushes at once (clients b and c) wait for it, and send none of
# their own (the shell counts the upstream's flushes).
#
#   flush-covers-in-flight.py URI STORE OFFSET
# The upstream keeps writes in a cache until a flush (flush-delay=1000)
# writes them to STORE; OFFSET is the start of a stripe.
import os
import sys
import time

import nbd

uri, store, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = os.urandom(65536)


def connect():
    h = nbd.NBD()
    h.connect_uri(uri)
    return h


a, b, c = connect(), connect(), connect()
a.pwrite(data, off)
cookie = a.aio_flush()
time.sleep(0.3)               # a's flush is out, and slow
t0 = time.monotonic()
waiting = [(b, b.aio_flush()), (c, c.aio_flush())]
while waiting:
    h, ck = waiting[0]
    if h.aio_command_completed(ck):
        waiting.pop(0)
    else:
        h.poll(1)
took = time.monotonic() - t0
with open(store, "rb") as f:
    f.seek(off)
    on_store = f.read(len(data))
print(f"b's and c's flushes took {took:.2f}s")
assert on_store == data, \
    "a flush returned before the write it covers reached the store"
while not a.aio_command_completed(cookie):
    a.poll(1)
for h in (a, b, c):
    h.shutdown()
