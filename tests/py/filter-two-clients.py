# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Two clients of the filter over a per-connection write-back cache:
# each reads back the other's writes at once, one flush makes both
# clients' writes durable, and the last client out flushes what it
# left unflushed.
#
#   filter-two-clients.py FILTER-URI UPSTREAM-URI
import os
import random
import sys
import time

import nbd

fl, up = sys.argv[1], sys.argv[2]
random.seed(3)


def connect(uri):
    h = nbd.NBD()
    h.connect_uri(uri)
    return h


a = connect(fl)
assert a.can_multi_conn(), "no multi-conn although all clients share contexts"
b = connect(fl)
model = bytearray(a.get_size())
for i in range(200):
    w, r = (a, b) if i % 2 else (b, a)
    off = random.randrange(0, 3 << 20)
    data = os.urandom(random.randrange(1, 250000))
    w.pwrite(data, off)
    model[off:off + len(data)] = data
    ro = random.randrange(max(0, off - 70000), off + 1)
    assert r.pread(150000, ro) == model[ro:ro + 150000], \
        f"a client did not see the other client's write {i}"
b.flush()
fresh = connect(up)
assert fresh.pread(4 << 20, 0) == model[:4 << 20], \
    "a flush on one client did not make the other's writes durable"
fresh.shutdown()
print("two clients: each sees the other's writes, one flush covers both")

# Unflushed writes when the last client leaves: the upstream drops what
# its connections did not flush, so the filter must flush them.
tail = os.urandom(1 << 20)
a.pwrite(tail, 5 << 20)
b.shutdown()
a.shutdown()
for _ in range(100):
    fresh = connect(up)
    got = fresh.pread(1 << 20, 5 << 20)
    fresh.shutdown()
    if got == tail:
        break
    time.sleep(0.1)
else:
    raise AssertionError("writes left unflushed by the last client were lost")
print("the last client out: its unflushed writes were flushed")
