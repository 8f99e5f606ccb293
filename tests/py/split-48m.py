# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# A 48M write that qemu-nbd refuses when sent straight to it (its
# maximum is 32M) lands whole through multicopy, which splits it.
#
#   split-48m.py MULTICOPY-URI QEMU-NBD-URI
import os
import sys

import nbd

through, direct = sys.argv[1], sys.argv[2]
buf = os.urandom(48 << 20)
h = nbd.NBD()
# Straight to qemu-nbd the write is refused: the limit is real.
d = nbd.NBD()
d.connect_uri(direct)
try:
    d.pwrite(buf, 1 << 20)
    raise SystemExit("qemu-nbd accepted a 48M write; the test proves nothing")
except nbd.Error as e:
    print("direct 48M write refused as expected:", e.string)
# Through multicopy it is split and lands.
h.connect_uri(through)
h.pwrite(buf, 1 << 20)
h.flush()
assert h.pread(len(buf), 1 << 20) == buf, "48M write read back differs"
print("48M write through multicopy ok")
