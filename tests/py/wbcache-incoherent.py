# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The wbcache fixture used directly over two connections really is
# incoherent: a connection reads its stale copy of a block another one
# rewrote and flushed, and unflushed writes are lost on disconnect.
# Otherwise the coherence tests through multicopy would prove nothing.
#
#   wbcache-incoherent.py UPSTREAM-URI
import sys

import nbd

up = sys.argv[1]
a, b = nbd.NBD(), nbd.NBD()
a.connect_uri(up); b.connect_uri(up)
assert b.pread(4096, 0) == bytes(4096)     # b now caches block 0
a.pwrite(b"A" * 4096, 0)
a.flush()
assert a.pread(4096, 0) == b"A" * 4096
assert b.pread(4096, 0) == bytes(4096), "fixture is coherent: test is void"
a.pwrite(b"L" * 4096, 8192)                 # never flushed...
a.shutdown()                                # ...and lost on disconnect
c = nbd.NBD(); c.connect_uri(up)
assert c.pread(4096, 8192) == bytes(4096), "fixture kept unflushed data"
assert c.pread(4096, 0) == b"A" * 4096
print("fixture: stale reads across connections, unflushed data lost")
